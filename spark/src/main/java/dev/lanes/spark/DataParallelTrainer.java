package dev.lanes.spark;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Parallelism;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Data-parallel training of a {@link Gpt} whose every step gives the same bits as gradient accumulation
 * over the same micro-batches on one machine.
 *
 * <pre>
 * legend: B sequences per step, T tokens each, M micro-batches of b = B / M sequences, P parameters
 *   per step:  micro-batch i = sequences [i b, (i+1) b)                       (by position)
 *              g_i, loss_i = d(mean loss of micro-batch i)/d(params), from zeroed gradients
 *              g = (1/M) * Tree(g_0 .. g_{M-1});  loss = (sum_i loss_i in i order) / M
 *              clip |g| to maxNorm;  AdamW step once, on the driver
 * </pre>
 *
 * {@link #stepLocal} runs the M micro-batches one after the other on the caller's team (the
 * one-machine reference); {@link #stepSpark} broadcasts the parameters as one {@code float[]}, ships the
 * micro-batches in N contiguous partitions, lets each task sum the {@link GradientTree} nodes inside its
 * range and rebuilds the tree on the driver by node, never in task order. A retried task recomputes the
 * same node from the same broadcast, so retries cannot change the bits. The mean of equal-sized
 * micro-batch means is the global batch's mean loss when every target counts.
 *
 * <p>Not safe for concurrent use; the driver owns the parameters and the optimizer's moments.
 */
public final class DataParallelTrainer {
    private final GptConfig cfg;
    private final int seqLen, microBatches;
    private final float maxNorm;
    private final float[] params;
    private final AdamWOptimizer opt;
    private Gpt local;
    private int step;

    /** What a step reports: its mean loss and the gradient norm before clipping. */
    public record StepResult(double loss, double gradNorm) {}

    /** Called in each task before each micro-batch (tests inject failures with it). */
    @FunctionalInterface
    public interface TaskHook extends Serializable {
        void beforeMicroBatch(int step, int microBatch);
    }

    /**
     * A trainer starting from {@code params} (copied) with AdamW(beta1, beta2, eps, weightDecay), global
     * batches cut into {@code microBatches} micro-batches of sequences of {@code seqLen} tokens, and the
     * gradient's global norm clipped to {@code maxNorm}.
     */
    public DataParallelTrainer(GptConfig cfg, float[] params, int seqLen, int microBatches, float beta1, float beta2,
                               float eps, float weightDecay, float maxNorm) {
        if (cfg == null || params == null) {
            throw new IllegalArgumentException("cfg or params is null");
        }
        ParamLayout layout = ParamLayout.of(cfg);
        if (params.length != layout.size()) {
            throw new IllegalArgumentException("params.length=" + params.length + " but the model has " + layout.size());
        }
        if (seqLen < 1 || seqLen > cfg.maxSeq() || microBatches < 1 || !(maxNorm > 0f)) {
            throw new IllegalArgumentException("seqLen=" + seqLen + ", microBatches=" + microBatches + ", maxNorm=" + maxNorm
                    + ": need 1 <= seqLen <= maxSeq=" + cfg.maxSeq() + ", microBatches >= 1, maxNorm > 0");
        }
        this.opt = new AdamWOptimizer(layout, beta1, beta2, eps, weightDecay);
        this.cfg = cfg;
        this.params = params.clone();
        this.seqLen = seqLen;
        this.microBatches = microBatches;
        this.maxNorm = maxNorm;
    }

    /** The current parameters (the trainer's own array: read, do not write). */
    public float[] params() {
        return params;
    }

    /** Steps taken. */
    public int steps() {
        return step;
    }

    /** One step on this machine: the micro-batches in index order on {@code team}. */
    public StepResult stepLocal(Parallelism team, int[] tokens, int[] targets, float lr) {
        MicroBatch[] mbs = MicroBatch.cut(tokens, targets, seqLen, microBatches);
        int b = mbs[0].tokens().length / seqLen;
        if (local == null || local.batch() != b) {
            local = new Gpt(cfg, b, seqLen);
        }
        System.arraycopy(params, 0, local.params(), 0, params.length);
        double[] losses = new double[microBatches];
        float[] sum = GradientTree.sum(i -> {
            losses[i] = microBatchGradient(local, team, mbs[i]);
            return local.grads().clone();
        }, 0, microBatches);
        return finish(team, losses, sum, lr);
    }

    /** Where a Spark step's tree is rebuilt above the partitions' own nodes. */
    public enum Reduction {
        /** The partitions' nodes are collected and the driver adds them up (E x 4P bytes into the driver). */
        DRIVER,
        /**
         * Rounds of {@code reduceByKey} on the executors, each adding the sibling pairs present into their
         * parent (exactly two values per key, and a + b == b + a in floating point, so the order Spark
         * merges them in cannot matter); the driver fetches only the root. At most tree-depth rounds.
         */
        EXECUTORS
    }

    /** {@link #stepSpark(JavaSparkContext, int, int[], int[], float, TaskHook, Reduction)}: no hook, reduced on the driver. */
    public StepResult stepSpark(JavaSparkContext sc, int partitions, int[] tokens, int[] targets, float lr) {
        return stepSpark(sc, partitions, tokens, targets, lr, null, Reduction.DRIVER);
    }

    /**
     * One step on Spark: the micro-batches in {@code partitions} contiguous partitions, gradients on the
     * executors, the tree rebuilt by node ({@code reduction} says where) and the optimizer stepped here,
     * elementwise on one thread. {@code hook} may be null.
     */
    public StepResult stepSpark(JavaSparkContext sc, int partitions, int[] tokens, int[] targets, float lr, TaskHook hook,
                                Reduction reduction) {
        if (sc == null || reduction == null) {
            throw new IllegalArgumentException("sc or reduction is null");
        }
        if (partitions < 1 || partitions > microBatches) {
            throw new IllegalArgumentException("partitions=" + partitions + " outside [1, microBatches=" + microBatches + "]");
        }
        MicroBatch[] mbs = MicroBatch.cut(tokens, targets, seqLen, microBatches);
        Broadcast<float[]> weights = sc.broadcast(params.clone());
        JavaRDD<PartResult> computed = null;
        try {
            ShippedConfig c = ShippedConfig.of(cfg);
            int m = microBatches, t = seqLen, s = step;
            computed = sc.parallelize(Arrays.asList(mbs), partitions).mapPartitions(
                    (Iterator<MicroBatch> it) -> List.of(PartResult.compute(c, t, m, s, weights, it, hook)).iterator());
            List<PartResult> parts;
            if (reduction == Reduction.DRIVER) {
                parts = computed.collect();
            } else {
                // the gradients stay on the executors; only the losses and the node names come back here
                computed = computed.persist(StorageLevel.MEMORY_AND_DISK());
                parts = computed.map(PartResult::withoutSums).collect();
            }
            double[] losses = new double[m];
            boolean[] seen = new boolean[m];
            Map<Long, float[]> nodes = new HashMap<>();
            for (PartResult p : parts) {
                for (int i = p.from; i < p.to; i++) {
                    if (seen[i]) {
                        throw new IllegalStateException("micro-batch " + i + " came back twice");
                    }
                    seen[i] = true;
                    losses[i] = p.losses[i - p.from];
                }
                for (int k = 0; k < p.lo.length; k++) {
                    nodes.put(GradientTree.key(p.lo[k], p.hi[k]), p.sums == null ? null : p.sums[k]);
                }
            }
            float[] sum = reduction == Reduction.DRIVER ? GradientTree.combine(m, nodes) : reduceOnExecutors(computed, m, nodes.keySet());
            return finish(Parallelism.serial(), losses, sum, lr);
        } finally {
            if (computed != null && reduction == Reduction.EXECUTORS) {
                computed.unpersist(false);
            }
            weights.destroy();
        }
    }

    /** The tree above the partitions' nodes, built in shuffle rounds on the executors; returns the root. */
    private static float[] reduceOnExecutors(JavaRDD<PartResult> computed, int m, Set<Long> present) {
        JavaPairRDD<Long, float[]> nodes = computed.flatMapToPair(p -> {
            List<Tuple2<Long, float[]>> out = new ArrayList<>();
            for (int k = 0; k < p.lo.length; k++) {
                out.add(new Tuple2<>(GradientTree.key(p.lo[k], p.hi[k]), p.sums[k]));
            }
            return out.iterator();
        });
        Set<Long> current = new HashSet<>(present);
        long root = GradientTree.key(0, m);
        while (!(current.size() == 1 && current.contains(root))) {
            HashMap<Long, Long> next = GradientTree.mergeRound(m, current);
            current = new HashSet<>(next.values());
            nodes = nodes.mapToPair(n -> new Tuple2<>(next.get(n._1()), n._2()))
                    .reduceByKey(GradientTree::add, current.size());
        }
        List<float[]> top = nodes.values().collect();
        if (top.size() != 1) {
            throw new IllegalStateException(top.size() + " roots came back, expected 1");
        }
        return top.get(0);
    }

    /** Zeroes the model's gradients, runs micro-batch {@code mb} forward and backward; returns its mean loss. */
    static double microBatchGradient(Gpt model, Parallelism team, MicroBatch mb) {
        model.zeroGrads(team);
        double loss = model.forward(team, mb.tokens(), mb.targets());
        model.backward(team);
        return loss;
    }

    /** Mean loss in index order, gradient scaled by 1/M, clipped, one AdamW step. Owns {@code sum}. */
    private StepResult finish(Parallelism team, double[] losses, float[] sum, float lr) {
        double loss = 0;
        for (double l : losses) {
            loss += l;
        }
        loss /= microBatches;
        float[] g = sum.clone(); // sum may be a leaf still referenced elsewhere (M = 1)
        float scale = 1f / microBatches;
        for (int i = 0; i < g.length; i++) {
            g[i] *= scale;
        }
        double norm = opt.clipGradNorm(team, g, maxNorm);
        opt.step(team, lr, params, g);
        step++;
        return new StepResult(loss, norm);
    }

    /** What one partition sends back: the losses of its micro-batches [from, to) and its tree nodes. */
    static final class PartResult implements Serializable {
        final int from, to;
        final double[] losses;
        final int[] lo, hi;
        final float[][] sums;

        /** The same result without the gradients: what the driver needs to plan the executors' tree. */
        PartResult withoutSums() {
            return new PartResult(from, to, losses, lo, hi, null);
        }

        private PartResult(int from, int to, double[] losses, int[] lo, int[] hi, float[][] sums) {
            this.from = from;
            this.to = to;
            this.losses = losses;
            this.lo = lo;
            this.hi = hi;
            this.sums = sums;
        }

        /** Runs on an executor: gradients of the partition's contiguous micro-batches, summed by tree node. */
        static PartResult compute(ShippedConfig cfg, int seqLen, int m, int step, Broadcast<float[]> weights,
                                  Iterator<MicroBatch> it, TaskHook hook) {
            List<MicroBatch> mine = new ArrayList<>();
            it.forEachRemaining(mine::add);
            if (mine.isEmpty()) {
                return new PartResult(0, 0, new double[0], new int[0], new int[0], new float[0][]);
            }
            int from = mine.get(0).index(), to = from + mine.size();
            for (int k = 0; k < mine.size(); k++) {
                if (mine.get(k).index() != from + k) {
                    throw new IllegalStateException("partition holds micro-batches out of order: " + mine.get(k).index()
                            + " at position " + k + " after " + from);
                }
            }
            int b = mine.get(0).tokens().length / seqLen;
            Parallelism team = ExecutorResources.borrowTeam();
            Gpt model = ExecutorResources.borrowModel(cfg.config(), b, seqLen);
            try {
                float[] w = weights.value();
                System.arraycopy(w, 0, model.params(), 0, w.length);
                // Each node is summed as the tree walks its leaves left to right, and a leaf's gradient is
                // computed when the walk reaches it: at most one partial sum per tree level is alive, not
                // one gradient per micro-batch of the partition.
                double[] losses = new double[mine.size()];
                IntFunction<float[]> leaf = i -> {
                    MicroBatch mb = mine.get(i - from);
                    if (hook != null) {
                        hook.beforeMicroBatch(step, i);
                    }
                    losses[i - from] = microBatchGradient(model, team, mb);
                    return model.grads().clone();
                };
                List<int[]> cover = GradientTree.cover(m, from, to);
                int[] lo = new int[cover.size()], hi = new int[cover.size()];
                float[][] sums = new float[cover.size()][];
                for (int k = 0; k < cover.size(); k++) {
                    lo[k] = cover.get(k)[0];
                    hi[k] = cover.get(k)[1];
                    sums[k] = GradientTree.sum(leaf, lo[k], hi[k]);
                }
                return new PartResult(from, to, losses, lo, hi, sums);
            } finally {
                ExecutorResources.giveBack(model);
                ExecutorResources.giveBack(team);
            }
        }
    }
}
