package dev.lanes.core.nn;

import dev.lanes.kernels.Checks;
import dev.lanes.kernels.Overlap;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Transpose;

/**
 * A fully connected layer on the fast GEMM, with the residual add fused into the store:
 *
 * <pre>
 *   x:    (rows, in),  row stride ldx             (rows = B*T)
 *   w:    (in, out),   row stride ldw
 *   bias: (out), optional;  res: (rows, out), optional, row stride ldr
 *   y:    (rows, out), row stride ldy
 *   y = x * w + bias + res
 * </pre>
 *
 * Validation is the GEMM's: it names the operands a (x), b (w), c (y), bias and res.
 */
public final class Linear {
    private Linear() {}

    public static void forward(Parallelism par, int rows, int in, int out, float[] x, int xOff, int ldx,
                               float[] w, int wOff, int ldw, float[] bias, int biasOff,
                               float[] res, int rOff, int ldr, float[] y, int yOff, int ldy) {
        Gemm.sgemmFused(par, Transpose.N, Transpose.N, rows, out, in, 1f, x, xOff, ldx, w, wOff, ldw, 0f,
                bias, biasOff, res, rOff, ldr, y, yOff, ldy);
    }

    /**
     * Backward, ACCUMULATING (any of dx, dw, dbias may be null to skip it):
     *
     * <pre>
     *   dx    += dy * w^T      (rows, in)
     *   dw    += x^T * dy      (in, out)
     *   dbias += sum_rows dy   (out)
     * </pre>
     *
     * The residual input's gradient is dy itself; the caller adds it where the residual came from.
     */
    public static void backward(Parallelism par, int rows, int in, int out, float[] dy, int dyOff, int lddy,
                                float[] x, int xOff, int ldx, float[] w, int wOff, int ldw,
                                float[] dx, int dxOff, int lddx, float[] dw, int dwOff, int lddw,
                                float[] dbias, int dbOff) {
        // Validate every operand before writing any output.
        Checks.team(par);
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("in", in);
        Checks.nonNegative("out", out);
        Checks.matrix("dy", dy, dyOff, lddy, "lddy", rows, out, "out");
        Checks.matrix("x", x, xOff, ldx, "ldx", rows, in, "in");
        Checks.matrix("w", w, wOff, ldw, "ldw", in, out, "out");
        if (dx != null) {
            Checks.matrix("dx", dx, dxOff, lddx, "lddx", rows, in, "in");
        }
        if (dw != null) {
            Checks.matrix("dw", dw, dwOff, lddw, "lddw", in, out, "out");
        }
        if (dbias != null) {
            Checks.vector("dbias", dbias, dbOff, out);
        }
        Overlap.views().input("dy", dy, dyOff, rows, out, lddy).input("x", x, xOff, rows, in, ldx)
                .input("w", w, wOff, in, out, ldw).output("dx", dx, dxOff, rows, in, lddx)
                .output("dw", dw, dwOff, in, out, lddw).output("dbias", dbias, dbOff, out).check();
        if (dbias != null) {
            ResidualAdd.backward(rows, out, 1f, dy, dyOff, lddy, null, 0, 0, null, 0, 0, dbias, dbOff);
        }
        if (dx != null) {
            Gemm.sgemm(par, Transpose.N, Transpose.T, rows, in, out, 1f, dy, dyOff, lddy, w, wOff, ldw, 1f, dx, dxOff, lddx);
        }
        if (dw != null) {
            Gemm.sgemm(par, Transpose.T, Transpose.N, in, out, rows, 1f, x, xOff, ldx, dy, dyOff, lddy, 1f, dw, dwOff, lddw);
        }
    }
}
