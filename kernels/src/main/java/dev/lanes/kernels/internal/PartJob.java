package dev.lanes.kernels.internal;

import dev.lanes.kernels.Parallelism;
import java.util.function.Supplier;

/**
 * The one way Lanes runs a part-parallel region without allocating: the region's arguments sit in the
 * fields of a job, one job per calling thread ({@link #perThread}), which a kernel fills, runs over its
 * parts and then {@link #clear clears}, so that the job parked in its {@link ThreadLocal} keeps none of the
 * caller's arrays reachable. A lambda capturing the arguments would allocate on every call instead.
 *
 * <pre>
 *   private static final ThreadLocal&lt;Job&gt; JOB = PartJob.perThread(Job::new);
 *   Job job = JOB.get();
 *   job.set(...);                        // the kernel's own fields
 *   job.runAndClear(par, parts);         // run(part) for every part, then clear(), also on failure
 * </pre>
 *
 * A region of several phases (one {@link #forEach} per phase, each reading fields the previous one
 * set) calls {@link #clear} itself in a {@code finally}. A job is per thread, so a region started from
 * inside one of its own parts (same thread, nested) must use another job class.
 */
public abstract class PartJob implements Parallelism.PartTask {
    protected PartJob() {}

    /** One job per calling thread, made on first use and kept. */
    public static <J extends PartJob> ThreadLocal<J> perThread(Supplier<J> factory) {
        return ThreadLocal.withInitial(factory);
    }

    /** Forgets the caller's arrays (and anything else of the call that should not stay reachable). */
    protected abstract void clear();

    /**
     * Runs every part in {@code [0, parts)} on the team (see {@link Parallelism#forEach}), no clearing; a
     * single part runs on the calling thread without touching the team (the kernels check the team at
     * their door).
     */
    public final void forEach(Parallelism par, int parts) {
        if (parts == 1) {
            run(0);
        } else {
            par.forEach(parts, this);
        }
    }

    /** {@link #forEach} then {@link #clear}, also when a part throws. */
    public final void runAndClear(Parallelism par, int parts) {
        try {
            forEach(par, parts);
        } finally {
            clear();
        }
    }
}
