package dev.lanes.core.nn;

import dev.lanes.kernels.Checks;

/**
 * GELU with the tanh approximation used by GPT-2 (Hendrycks and Gimpel 2016; PyTorch's
 * {@code approximate="tanh"}):
 *
 * <pre>
 *   x, y: (n) contiguous;  y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 * </pre>
 */
public final class Gelu {
    private static final float K = (float) Math.sqrt(2.0 / Math.PI);
    private static final float C = 0.044715f;

    private Gelu() {}

    /** y = gelu(x); y may be x itself (same offset). */
    public static void forward(int n, float[] x, int xOff, float[] y, int yOff) {
        Checks.nonNegative("n", n);
        Checks.vector("x", x, xOff, n);
        Checks.vector("y", y, yOff, n);
        Checks.noPartialOverlap("y", y, yOff, n, "x", x, xOff, n, 1, n);
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            float u = K * (v + C * v * v * v);
            y[yOff + i] = 0.5f * v * (1f + (float) Math.tanh(u));
        }
    }

    /** dx += gelu'(x) * dy (forward line: y = 0.5 x (1 + tanh(u)), u = K (x + C x^3)). */
    public static void backward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        Checks.nonNegative("n", n);
        Checks.vector("dy", dy, dyOff, n);
        Checks.vector("x", x, xOff, n);
        Checks.vector("dx", dx, dxOff, n);
        Checks.noPartialOverlap("dx", dx, dxOff, n, "x", x, xOff, n, 1, n);
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            float u = K * (v + C * v * v * v);
            float t = (float) Math.tanh(u);
            float sech2 = 1f - t * t;
            float local = 0.5f * (1f + t) + 0.5f * v * sech2 * K * (1f + 3f * C * v * v);
            dx[dxOff + i] += local * dy[dyOff + i];
        }
    }
}
