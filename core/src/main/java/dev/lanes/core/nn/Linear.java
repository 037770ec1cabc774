package dev.lanes.core.nn;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Overlap;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Transpose;

/**
 * A fully connected layer whose weight and bias live in a flat parameter array (and their gradients at
 * the same places in a gradient array), on the fast GEMM with the residual add fused into the store:
 *
 * <pre>
 *   x:    (rows, in)    contiguous rows           (rows = B*T)
 *   w:    (in, out)     params[pOff + weight ..]  dw: grads[gOff + weight ..]
 *   bias: (out)         params[pOff + bias ..]    dbias: grads[gOff + bias ..]   (bias = -1: none)
 *   res:  (rows, out)   optional, contiguous rows
 *   y:    (rows, out)   contiguous rows
 *   y = x * w + bias + res
 * </pre>
 *
 * Both directions validate every operand before writing any, naming the views x, res, y, dy, dx,
 * params.w, params.bias, grads.w and grads.bias. For other strides call {@link Gemm} directly: its
 * {@code (array, offset, ld)} signatures are the BLAS contract.
 */
public final class Linear {
    private final int in, out, weight, bias;

    /**
     * The layer {@code in -> out} whose w starts {@code weight} floats into its parameters and whose bias
     * starts {@code bias} floats in, or which has no bias when {@code bias == -1}.
     */
    public Linear(int in, int out, int weight, int bias) {
        Checks.nonNegative("in", in);
        Checks.nonNegative("out", out);
        Checks.nonNegative("weight", weight);
        if (bias < -1) {
            throw new IllegalArgumentException("bias=" + bias + " must be an offset >= 0, or -1 for none");
        }
        this.in = in;
        this.out = out;
        this.weight = weight;
        this.bias = bias;
    }

    /** {@code y = x w + bias (+ res)} over {@code rows} rows; res may be null. */
    public void forward(Parallelism par, int rows, float[] params, int pOff, float[] x, int xOff, float[] res,
                        int resOff, float[] y, int yOff) {
        Checks.team(par);
        Checks.nonNegative("rows", rows);
        Checks.matrix("x", x, xOff, in, "in", rows, in, "in");
        checkParams("pOff", "params.w", "params.bias", params, pOff);
        if (res != null) {
            Checks.matrix("res", res, resOff, out, "out", rows, out, "out");
        }
        Checks.matrix("y", y, yOff, out, "out", rows, out, "out");
        Overlap.views().input("x", x, xOff, rows, in, in).input("params.w", params, pOff + weight, in, out, out)
                .input("params.bias", bias < 0 ? null : params, pOff + bias, out).input("res", res, resOff, rows, out, out)
                .output("y", y, yOff, rows, out, out).check();
        Gemm.sgemmFused(par, Transpose.N, Transpose.N, rows, out, in, 1f, x, xOff, in, params, pOff + weight, out, 0f,
                bias < 0 ? null : params, pOff + Math.max(bias, 0), res, resOff, out, y, yOff, out);
    }

    /**
     * Backward of {@link #forward}, ACCUMULATING (dx may be null to skip it):
     *
     * <pre>
     *   dx    += dy * w^T      (rows, in)
     *   dw    += x^T * dy      (in, out)    grads[gOff + weight ..]
     *   dbias += sum_rows dy   (out)        grads[gOff + bias ..]
     * </pre>
     *
     * The residual input's gradient is dy itself; the caller adds it where the residual came from.
     */
    public void backward(Parallelism par, int rows, float[] params, int pOff, float[] grads, int gOff,
                         float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        checkBackward(par, rows, params, pOff, grads, gOff, dy, dyOff, x, xOff, dx, dxOff);
        // y = x w + bias + res
        if (dx != null) {
            Gemm.sgemm(par, Transpose.N, Transpose.T, rows, in, out, 1f, dy, dyOff, out, params, pOff + weight, out, 1f,
                    dx, dxOff, in);
        }
        weightGrads(par, rows, grads, gOff, dy, dyOff, x, xOff);
    }

    /**
     * {@link #backward} OVERWRITING dx ({@code dx = dy w^T}, the GEMM with beta 0): for an activation
     * gradient nothing else adds to, which then needs no zeroing first. dw and dbias accumulate.
     */
    void backwardOverwrite(Parallelism par, int rows, float[] params, int pOff, float[] grads, int gOff,
                           float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        checkBackward(par, rows, params, pOff, grads, gOff, dy, dyOff, x, xOff, dx, dxOff);
        Gemm.sgemm(par, Transpose.N, Transpose.T, rows, in, out, 1f, dy, dyOff, out, params, pOff + weight, out, 0f,
                dx, dxOff, in);
        weightGrads(par, rows, grads, gOff, dy, dyOff, x, xOff);
    }

    /** {@code dw += x^T dy; dbias += sum_rows dy}. */
    private void weightGrads(Parallelism par, int rows, float[] grads, int gOff, float[] dy, int dyOff, float[] x, int xOff) {
        Gemm.sgemm(par, Transpose.T, Transpose.N, in, out, rows, 1f, x, xOff, in, dy, dyOff, out, 1f,
                grads, gOff + weight, out);
        if (bias >= 0) {
            ResidualAdd.backward(rows, out, 1f, dy, dyOff, out, null, 0, 0, null, 0, 0, grads, gOff + bias);
        }
    }

    /** Validates every operand of a backward before any output is written. */
    private void checkBackward(Parallelism par, int rows, float[] params, int pOff, float[] grads, int gOff,
                               float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        Checks.team(par);
        Checks.nonNegative("rows", rows);
        Checks.matrix("dy", dy, dyOff, out, "out", rows, out, "out");
        Checks.matrix("x", x, xOff, in, "in", rows, in, "in");
        checkParams("pOff", "params.w", "params.bias", params, pOff);
        if (dx != null) {
            Checks.matrix("dx", dx, dxOff, in, "in", rows, in, "in");
        }
        checkParams("gOff", "grads.w", "grads.bias", grads, gOff);
        Overlap.views().input("dy", dy, dyOff, rows, out, out).input("x", x, xOff, rows, in, in)
                .input("params.w", params, pOff + weight, in, out, out)
                .input("params.bias", bias < 0 ? null : params, pOff + bias, out)
                .output("dx", dx, dxOff, rows, in, in).output("grads.w", grads, gOff + weight, in, out, out)
                .output("grads.bias", bias < 0 ? null : grads, gOff + bias, out).check();
    }

    /** w (in, out) and the bias (out) inside the layer's parameters (or gradients) p from off; names are literals. */
    private void checkParams(String offName, String wName, String biasName, float[] p, int off) {
        Checks.nonNegative(offName, off);
        Checks.matrix(wName, p, off + weight, out, "out", in, out, "out");
        if (bias >= 0) {
            Checks.vector(biasName, p, off + bias, out);
        }
    }
}
