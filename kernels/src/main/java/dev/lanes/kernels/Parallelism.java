package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded team of threads that the caller owns and passes to the kernels. {@code fixed(n)} starts
 * {@code n - 1} daemon workers; the calling thread is the n-th member and always does a share of the
 * work, so {@code fixed(1)} and {@link #serial()} start no thread at all. Kernels split work into
 * independent parts whose results do not depend on which thread runs them: every output is the same
 * bit for bit for any thread count.
 *
 * <p>The process default, used by the kernel overloads without a {@code Parallelism} argument, is
 * serial unless the system property {@code lanes.threads} names a count or {@link #setDefault} is
 * called. One team runs one parallel region at a time; concurrent callers of the same team take turns,
 * and a region started from inside a task of the same team runs inline. Dispatching a region
 * allocates nothing.
 */
public final class Parallelism implements AutoCloseable {
    /** One part of a parallel region; {@code part} runs from 0 to {@code parts - 1}. */
    @FunctionalInterface
    public interface PartTask {
        void run(int part);
    }

    private static final Parallelism SERIAL = new Parallelism(1);
    private static volatile Parallelism defaultTeam = initialDefault();

    private final int threads;
    private final Thread[] workers;
    private final ReentrantLock regionLock = new ReentrantLock();
    private final AtomicInteger nextPart = new AtomicInteger();
    private final AtomicInteger pendingWorkers = new AtomicInteger();
    private volatile int generation;
    private volatile PartTask task;
    private volatile int parts;
    private volatile Thread caller;
    private volatile Throwable failure;
    /** No region may start any more; set by {@link #close}. */
    private volatile boolean closed;
    /**
     * The workers may exit: set only while no region is in flight (under {@link #regionLock}, or by the
     * region's own caller once it has ended), so a worker can never miss a region it was counted in.
     */
    private volatile boolean stopping;

    private Parallelism(int threads) {
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "lanes-worker-" + (i + 1) + "/" + threads);
            t.setDaemon(true);
            workers[i] = t;
        }
        for (Thread t : workers) {
            t.start();
        }
    }

    /** The single-threaded team: everything runs on the calling thread. */
    public static Parallelism serial() {
        return SERIAL;
    }

    /** A team of {@code threads} (>= 1) threads: the caller plus {@code threads - 1} started workers. */
    public static Parallelism fixed(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads=" + threads + " < 1");
        }
        if (threads > 4096) {
            throw new IllegalArgumentException("threads=" + threads + " > 4096");
        }
        return threads == 1 ? SERIAL : new Parallelism(threads);
    }

    /** The team used by kernel calls that do not name one. */
    public static Parallelism defaultParallelism() {
        return defaultTeam;
    }

    /** Replaces the process default (the previous team is not closed). */
    public static void setDefault(Parallelism team) {
        Checks.notNull(team, "team");
        defaultTeam = team;
    }

    private static Parallelism initialDefault() {
        String p = System.getProperty("lanes.threads");
        if (p == null || p.isBlank()) {
            return SERIAL;
        }
        try {
            return fixed(Integer.parseInt(p.trim()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("system property lanes.threads=" + p + ": " + e.getMessage(), e);
        }
    }

    /** How many threads run a region, the caller included. */
    public int threads() {
        return threads;
    }

    /**
     * Runs {@code task.run(part)} for every part in {@code [0, parts)}, spread over the team, and
     * returns when all have finished. An exception thrown by a part is rethrown here after all parts
     * have stopped.
     */
    public void forEach(int parts, PartTask task) {
        Checks.notNull(task, "task");
        if (parts < 0) {
            throw new IllegalArgumentException("parts=" + parts + " < 0");
        }
        ensureOpen();
        if (workers.length == 0 || parts <= 1 || isWorker(Thread.currentThread())) {
            for (int p = 0; p < parts; p++) {
                task.run(p);
            }
            return;
        }
        regionLock.lock();
        try {
            if (regionLock.getHoldCount() > 1) { // a part of our own region started a region
                for (int p = 0; p < parts; p++) {
                    task.run(p);
                }
                return;
            }
            // Checked again under the lock: close() takes it to stop the workers, so a region that
            // passes here is one every worker will still count itself out of.
            ensureOpen();
            this.task = task;
            this.parts = parts;
            this.failure = null;
            this.caller = Thread.currentThread();
            nextPart.set(0);
            pendingWorkers.set(workers.length);
            generation++; // publishes the fields above to the workers
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            claimParts(task, parts);
            awaitWorkers();
            this.task = null;
            if (closed) { // closed from inside a part of this region: the workers may go now
                stopWorkers();
            }
            Throwable f = failure;
            if (f != null) {
                if (f instanceof RuntimeException re) {
                    throw re;
                }
                if (f instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(f);
            }
        } finally {
            regionLock.unlock();
        }
    }

    /**
     * Throws {@link IllegalStateException} once this team is closed, whatever the size of the work: the
     * kernels call it at their door, also for work too small to dispatch.
     */
    public void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this Parallelism (" + threads + " threads) was closed");
        }
    }

    /**
     * Spins briefly, then parks until every worker has counted itself out. An interrupt does not end
     * the wait (the parts must finish before the caller may touch their outputs) but it would make
     * park return at once, so it is cleared while waiting and set again afterwards.
     */
    private void awaitWorkers() {
        int spins = 0;
        boolean interrupted = false;
        while (pendingWorkers.get() > 0) {
            if (++spins < 20_000) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void claimParts(PartTask t, int n) {
        try {
            for (int p = nextPart.getAndIncrement(); p < n; p = nextPart.getAndIncrement()) {
                t.run(p);
            }
        } catch (Throwable e) {
            if (failure == null) {
                failure = e;
            }
            nextPart.set(n); // stop handing out parts
        }
    }

    private boolean isWorker(Thread t) {
        for (Thread w : workers) {
            if (w == t) {
                return true;
            }
        }
        return false;
    }

    private void workerLoop() {
        int seen = 0;
        while (true) {
            int spins = 0;
            while (generation == seen) {
                if (stopping) { // no region is in flight or can start: nothing to count out of
                    return;
                }
                if (++spins < 20_000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                    Thread.interrupted(); // a stray interrupt must not turn the park into a spin
                }
            }
            // A region this worker was counted in: run it and count out even if the team was closed
            // meanwhile, or its caller would wait forever.
            seen = generation;
            claimParts(task, parts);
            if (pendingWorkers.decrementAndGet() == 0) {
                LockSupport.unpark(caller);
            }
        }
    }

    /**
     * Stops the workers; the serial team ignores this, and closing twice is harmless. Regions may not
     * be started afterwards ({@link IllegalStateException}, whatever their size). A region already
     * running on another thread finishes first: close waits for it. Called from inside a part, close
     * returns at once and the region's caller stops the workers when the region ends.
     */
    @Override
    public void close() {
        if (this == SERIAL) {
            return;
        }
        closed = true;
        if (isWorker(Thread.currentThread())) {
            return; // inside a part: the caller holds the lock and stops the workers after the region
        }
        regionLock.lock(); // waits for a region in flight (reentrant when called from inside our own part)
        try {
            if (regionLock.getHoldCount() == 1) {
                stopWorkers();
            }
        } finally {
            regionLock.unlock();
        }
    }

    private void stopWorkers() {
        stopping = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }

    @Override
    public String toString() {
        return "Parallelism[threads=" + threads + "]";
    }
}
