package dev.lanes.spark;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.kernels.Parallelism;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.spark.TaskContext;

/**
 * What a task borrows from its executor JVM and gives back: a {@link Parallelism} team of
 * {@code spark.task.cpus} threads and a {@link Gpt} of the shape it needs. Both are created lazily on
 * first use and kept for the JVM's life (an executor runs many tasks and steps); an executor running k
 * tasks at once ends up with k teams and k models per shape, never more. Lanes gives the same bits for
 * any team size, so the team's size changes speed only.
 */
final class ExecutorResources {
    private static final ConcurrentLinkedQueue<Parallelism> TEAMS = new ConcurrentLinkedQueue<>();
    private static final Map<Shape, ConcurrentLinkedQueue<Gpt>> MODELS = new ConcurrentHashMap<>();

    private record Shape(GptConfig cfg, int batch, int seqLen) {}

    private ExecutorResources() {}

    /** A team sized by the running task's {@code spark.task.cpus} (1 outside a task). */
    static Parallelism borrowTeam() {
        TaskContext tc = TaskContext.get();
        int cpus = tc == null ? 1 : Math.max(1, tc.cpus());
        for (Parallelism p : TEAMS) {
            if (p.threads() == cpus && TEAMS.remove(p)) {
                return p;
            }
        }
        return cpus == 1 ? Parallelism.serial() : Parallelism.fixed(cpus);
    }

    static void giveBack(Parallelism team) {
        if (team != Parallelism.serial()) {
            TEAMS.add(team);
        }
    }

    /** A model of this shape; its parameters and gradients hold whatever the last borrower left. */
    static Gpt borrowModel(GptConfig cfg, int batch, int seqLen) {
        Gpt g = MODELS.computeIfAbsent(new Shape(cfg, batch, seqLen), s -> new ConcurrentLinkedQueue<>()).poll();
        return g != null ? g : new Gpt(cfg, batch, seqLen);
    }

    static void giveBack(Gpt model) {
        MODELS.computeIfAbsent(new Shape(model.config(), model.batch(), model.seqLen()), s -> new ConcurrentLinkedQueue<>())
                .add(model);
    }
}
