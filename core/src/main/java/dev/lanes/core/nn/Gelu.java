package dev.lanes.core.nn;

import dev.lanes.kernels.Activations;
import dev.lanes.kernels.Parallelism;

/**
 * GELU with the tanh approximation used by GPT-2 (Hendrycks and Gimpel 2016; PyTorch's
 * {@code approximate="tanh"}):
 *
 * <pre>
 *   x, y: (n) contiguous;  y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 * </pre>
 *
 * Delegates to {@link Activations} (vectorised, finite for every finite x); the overloads without a
 * {@link Parallelism} run serially, the others split n into fixed chunks with the same bits.
 */
public final class Gelu {
    private Gelu() {}

    /** y = gelu(x); y may be x itself (same offset). */
    public static void forward(int n, float[] x, int xOff, float[] y, int yOff) {
        Activations.geluForward(Parallelism.serial(), n, x, xOff, y, yOff);
    }

    /** y = gelu(x) on the given team; y may be x itself (same offset). */
    public static void forward(Parallelism par, int n, float[] x, int xOff, float[] y, int yOff) {
        Activations.geluForward(par, n, x, xOff, y, yOff);
    }

    /** dx += gelu'(x) * dy (forward line: y = 0.5 x (1 + tanh(u)), u = K (x + C x^3)). */
    public static void backward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        Activations.geluBackward(Parallelism.serial(), n, dy, dyOff, x, xOff, dx, dxOff);
    }

    /** dx += gelu'(x) * dy on the given team. */
    public static void backward(Parallelism par, int n, float[] dy, int dyOff, float[] x, int xOff,
                                float[] dx, int dxOff) {
        Activations.geluBackward(par, n, dy, dyOff, x, xOff, dx, dxOff);
    }
}
