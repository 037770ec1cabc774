package dev.lanes.core.nn;

import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;

/**
 * One norm of the stack (ln1, ln2 of a block, or the final lnf), {@link NormKind#LAYER} or
 * {@link NormKind#RMS} as the config says, over rows of width C with row stride C:
 *
 * <pre>
 *   LAYER:  y = (x - mean) * rstd * g + b      saves mean, rstd: (rows)
 *   RMS:    y = x * rstd * g                   saves rstd: (rows)
 * </pre>
 *
 * Owns the offsets of its gain g and bias b (-1 under RMS) in the parameter arena; the kernels are
 * {@link Norms}' (validation, threads, same bits for any team).
 */
final class Norm {
    private final NormKind kind;
    private final int C;
    private final float eps;
    private final int gain, bias;

    /** The norm whose parameters are {@code prefix + ".g"} and {@code prefix + ".b"}. */
    Norm(GptConfig cfg, ParamLayout layout, String prefix) {
        kind = cfg.norm();
        C = cfg.dim();
        eps = cfg.normEps();
        gain = layout.get(prefix + ".g").offset();
        bias = layout.offsetOrMinus1(prefix + ".b");
    }

    /** {@code y = Norm(x)} over {@code rows} rows; mean (LAYER only) and rstd go to stats at meanOff and rstdOff. */
    void forward(Parallelism par, int rows, float[] params, float[] x, int xOff, float[] y, int yOff,
                 float[] stats, int meanOff, int rstdOff) {
        if (kind == NormKind.LAYER) {
            Norms.layerNormForward(par, rows, C, eps, x, xOff, C, params, gain, params, bias, y, yOff, C,
                    stats, meanOff, stats, rstdOff);
        } else {
            Norms.rmsNormForward(par, rows, C, eps, x, xOff, C, params, gain, y, yOff, C, stats, rstdOff);
        }
    }

    /**
     * Backward of {@link #forward} on the same x and stats: {@code dx += Norm'(dy)}, and the gain and bias
     * gradients ACCUMULATE into grads.
     */
    void backward(Parallelism par, int rows, float[] params, float[] grads, float[] dy, int dyOff, float[] x, int xOff,
                  float[] stats, int meanOff, int rstdOff, float[] dx, int dxOff) {
        if (kind == NormKind.LAYER) {
            Norms.layerNormBackward(par, rows, C, dy, dyOff, C, x, xOff, C, params, gain, stats, meanOff, stats, rstdOff,
                    dx, dxOff, C, grads, gain, grads, bias);
        } else {
            Norms.rmsNormBackward(par, rows, C, dy, dyOff, C, x, xOff, C, params, gain, stats, rstdOff,
                    dx, dxOff, C, grads, gain);
        }
    }
}
