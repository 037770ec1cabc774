package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Training end to end: the thread count must not change a single bit of a training run, and a small
 * model must actually learn a task that needs attention (reversing a sequence: output position 16 + i
 * has to read input position 15 - i, which only a learned positional attention pattern can do).
 */
class GptTrainingTest {

    // ---- (a) bit-identical training for any team size -------------------------------------------
    // Big enough that the GEMMs (rows BT = 128, widths 64..256) and the attention (B Hq = 16 heads)
    // have several parts to hand out.
    static final int DET_VOCAB = 50, DET_SEQ = 32, DET_LAYERS = 2, DET_DIM = 64, DET_HEADS = 4, DET_KV = 2;
    static final int DET_BATCH = 4, DET_STEPS = 3;
    static final long DET_SEED = 0xb175L;

    record Run(float[] params, double[] losses, double[] norms) {}

    static Run trainFewSteps(Parallelism par) {
        GptConfig cfg = GptConfig.of(DET_VOCAB, DET_SEQ, DET_LAYERS, DET_DIM, DET_HEADS, DET_KV);
        Gpt gpt = new Gpt(cfg, DET_BATCH, DET_SEQ);
        gpt.init(DET_SEED);
        SplittableRandom rnd = new SplittableRandom(DET_SEED);
        int rows = DET_BATCH * DET_SEQ;
        int[] tokens = new int[rows], targets = new int[rows];
        for (int i = 0; i < rows; i++) {
            tokens[i] = rnd.nextInt(DET_VOCAB);
            targets[i] = rnd.nextInt(10) == 0 ? -1 : rnd.nextInt(DET_VOCAB);
        }
        AdamWOptimizer opt = new AdamWOptimizer(gpt.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
        double[] losses = new double[DET_STEPS], norms = new double[DET_STEPS];
        for (int s = 0; s < DET_STEPS; s++) {
            gpt.zeroGrads(par);
            losses[s] = gpt.forward(par, tokens, targets);
            gpt.backward(par);
            norms[s] = opt.clipGradNorm(par, gpt.grads(), 1f);
            opt.step(par, 1e-3f, gpt.params(), gpt.grads());
        }
        return new Run(gpt.params().clone(), losses, norms);
    }

    @Test
    void threadCountDoesNotChangeTheBits() {
        Run serial = trainFewSteps(Parallelism.serial());
        for (int threads : new int[] {2, 3}) {
            Run run;
            try (Parallelism team = Parallelism.fixed(threads)) {
                run = trainFewSteps(team);
            }
            for (int s = 0; s < DET_STEPS; s++) {
                assertThat(Double.doubleToRawLongBits(run.losses()[s]))
                        .as("step %d loss with %d threads: %s vs serial %s", s, threads, run.losses()[s],
                                serial.losses()[s])
                        .isEqualTo(Double.doubleToRawLongBits(serial.losses()[s]));
                assertThat(Double.doubleToRawLongBits(run.norms()[s]))
                        .as("step %d grad norm with %d threads: %s vs serial %s", s, threads, run.norms()[s],
                                serial.norms()[s])
                        .isEqualTo(Double.doubleToRawLongBits(serial.norms()[s]));
            }
            if (!Arrays.equals(serial.params(), run.params())) {
                int i = Arrays.mismatch(serial.params(), run.params());
                fail("params after %d steps differ with %d threads at flat index %d: %s vs serial %s",
                        DET_STEPS, threads, i, run.params()[i], serial.params()[i]);
            }
        }
    }

    // ---- (b) learning to reverse a sequence --------------------------------------------------------
    // Row: s_0 .. s_15, SEP, r_0 .. r_14 (r = reverse(s)); targets -1 at 0..15, r_0 .. r_15 at 16..31
    // (teacher forcing: position 16 + i sees r_0 .. r_{i-1} and must produce r_i = s_{15-i}).
    static final int SYMBOLS = 16, LENGTH = 16, SEP = SYMBOLS, VOCAB = SYMBOLS + 1, SEQ = 2 * LENGTH;
    static final int LAYERS = 2, DIM = 64, HEADS = 4, KV_HEADS = 2;
    static final NormKind NORM = NormKind.LAYER;
    static final int BATCH = 32;
    static final float LR = 3e-3f, BETA1 = 0.9f, BETA2 = 0.98f, ADAM_EPS = 1e-8f, WEIGHT_DECAY = 0.01f, CLIP = 1f;
    /** Linear warm-up from lr / WARMUP_STEPS: the first Adam steps are the least informed. */
    static final int WARMUP_STEPS = 100;
    static final int MAX_STEPS = 3000, EVAL_EVERY = 50, HELD_OUT = 256;
    static final double TARGET_ACCURACY = 0.99;
    static final int THREADS = 2;
    /** Wall-clock budget: exceeding it fails the test (a slowdown is a regression, not a skip). */
    static final long TIME_LIMIT_SECONDS = 600;
    static final long TRAIN_SEED = 0x7e7e_5eedL, HELD_OUT_SEED = 0x0dd_5eedL, INIT_SEED = 1234;

    /** Fills {@code batch} rows of tokens and targets with fresh random sequences and their reversals. */
    static void reverseBatch(SplittableRandom rnd, int batch, int[] tokens, int[] targets) {
        for (int b = 0; b < batch; b++) {
            int row = b * SEQ;
            for (int i = 0; i < LENGTH; i++) {
                tokens[row + i] = rnd.nextInt(SYMBOLS);
                targets[row + i] = -1;
            }
            tokens[row + LENGTH] = SEP;
            for (int i = 0; i < LENGTH; i++) {
                int r = tokens[row + LENGTH - 1 - i];  // r_i = s_{15-i}
                targets[row + LENGTH + i] = r;
                if (LENGTH + 1 + i < SEQ) {
                    tokens[row + LENGTH + 1 + i] = r;  // teacher forcing: r_i is the next input
                }
            }
        }
    }

    /** Fraction of the held-out target positions (16..31) where the argmax logit is the right symbol. */
    static double heldOutAccuracy(Gpt gpt, Parallelism par, int[][] tokens, int[][] targets, float[] logits) {
        long right = 0, total = 0;
        for (int k = 0; k < tokens.length; k++) {
            gpt.forward(par, tokens[k], null);
            gpt.logits(logits, 0);
            for (int b = 0; b < BATCH; b++) {
                for (int t = LENGTH; t < SEQ; t++) {
                    int row = b * SEQ + t, best = 0;
                    for (int v = 1; v < VOCAB; v++) {
                        if (logits[row * VOCAB + v] > logits[row * VOCAB + best]) {
                            best = v;
                        }
                    }
                    right += best == targets[k][row] ? 1 : 0;
                    total++;
                }
            }
        }
        return (double) right / total;
    }

    @Test
    @Timeout(value = TIME_LIMIT_SECONDS + 120, unit = TimeUnit.SECONDS)  // backstop for a hang
    void learnsToReverseASequence() {
        GptConfig cfg = GptConfig.of(VOCAB, SEQ, LAYERS, DIM, HEADS, KV_HEADS).withNorm(NORM);
        Gpt gpt = new Gpt(cfg, BATCH, SEQ);
        gpt.init(INIT_SEED);
        AdamWOptimizer opt = new AdamWOptimizer(gpt.layout(), BETA1, BETA2, ADAM_EPS, WEIGHT_DECAY);

        int batches = HELD_OUT / BATCH;
        int[][] evalTokens = new int[batches][BATCH * SEQ], evalTargets = new int[batches][BATCH * SEQ];
        SplittableRandom heldOut = new SplittableRandom(HELD_OUT_SEED);
        for (int k = 0; k < batches; k++) {
            reverseBatch(heldOut, BATCH, evalTokens[k], evalTargets[k]);
        }
        float[] logits = new float[BATCH * SEQ * VOCAB];
        int[] tokens = new int[BATCH * SEQ], targets = new int[BATCH * SEQ];
        SplittableRandom data = new SplittableRandom(TRAIN_SEED);  // fresh sequences every step: no memorising

        long start = System.nanoTime();
        double accuracy = 0, loss = Double.NaN;
        int step = 0;
        try (Parallelism par = Parallelism.fixed(THREADS)) {
            while (step < MAX_STEPS) {
                reverseBatch(data, BATCH, tokens, targets);
                gpt.zeroGrads();
                loss = gpt.forward(par, tokens, targets);
                if (!Double.isFinite(loss)) {
                    fail("loss %s at step %d", loss, step);
                }
                gpt.backward(par);
                opt.clipGradNorm(gpt.grads(), CLIP);
                float lr = step < WARMUP_STEPS ? LR * (step + 1) / WARMUP_STEPS : LR;
                opt.step(par, lr, gpt.params(), gpt.grads());
                step++;

                double seconds = (System.nanoTime() - start) * 1e-9;
                if (seconds > TIME_LIMIT_SECONDS) {
                    fail("reverse task: %d steps took %.1f s > %d s (accuracy %.4f at the last check, loss %.4f)",
                            step, seconds, TIME_LIMIT_SECONDS, accuracy, loss);
                }
                if (step % EVAL_EVERY == 0) {
                    accuracy = heldOutAccuracy(gpt, par, evalTokens, evalTargets, logits);
                    System.out.printf("reverse task: step %4d  loss %.4f  held-out accuracy %.4f  %.1f s%n", step,
                            loss, accuracy, seconds);
                    if (accuracy >= TARGET_ACCURACY) {
                        break;
                    }
                }
            }
        }
        double seconds = (System.nanoTime() - start) * 1e-9;
        System.out.printf("reverse task: accuracy %.4f after %d steps, %.1f s (%.1f ms/step, %d threads)%n",
                accuracy, step, seconds, 1e3 * seconds / step, THREADS);
        assertThat(accuracy).as("held-out accuracy after %d steps (loss %.4f)", step, loss)
                .isGreaterThanOrEqualTo(TARGET_ACCURACY);
    }
}
