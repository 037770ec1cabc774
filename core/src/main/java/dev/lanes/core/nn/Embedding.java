package dev.lanes.core.nn;

/**
 * Token plus position embedding, the stack's input:
 *
 * <pre>
 *   wte: (V, C)   wpe: (Tmax, C)   tokens: (rows)   x: (rows, C)
 *   x[r] = wte[tokens[r]] + wpe[pos0 + r % seqLen]
 * </pre>
 *
 * Owns the offsets of wte (shared with the tied {@link Head}) and wpe. Callers validate the tokens.
 */
final class Embedding {
    private final int C, wte, wpe;

    Embedding(GptConfig cfg, ParamLayout layout) {
        C = cfg.dim();
        wte = layout.get("wte").offset();
        wpe = layout.get("wpe").offset();
    }

    /** Row r of x (from xOff) embeds tokens[tOff + r] at position pos0 + r % seqLen. */
    void forward(float[] params, int[] tokens, int tOff, int rows, int seqLen, int pos0, float[] x, int xOff) {
        for (int r = 0; r < rows; r++) {
            int e = wte + tokens[tOff + r] * C, p = wpe + (pos0 + r % seqLen) * C, y = xOff + r * C;
            for (int j = 0; j < C; j++) {
                x[y + j] = params[e + j] + params[p + j];
            }
        }
    }

    /**
     * Backward of {@link #forward} with pos0 = 0: dwte and dwpe ACCUMULATE dx, row by row in order, so the
     * bits do not depend on the team.
     */
    void backward(float[] grads, int[] tokens, int rows, int seqLen, float[] dx, int dxOff) {
        for (int r = 0; r < rows; r++) {
            // x[r] = wte[tok] + wpe[t]
            int e = wte + tokens[r] * C, p = wpe + (r % seqLen) * C, d = dxOff + r * C;
            for (int j = 0; j < C; j++) {
                grads[e + j] += dx[d + j];
                grads[p + j] += dx[d + j];
            }
        }
    }
}
