package dev.lanes.spark;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.kernels.Parallelism;
import java.util.SplittableRandom;

/** A small model and a learnable token stream for the training tests: fast, and every step different. */
final class TrainingFixture {
    static final GptConfig CFG = GptConfig.of(16, 8, 2, 16, 2, 1);
    static final int T = 8, B = 12, M = 6, STEPS = 20;
    static final float LR = 1e-2f;

    private TrainingFixture() {}

    static float[] initialParams() {
        Gpt g = new Gpt(CFG, 1, T);
        g.init(7);
        return g.params().clone();
    }

    static DataParallelTrainer trainer() {
        return new DataParallelTrainer(CFG, initialParams(), T, M, 0.9f, 0.95f, 1e-8f, 0.1f, 1f);
    }

    /** Step s's global batch: B windows of a noisy counting sequence, x and its next-token targets. */
    static int[][] batch(int step) {
        SplittableRandom r = new SplittableRandom(1000 + step);
        int[] x = new int[B * T], y = new int[B * T];
        for (int b = 0; b < B; b++) {
            int tok = r.nextInt(CFG.vocab());
            for (int t = 0; t <= T; t++) {
                int next = r.nextInt(8) == 0 ? r.nextInt(CFG.vocab()) : (tok + 1) % CFG.vocab();
                if (t < T) {
                    x[b * T + t] = tok;
                    y[b * T + t] = next;
                }
                tok = next;
            }
        }
        return new int[][] {x, y};
    }

    /** The one-machine reference: STEPS steps of gradient accumulation over the same micro-batches. */
    static Run reference() {
        DataParallelTrainer tr = trainer();
        double[] losses = new double[STEPS];
        try (Parallelism team = Parallelism.fixed(2)) {
            for (int s = 0; s < STEPS; s++) {
                int[][] xy = batch(s);
                losses[s] = tr.stepLocal(team, xy[0], xy[1], LR).loss();
            }
        }
        return new Run(losses, tr.params().clone());
    }

    record Run(double[] losses, float[] params) {}
}
