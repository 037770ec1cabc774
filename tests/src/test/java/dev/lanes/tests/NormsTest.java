package dev.lanes.tests;

import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.Bits.assertSameBits;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.kernels.Norms;
import dev.lanes.kernels.NormsScalar;
import dev.lanes.kernels.Parallelism;
import dev.lanes.tests.TestSupport.Region;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Norms} (layer norm and RMS norm) and its twin {@link NormsScalar} against references written
 * here in double, on awkward shapes with offsets and sentinel-padded strides; accumulation; the
 * identical views the contract allows; the same bits for every team; validation.
 */
class NormsTest {
    static final int[] COLS = {0, 1, 15, 16, 17, 33, 97, 512, 4099};
    static final int[] ROWS = {0, 1, 3, 33, 70};

    /** A (rows, cols) block at off with stride ld inside a sentinel array. */
    record Mat(float[] a, Region r) {
        static Mat of(int rows, int cols, int off, int ld, SplittableRandom rnd, double scale, double shift) {
            Region r = new Region(off, rows, cols, ld);
            float[] a = TestSupport.sentinels(TestSupport.lengthFor(3, r));
            TestSupport.fill(a, r, rnd, q -> (float) (shift + TestSupport.uniform(q) * scale));
            return new Mat(a, r);
        }

        double at(int i, int j) {
            return a[r.index(i, j)];
        }
    }

    private static float[] vec(SplittableRandom rnd, int n, int off, double scale, double shift) {
        float[] v = TestSupport.sentinels(off + n + 2);
        for (int i = 0; i < n; i++) v[off + i] = (float) (shift + TestSupport.uniform(rnd) * scale);
        return v;
    }

    /** One shape: runs forward and backward of both norms through the facade or the twin, checks all outputs. */
    static void check(int rows, int cols, boolean twin, boolean rms, SplittableRandom rnd) {
        int ld = cols + (rows % 2) * 3 + (cols == 0 ? 1 : 0);
        double shift = rows % 3 == 0 ? 50 : 0; // rows far from 0: the variance must not cancel
        Mat x = Mat.of(rows, cols, 2, ld, rnd, 3, shift);
        Mat y0 = Mat.of(rows, cols, 1, ld + 1, rnd, 1, 0);
        float[] gamma = vec(rnd, cols, 1, 1, 1), beta = vec(rnd, cols, 2, 1, 0);
        float[] mean = vec(rnd, rows, 3, 1, 0), rstd = vec(rnd, rows, 1, 1, 0);
        float[] y = y0.a().clone();
        float eps = 1e-5f;
        String what = (twin ? "twin " : "") + (rms ? "rms" : "ln") + " rows=" + rows + " cols=" + cols;
        if (rms) {
            if (twin) NormsScalar.rmsNormForward(rows, cols, eps, x.a(), 2, ld, gamma, 1, y, 1, ld + 1, rstd, 1);
            else Norms.rmsNormForward(rows, cols, eps, x.a(), 2, ld, gamma, 1, y, 1, ld + 1, rstd, 1);
        } else if (twin) {
            NormsScalar.layerNormForward(rows, cols, eps, x.a(), 2, ld, gamma, 1, beta, 2, y, 1, ld + 1, mean, 3, rstd, 1);
        } else {
            Norms.layerNormForward(rows, cols, eps, x.a(), 2, ld, gamma, 1, beta, 2, y, 1, ld + 1, mean, 3, rstd, 1);
        }
        float[] yRef = y0.a().clone();
        double[] yBound = new double[y.length];
        for (int i = 0; i < rows; i++) {
            double mu = 0, var = 0;
            for (int j = 0; j < cols; j++) mu += x.at(i, j);
            mu = rms || cols == 0 ? 0 : mu / cols;
            for (int j = 0; j < cols; j++) var += (x.at(i, j) - mu) * (x.at(i, j) - mu);
            double s = 1 / Math.sqrt((cols == 0 ? 0 : var / cols) + eps);
            if (!rms) {
                assertThat(Math.abs(mean[3 + i] - mu)).as("%s mean[%d]", what, i).isLessThanOrEqualTo(EPS * Math.abs(mu) + 1e-30);
            }
            assertThat(Math.abs(rstd[1 + i] - s)).as("%s rstd[%d]", what, i).isLessThanOrEqualTo(2 * EPS * s);
            for (int j = 0; j < cols; j++) {
                double g = gamma[1 + j], b = rms ? 0 : beta[2 + j];
                int k = y0.r().index(i, j);
                yRef[k] = (float) ((x.at(i, j) - mu) * s * g + b);
                yBound[k] = 8 * EPS * ((Math.abs(x.at(i, j) - mu) + Math.abs(mu)) * s * Math.abs(g) + Math.abs(b)) + 1e-30;
            }
        }
        TestSupport.assertArray(what + " y", y, y0.a(), TestSupport.inside(y.length, y0.r()), yRef, yBound);

        // backward, accumulating into pre-filled gradients
        Mat dy = Mat.of(rows, cols, 0, ld + 2, rnd, 1, 0);
        Mat dx0 = Mat.of(rows, cols, 3, ld, rnd, 0.5, 0);
        float[] dg0 = vec(rnd, cols, 2, 0.5, 0), db0 = vec(rnd, cols, 1, 0.5, 0);
        float[] dx = dx0.a().clone(), dg = dg0.clone(), db = db0.clone();
        if (rms) {
            if (twin) NormsScalar.rmsNormBackward(rows, cols, dy.a(), 0, ld + 2, x.a(), 2, ld, gamma, 1, rstd, 1, dx, 3, ld, dg, 2);
            else Norms.rmsNormBackward(rows, cols, dy.a(), 0, ld + 2, x.a(), 2, ld, gamma, 1, rstd, 1, dx, 3, ld, dg, 2);
        } else if (twin) {
            NormsScalar.layerNormBackward(rows, cols, dy.a(), 0, ld + 2, x.a(), 2, ld, gamma, 1, mean, 3, rstd, 1,
                    dx, 3, ld, dg, 2, db, 1);
        } else {
            Norms.layerNormBackward(rows, cols, dy.a(), 0, ld + 2, x.a(), 2, ld, gamma, 1, mean, 3, rstd, 1,
                    dx, 3, ld, dg, 2, db, 1);
        }
        float[] dxRef = dx0.a().clone(), dgRef = dg0.clone(), dbRef = db0.clone();
        double[] dxBound = new double[dx.length], dgBound = new double[dg.length], dbBound = new double[db.length];
        double[] sg = new double[cols], sgAbs = new double[cols], sb = new double[cols], sbAbs = new double[cols];
        for (int i = 0; i < rows; i++) {
            double mu = rms ? 0 : mean[3 + i], s = rstd[1 + i];
            double a = 0, aAbs = 0, b = 0, bAbs = 0;
            for (int j = 0; j < cols; j++) {
                double norm = (x.at(i, j) - mu) * s, dnorm = gamma[1 + j] * dy.at(i, j);
                a += dnorm;
                aAbs += Math.abs(dnorm);
                b += dnorm * norm;
                bAbs += Math.abs(dnorm * norm);
                sg[j] += norm * dy.at(i, j);
                sgAbs[j] += Math.abs(norm * dy.at(i, j));
                sb[j] += dy.at(i, j);
                sbAbs[j] += Math.abs(dy.at(i, j));
            }
            a = rms ? 0 : a / cols;
            b /= cols;
            for (int j = 0; j < cols; j++) {
                double norm = (x.at(i, j) - mu) * s, dnorm = gamma[1 + j] * dy.at(i, j);
                int k = dx0.r().index(i, j);
                double ref = dx0.a()[k] + s * (dnorm - a - norm * b);
                dxRef[k] = (float) ref;
                double terms = Math.abs(dnorm) + Math.abs(a) + Math.abs(norm * b);
                double sums = (cols / 8.0 + 4) * EPS * (aAbs + Math.abs(norm) * bAbs) / cols;
                dxBound[k] = s * (8 * EPS * terms + sums) + 2 * EPS * (Math.abs(ref) + Math.abs(dx0.a()[k])) + 1e-30;
            }
        }
        double chain = (Norms.ROW_BLOCK + rows / (double) Norms.ROW_BLOCK + 8) * EPS;
        for (int j = 0; j < cols; j++) {
            dgRef[2 + j] = (float) (dg0[2 + j] + sg[j]);
            dgBound[2 + j] = chain * (sgAbs[j] + Math.abs(dg0[2 + j])) + 1e-30;
            dbRef[1 + j] = (float) (db0[1 + j] + sb[j]);
            dbBound[1 + j] = chain * (sbAbs[j] + Math.abs(db0[1 + j])) + 1e-30;
        }
        TestSupport.assertArray(what + " dx", dx, dx0.a(), TestSupport.inside(dx.length, dx0.r()), dxRef, dxBound);
        TestSupport.assertArray(what + " dgamma", dg, dg0, TestSupport.inside(dg.length, new Region(2, 1, cols, Math.max(1, cols))),
                dgRef, dgBound);
        if (!rms) {
            TestSupport.assertArray(what + " dbeta", db, db0, TestSupport.inside(db.length, new Region(1, 1, cols, Math.max(1, cols))),
                    dbRef, dbBound);
        } else {
            assertSameBits(what + " dbeta untouched", db0, db);
        }
    }

    @Test
    void layerNormMatchesReference() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(81);
            for (int rows : ROWS) for (int cols : COLS) check(rows, cols, false, false, rnd);
        }
    }

    @Test
    void rmsNormMatchesReference() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(82);
            for (int rows : ROWS) for (int cols : COLS) check(rows, cols, false, true, rnd);
        }
    }

    @Test
    void twinMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(83);
        for (int rows : ROWS) {
            for (int cols : COLS) {
                check(rows, cols, true, false, rnd);
                check(rows, cols, true, true, rnd);
            }
        }
    }

    /** Any of dx, dgamma, dbeta may be null: the others get exactly what the full call gives them. */
    @Test
    void optionalGradientsAndIdenticalViews() {
        SplittableRandom rnd = new SplittableRandom(84);
        int rows = 70, cols = 37;
        float[] x = vec(rnd, rows * cols, 0, 2, 0.5), gamma = vec(rnd, cols, 0, 1, 1), beta = vec(rnd, cols, 0, 1, 0);
        float[] dy = vec(rnd, rows * cols, 0, 1, 0);
        float[] y = new float[rows * cols], mean = new float[rows], rstd = new float[rows];
        Norms.layerNormForward(rows, cols, 1e-5f, x, 0, cols, gamma, 0, beta, 0, y, 0, cols, mean, 0, rstd, 0);
        float[] inPlace = x.clone(), mean2 = new float[rows], rstd2 = new float[rows];
        Norms.layerNormForward(rows, cols, 1e-5f, inPlace, 0, cols, gamma, 0, beta, 0, inPlace, 0, cols, mean2, 0, rstd2, 0);
        assertSameBits("in-place y", y, Arrays.copyOf(inPlace, rows * cols));
        assertSameBits("in-place mean", mean, mean2);

        float[] dx = new float[rows * cols], dg = new float[cols], db = new float[cols];
        Norms.layerNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, dx, 0, cols, dg, 0, db, 0);
        float[] dxOnly = new float[rows * cols], dgOnly = new float[cols], dbOnly = new float[cols];
        Norms.layerNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, dxOnly, 0, cols, null, 0, null, 0);
        Norms.layerNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, null, 0, 0, dgOnly, 0, null, 0);
        Norms.layerNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, null, 0, 0, null, 0, dbOnly, 0);
        assertSameBits("dx alone", dx, dxOnly);
        assertSameBits("dgamma alone", dg, dgOnly);
        assertSameBits("dbeta alone", db, dbOnly);
        // dx == dy (same view): accumulates onto dy's own values
        float[] shared = dy.clone(), expect = dy.clone();
        Norms.layerNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, expect, 0, cols, null, 0, null, 0);
        Norms.layerNormBackward(rows, cols, shared, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, shared, 0, cols, null, 0, null, 0);
        assertSameBits("dx == dy", expect, shared);
        float[] rdx = new float[rows * cols], rdg = new float[cols], rdxOnly = new float[rows * cols], rdgOnly = new float[cols];
        Norms.rmsNormForward(rows, cols, 1e-6f, x, 0, cols, gamma, 0, y, 0, cols, rstd, 0);
        Norms.rmsNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, rstd, 0, rdx, 0, cols, rdg, 0);
        Norms.rmsNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, rstd, 0, rdxOnly, 0, cols, null, 0);
        Norms.rmsNormBackward(rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, rstd, 0, null, 0, 0, rdgOnly, 0);
        assertSameBits("rms dx alone", rdx, rdxOnly);
        assertSameBits("rms dgamma alone", rdg, rdgOnly);
    }

    /** Serial, two and three threads: the same bits, the gain and bias gradients included. */
    @Test
    void bitsDoNotDependOnTheTeam() {
        SplittableRandom rnd = new SplittableRandom(85);
        try (Parallelism two = Parallelism.fixed(2); Parallelism three = Parallelism.fixed(3)) {
            for (int[] shape : new int[][] {{1, 17}, {33, 64}, {1000, 77}, {1024, 512}}) {
                int rows = shape[0], cols = shape[1];
                float[] x = vec(rnd, rows * cols, 0, 2, 0.3), gamma = vec(rnd, cols, 0, 1, 1), beta = vec(rnd, cols, 0, 1, 0);
                float[] dy = vec(rnd, rows * cols, 0, 1, 0), dx0 = vec(rnd, rows * cols, 0, 1, 0), dg0 = vec(rnd, cols, 0, 1, 0);
                float[][] want = null;
                for (Parallelism team : new Parallelism[] {Parallelism.serial(), two, three, two}) {
                    float[] y = new float[rows * cols], mean = new float[rows], rstd = new float[rows];
                    float[] dx = dx0.clone(), dg = dg0.clone(), db = dg0.clone();
                    float[] ry = new float[rows * cols], rr = new float[rows], rdx = dx0.clone(), rdg = dg0.clone();
                    Norms.layerNormForward(team, rows, cols, 1e-5f, x, 0, cols, gamma, 0, beta, 0, y, 0, cols, mean, 0, rstd, 0);
                    Norms.layerNormBackward(team, rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0,
                            dx, 0, cols, dg, 0, db, 0);
                    Norms.rmsNormForward(team, rows, cols, 1e-5f, x, 0, cols, gamma, 0, ry, 0, cols, rr, 0);
                    Norms.rmsNormBackward(team, rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, rr, 0, rdx, 0, cols, rdg, 0);
                    float[][] got = {y, mean, rstd, dx, dg, db, ry, rr, rdx, rdg};
                    if (want == null) {
                        want = got;
                    } else {
                        for (int k = 0; k < got.length; k++) {
                            assertSameBits(team + " " + rows + "x" + cols + " output " + k, want[k], got[k]);
                        }
                    }
                }
            }
        }
    }

    static Stream<Arguments> rejections() {
        return Stream.of(
                iae("ldx < cols", "ldx=3 < cols=4", arrays(16, 4, 4, 16, 4, 4),
                        a -> Norms.layerNormForward(2, 4, 1e-5f, a[0], 0, 3, a[1], 0, a[2], 0, a[3], 0, 4, a[4], 0, a[5], 0)),
                iae("eps 0", "eps=0.0", arrays(8, 4, 4, 8, 2, 2),
                        a -> Norms.layerNormForward(2, 4, 0f, a[0], 0, 4, a[1], 0, a[2], 0, a[3], 0, 4, a[4], 0, a[5], 0)),
                iae("mean too short", "mean too short", arrays(8, 4, 4, 8, 1, 2),
                        a -> Norms.layerNormForward(2, 4, 1e-5f, a[0], 0, 4, a[1], 0, a[2], 0, a[3], 0, 4, a[4], 0, a[5], 0)),
                iae("y overlaps x", "y overlaps x", arrays(12, 4, 4, 2, 2),
                        a -> Norms.layerNormForward(2, 4, 1e-5f, a[0], 0, 4, a[1], 0, a[2], 0, a[0], 2, 4, a[3], 0, a[4], 0)),
                iae("dgamma too short", "dgamma too short", arrays(8, 8, 4, 2, 2, 8, 3, 4),
                        a -> Norms.layerNormBackward(2, 4, a[0], 0, 4, a[1], 0, 4, a[2], 0, a[3], 0, a[4], 0, a[5], 0, 4,
                                a[6], 0, a[7], 0)),
                iae("dx overlaps x", "dx overlaps x", arrays(8, 12, 4, 2, 2, 4, 4),
                        a -> Norms.layerNormBackward(2, 4, a[0], 0, 4, a[1], 0, 4, a[2], 0, a[3], 0, a[4], 0, a[1], 1, 4,
                                a[5], 0, a[6], 0)),
                iae("rms rstd too short", "rstd too short", arrays(8, 4, 8, 1),
                        a -> Norms.rmsNormForward(2, 4, 1e-5f, a[0], 0, 4, a[1], 0, a[2], 0, 4, a[3], 0)),
                iae("rms lddy", "lddy=2 < cols=4", arrays(8, 8, 4, 2, 8, 4),
                        a -> Norms.rmsNormBackward(2, 4, a[0], 0, 2, a[1], 0, 4, a[2], 0, a[3], 0, a[4], 0, 4, a[5], 0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rejections")
    void rejectsBeforeWriting(Rejection r) {
        r.verify();
    }
}
