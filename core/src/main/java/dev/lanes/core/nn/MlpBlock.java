package dev.lanes.core.nn;

import dev.lanes.kernels.Activations;
import dev.lanes.kernels.Parallelism;

/**
 * The MLP half of block l, pre-norm, the residual added in the second projection's store:
 *
 * <pre>
 * legend: rows = B*T, C dim, F mlpDim
 *   h2 = Norm2(xm)                  (rows, C)    ln2, ln2Mean, ln2Rstd
 *   u  = h2 W1 + b1                 (rows, F)    fch
 *   g  = GELU_tanh(u)               (rows, F)    fchGelu
 *   y  = xm + g W2 + b2             (rows, C)
 * </pre>
 *
 * Owns ln2, W1, b1, W2, b2 in the parameter arena and, for training, the slots named above in the
 * activation arena. {@link GptSampler} runs the same {@link #forward(Parallelism, int, float[], float[], int, float[], int, float[], int, int, float[], int, float[], int)}
 * on its own buffers.
 */
final class MlpBlock {
    private final int C, F;
    private final Norm norm2;
    private final Linear fc, proj;
    // training: slots in the activation arena (-1 when decoding)
    private final int rows;
    private final int ln2, ln2Mean, ln2Rstd, fch, fchGelu;
    private Buffers b;

    /** Layer l's MLP for decoding: parameters only. */
    MlpBlock(GptConfig cfg, ParamLayout layout, int l) {
        this(cfg, layout, l, 0, null);
    }

    /** Layer l's MLP for training on {@code rows} rows, its slots taken from acts. */
    MlpBlock(GptConfig cfg, ParamLayout layout, int l, int rows, Arena acts) {
        C = cfg.dim();
        F = cfg.mlpDim();
        String p = "h." + l + ".";
        norm2 = new Norm(cfg, layout, p + "ln2");
        fc = new Linear(C, F, layout.get(p + "mlp.w1").offset(), layout.get(p + "mlp.b1").offset());
        proj = new Linear(F, C, layout.get(p + "mlp.w2").offset(), layout.get(p + "mlp.b2").offset());
        this.rows = rows;
        if (acts == null) {
            ln2 = ln2Mean = ln2Rstd = fch = fchGelu = -1;
            return;
        }
        long rc = (long) rows * C, rf = (long) rows * F;
        ln2 = acts.slot(rc);
        ln2Mean = acts.slot(rows);
        ln2Rstd = acts.slot(rows);
        fch = acts.slot(rf);
        fchGelu = acts.slot(rf);
    }

    /** The training arrays, once they exist. */
    void bind(Buffers buffers) {
        b = buffers;
    }

    /**
     * The forward over n rows on explicit buffers: xm in, h2, stats, u, g scratch, y out. g may be u
     * itself (the decoder keeps no pre-activation).
     */
    void forward(Parallelism par, int n, float[] params, float[] xm, int xmOff, float[] h2, int h2Off,
                 float[] stats, int meanOff, int rstdOff, float[] u, int uOff, float[] g, int gOff, float[] y, int yOff) {
        norm2.forward(par, n, params, xm, xmOff, h2, h2Off, stats, meanOff, rstdOff);
        fc.forward(par, n, params, 0, h2, h2Off, null, 0, u, uOff);
        Activations.geluForward(par, n * F, u, uOff, g, gOff);
        proj.forward(par, n, params, 0, g, gOff, xm, xmOff, y, yOff);
    }

    /** Training forward: the block's input xm at {@code acts[xm ..]}, its output y to {@code acts[y ..]}. */
    void forward(Parallelism par, int xm, int y) {
        float[] acts = b.acts;
        forward(par, rows, b.params, acts, xm, acts, ln2, acts, ln2Mean, ln2Rstd, acts, fch, acts, fchGelu, acts, y);
    }

    /**
     * Backward of the training forward on the same xm: on entry {@code scratch[dResid ..]} holds dy, on
     * exit dxm; parameter gradients ACCUMULATE. Uses the scratch slots dFch and dLn, which it overwrites
     * (each is the one gradient of its activation: nothing else adds to it).
     */
    void backward(Parallelism par, int xm) {
        float[] s = b.scratch, acts = b.acts;
        // y = xm + g W2 + b2: dxm = dy (stays in dResid), dg = dy W2^T (into dFch)
        proj.backwardOverwrite(par, rows, b.params, 0, b.grads, 0, s, b.dResid, acts, fchGelu, s, b.dFch);
        // g = GELU(u): du = GELU'(u) * dg, in place
        Activations.geluBackwardInPlace(par, rows * F, acts, fch, s, b.dFch);
        // u = h2 W1 + b1: dh2 = du W1^T (overwriting dLn)
        fc.backwardOverwrite(par, rows, b.params, 0, b.grads, 0, s, b.dFch, acts, ln2, s, b.dLn);
        // h2 = Norm2(xm): dxm += Norm2'(dh2)
        norm2.backward(par, rows, b.params, b.grads, s, b.dLn, acts, xm, acts, ln2Mean, ln2Rstd, s, b.dResid);
    }
}
