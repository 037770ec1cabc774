package dev.lanes.core.nn;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.Overlap;

/**
 * Softmax cross-entropy fused into one pass per row, numerically stable through the row's
 * logsumexp, which forward saves for backward instead of the probabilities:
 *
 * <pre>
 *   logits:  (rows, V), contiguous rows         (rows = B*T, V = vocabulary)
 *   targets: (rows) in [0, V)
 *   loss[i] = logsumexp_j(logits[i][j]) - logits[i][targets[i]];   lse: (rows)
 *   dlogits: (rows, V), contiguous rows
 * </pre>
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    /** Writes the per-row losses and logsumexps; returns their mean (0 for no rows). */
    public static float forward(int rows, int vocab, float[] logits, int off, int[] targets, int tOff,
                                float[] losses, int lossOff, float[] lse, int lseOff) {
        int ld = vocab;
        check(rows, vocab, logits, off, targets, tOff);
        Checks.vector("losses", losses, lossOff, rows);
        Checks.vector("lse", lse, lseOff, rows);
        Overlap.views().input("logits", logits, off, rows, vocab, ld)
                .output("losses", losses, lossOff, rows).output("lse", lse, lseOff, rows).check();
        double total = 0;
        for (int i = 0; i < rows; i++) {
            int r = off + i * ld;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) {
                max = Math.max(max, logits[r + j]);
            }
            double sum = 0;
            for (int j = 0; j < vocab; j++) {
                sum += Math.exp((double) logits[r + j] - max);
            }
            double logSumExp = max + Math.log(sum);
            double loss = logSumExp - logits[r + targets[tOff + i]];
            lse[lseOff + i] = (float) logSumExp;
            losses[lossOff + i] = (float) loss;
            total += loss;
        }
        return rows == 0 ? 0f : (float) (total / rows);
    }

    /**
     * Backward, ACCUMULATING into dlogits: {@code dlogits[i][j] += dloss[i] * (softmax(logits[i])[j] - [j == t_i])}.
     * For the mean loss pass {@code dloss[i] = 1 / rows}.
     */
    public static void backward(int rows, int vocab, float[] dloss, int dlOff, float[] logits, int off,
                                int[] targets, int tOff, float[] lse, int lseOff, float[] dlogits, int dOff) {
        int ld = vocab, ldd = vocab;
        check(rows, vocab, logits, off, targets, tOff);
        Checks.vector("dloss", dloss, dlOff, rows);
        Checks.vector("lse", lse, lseOff, rows);
        Checks.matrix("dlogits", dlogits, dOff, Math.max(1, ldd), "vocab", rows, vocab, "vocab");
        Overlap.views().input("dloss", dloss, dlOff, rows).input("logits", logits, off, rows, vocab, ld)
                .input("lse", lse, lseOff, rows).output("dlogits", dlogits, dOff, rows, vocab, ldd).check();
        for (int i = 0; i < rows; i++) {
            int r = off + i * ld, d = dOff + i * ldd;
            float g = dloss[dlOff + i], l = lse[lseOff + i];
            int t = targets[tOff + i];
            for (int j = 0; j < vocab; j++) {
                float p = (float) Math.exp(logits[r + j] - l);
                dlogits[d + j] += g * (p - (j == t ? 1f : 0f));
            }
        }
    }

    private static void check(int rows, int vocab, float[] logits, int off, int[] targets, int tOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("vocab", vocab);
        Checks.matrix("logits", logits, off, Math.max(1, vocab), "vocab", rows, vocab, "vocab");
        Checks.notNull(targets, "targets");
        if (tOff < 0 || (long) tOff + rows > targets.length) {
            throw new IllegalArgumentException("targets too short: tOff=" + tOff + " + rows=" + rows + " > targets.length="
                    + targets.length);
        }
        for (int i = 0; i < rows; i++) {
            int t = targets[tOff + i];
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("targets[" + (tOff + i) + "]=" + t + " is outside [0, vocab=" + vocab + ")");
            }
        }
    }
}
