package dev.lanes.kernels;

/**
 * Scalar twin of {@link Activations}: the same contract, every element computed in {@code double}
 * from the sigmoid form {@code 0.5 (1 + tanh u) = 1 / (1 + exp(-2u))} and rounded once. The oracle of
 * the differential tests and the fallback without the Vector API.
 */
public final class ActivationsScalar {
    private static final double K = Math.sqrt(2.0 / Math.PI);
    private static final double C = 0.044715;

    private ActivationsScalar() {}

    /** Same contract and validation as {@link Activations#geluForward(int, float[], int, float[], int)}. */
    public static void geluForward(int n, float[] x, int xOff, float[] y, int yOff) {
        Activations.checkForward(n, x, xOff, y, yOff);
        geluForwardUnchecked(n, x, xOff, y, yOff);
    }

    /** Same contract and validation as {@link Activations#geluBackward(int, float[], int, float[], int, float[], int)}. */
    public static void geluBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        Activations.checkBackward(n, dy, dyOff, x, xOff, dx, dxOff);
        geluBackwardUnchecked(n, dy, dyOff, x, xOff, dx, dxOff);
    }

    /** Same contract and validation as {@link Activations#geluBackwardInPlace(int, float[], int, float[], int)}. */
    public static void geluBackwardInPlace(int n, float[] x, int xOff, float[] d, int dOff) {
        Activations.checkInPlace(n, x, xOff, d, dOff);
        geluBackwardIntoUnchecked(n, d, dOff, x, xOff, d, dOff);
    }

    static void geluForwardUnchecked(int n, float[] x, int xOff, float[] y, int yOff) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            double s = 1.0 / (1.0 + Math.exp(-2.0 * K * (v + C * v * v * v))); // 0.5 (1 + tanh u)
            y[yOff + i] = (float) (v * s);
        }
    }

    static void geluBackwardUnchecked(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        for (int i = 0; i < n; i++) {
            dx[dxOff + i] = (float) (dx[dxOff + i] + geluGrad(x[xOff + i]) * dy[dyOff + i]);
        }
    }

    /** {@code dx = gelu'(x) * dy}, overwriting; dx may be dy (same offset). */
    static void geluBackwardIntoUnchecked(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        for (int i = 0; i < n; i++) {
            dx[dxOff + i] = (float) (geluGrad(x[xOff + i]) * dy[dyOff + i]);
        }
    }

    /** gelu'(v) in double. */
    private static double geluGrad(double v) {
        double s = 1.0 / (1.0 + Math.exp(-2.0 * K * (v + C * v * v * v)));
        // d/dx [x sigmoid(2u)] = s + x * s (1 - s) * 2 du/dx; s (1 - s) = (1 - tanh^2 u) / 4
        return s + 2.0 * K * v * s * (1.0 - s) * (1.0 + 3.0 * C * v * v);
    }
}
