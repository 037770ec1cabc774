package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.internal.PartJob;

/**
 * GELU with the tanh approximation used by GPT-2 (Hendrycks and Gimpel 2016; PyTorch's
 * {@code approximate="tanh"}), forward and backward, on contiguous vectors.
 *
 * <pre>
 *   x, y, dy, dx: (n) contiguous
 *   u       = sqrt(2/pi) * (x + 0.044715 * x^3)
 *   y       = 0.5 * x * (1 + tanh(u))                 = x * sigmoid(2u)
 *   dx     += gelu'(x) * dy,  gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx
 *   d       = gelu'(x) * d    (geluBackwardInPlace: the upstream gradient becomes the input's)
 * </pre>
 *
 * <p>The vector body evaluates {@code 0.5 (1 + tanh u) = 1 / (1 + exp(-2u))} with {@link FloatExp},
 * built from exactly specified operations, so a result has the same bits in the interpreter and in
 * C2, in a vector lane and in the scalar tail. The sigmoid form avoids the
 * cancellation of {@code 1 + tanh u} for negative x. The function saturates cleanly: every finite x
 * gives a finite y and gradient ({@code |x| > 10}: y = x or -0, gelu' = 1 or 0); NaN stays NaN.
 * Without the Vector API the scalar twin {@link ActivationsScalar} computes the same formulas in double.
 *
 * <p>The {@link Parallelism} overloads cut n into fixed chunks of {@value #CHUNK} elements; every
 * element is computed by the same operations whatever the team, so the bits never depend on it.
 * Validation happens before anything is written; see {@link Gemm} for the rules and messages.
 */
public final class Activations {
    /** Elements per parallel part (a multiple of every vector length). */
    static final int CHUNK = 1 << 15;

    private Activations() {}

    /** {@code y = gelu(x)} on the process default team; y may be x itself (same offset). */
    public static void geluForward(int n, float[] x, int xOff, float[] y, int yOff) {
        geluForward(Parallelism.defaultParallelism(), n, x, xOff, y, yOff);
    }

    /** {@code y = gelu(x)} on the given team; y may be x itself (same offset). */
    public static void geluForward(Parallelism par, int n, float[] x, int xOff, float[] y, int yOff) {
        Checks.team(par);
        checkForward(n, x, xOff, y, yOff);
        run(par, FORWARD, n, null, 0, x, xOff, y, yOff);
    }

    /**
     * {@code dx += gelu'(x) * dy} on the process default team (forward line: y = 0.5 x (1 + tanh u)).
     * dx may be dy or x itself (same offset): each element is read before it is written.
     */
    public static void geluBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        geluBackward(Parallelism.defaultParallelism(), n, dy, dyOff, x, xOff, dx, dxOff);
    }

    /** {@code dx += gelu'(x) * dy} on the given team; dx may be dy or x itself (same offset). */
    public static void geluBackward(Parallelism par, int n, float[] dy, int dyOff, float[] x, int xOff,
                                    float[] dx, int dxOff) {
        Checks.team(par);
        checkBackward(n, dy, dyOff, x, xOff, dx, dxOff);
        run(par, BACKWARD, n, dy, dyOff, x, xOff, dx, dxOff);
    }

    /**
     * {@code d = gelu'(x) * d} on the given team: on entry d holds the upstream gradient dy, on exit the
     * gradient of x, overwriting it. For a dy nothing else needs, it saves the zeroed dx buffer and a
     * stream of {@link #geluBackward}; the bits are those of geluBackward into a zeroed dx but for the
     * sign of a zero. x must not share storage with d.
     */
    public static void geluBackwardInPlace(Parallelism par, int n, float[] x, int xOff, float[] d, int dOff) {
        Checks.team(par);
        checkInPlace(n, x, xOff, d, dOff);
        run(par, BACKWARD_IN_PLACE, n, d, dOff, x, xOff, d, dOff);
    }

    /** {@link #geluBackwardInPlace(Parallelism, int, float[], int, float[], int)} on the process default team. */
    public static void geluBackwardInPlace(int n, float[] x, int xOff, float[] d, int dOff) {
        geluBackwardInPlace(Parallelism.defaultParallelism(), n, x, xOff, d, dOff);
    }

    static void checkInPlace(int n, float[] x, int xOff, float[] d, int dOff) {
        Checks.nonNegative("n", n);
        Checks.vector("x", x, xOff, n);
        Checks.vector("d", d, dOff, n);
        Overlap.views().input("x", x, xOff, n).output("d", d, dOff, n).check();
    }

    static void checkForward(int n, float[] x, int xOff, float[] y, int yOff) {
        Checks.nonNegative("n", n);
        Checks.vector("x", x, xOff, n);
        Checks.vector("y", y, yOff, n);
        Overlap.views().input("x", x, xOff, n).output("y", y, yOff, n).orSameAs("x").check();
    }

    static void checkBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        Checks.nonNegative("n", n);
        Checks.vector("dy", dy, dyOff, n);
        Checks.vector("x", x, xOff, n);
        Checks.vector("dx", dx, dxOff, n);
        Overlap.views().input("dy", dy, dyOff, n).input("x", x, xOff, n)
                .output("dx", dx, dxOff, n).orSameAs("dy").orSameAs("x").check();
    }

    /** What {@link #run} computes. */
    private static final int FORWARD = 0, BACKWARD = 1, BACKWARD_IN_PLACE = 2;

    private static void run(Parallelism par, int op, int n, float[] dy, int dyOff, float[] x, int xOff,
                            float[] out, int outOff) {
        int parts = (int) (((long) n + CHUNK - 1) / CHUNK);
        if (parts <= 1 || par.threads() == 1) {
            body(op, n, dy, dyOff, x, xOff, out, outOff);
            return;
        }
        Job job = JOB.get();
        job.set(op, n, dy, dyOff, x, xOff, out, outOff);
        job.runAndClear(par, parts);
    }

    private static void body(int op, int n, float[] dy, int dyOff, float[] x, int xOff,
                             float[] out, int outOff) {
        if (op == BACKWARD) {
            Backend.ELEMENTWISE.geluBackward(n, dy, dyOff, x, xOff, out, outOff);
        } else if (op == BACKWARD_IN_PLACE) {
            Backend.ELEMENTWISE.geluBackwardInto(n, dy, dyOff, x, xOff, out, outOff);
        } else {
            Backend.ELEMENTWISE.geluForward(n, x, xOff, out, outOff);
        }
    }

    /** A parallel region, reused per calling thread so that dispatching allocates nothing. */
    private static final ThreadLocal<Job> JOB = PartJob.perThread(Job::new);

    private static final class Job extends PartJob {
        int op;
        int n, dyOff, xOff, outOff;
        float[] dy, x, out;

        void set(int op, int n, float[] dy, int dyOff, float[] x, int xOff, float[] out, int outOff) {
            this.op = op;
            this.n = n;
            this.dy = dy; this.dyOff = dyOff;
            this.x = x; this.xOff = xOff;
            this.out = out; this.outOff = outOff;
        }

        @Override
        protected void clear() {
            dy = x = out = null;
        }

        @Override
        public void run(int part) {
            int i0 = part * CHUNK, len = Math.min(CHUNK, n - i0);
            body(op, len, dy, dyOff + i0, x, xOff + i0, out, outOff + i0);
        }
    }
}
