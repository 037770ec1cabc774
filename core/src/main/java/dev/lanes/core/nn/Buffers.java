package dev.lanes.core.nn;

/**
 * The flat arrays one training {@link Gpt} runs on, and the slots of the backward's scratch arena.
 *
 * <pre>
 *   params, grads: ParamLayout order                each block owns its tensors' offsets
 *   acts:          the activations backward needs   each block owns its slots (taken from an Arena)
 *   scratch:       gradients of activations, (BT, width) each, reused by every layer:
 *                  dResid (BT, C) the residual stream's, dLn (BT, C) a norm output's,
 *                  dQkv (BT, W), dAtt (BT, A), dFch (BT, F), dLogits (BT, V), dLoss (BT)
 * </pre>
 */
final class Buffers {
    final int rows;
    final float[] params, grads, acts, scratch;
    final int dResid, dLn, dQkv, dAtt, dFch, dLogits, dLoss;

    Buffers(GptConfig cfg, int rows, float[] params, float[] grads, float[] acts) {
        this.rows = rows;
        this.params = params;
        this.grads = grads;
        this.acts = acts;
        Arena s = new Arena("backward scratch");
        long rc = (long) rows * cfg.dim();
        dResid = s.slot(rc);
        dLn = s.slot(rc);
        dQkv = s.slot((long) rows * cfg.qkvDim());
        dAtt = s.slot((long) rows * cfg.attnDim());
        dFch = s.slot((long) rows * cfg.mlpDim());
        dLogits = s.slot((long) rows * cfg.vocab());
        dLoss = s.slot(rows);
        scratch = s.allocate();
    }
}
