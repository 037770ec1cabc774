package dev.lanes.tests;

import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.TestSupport.assertArray;
import static dev.lanes.tests.Bits.assertSameBits;
import static dev.lanes.tests.TestSupport.fill;
import static dev.lanes.tests.TestSupport.inside;
import static dev.lanes.tests.TestSupport.lengthFor;
import static dev.lanes.tests.TestSupport.sentinels;
import static dev.lanes.tests.TestSupport.uniform;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.ResidualAddScalar;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.SoftmaxScalar;
import dev.lanes.kernels.Transpose;
import dev.lanes.tests.TestSupport.Region;
import java.util.SplittableRandom;

/**
 * One differential case per kernel call: builds sentinel-padded operands from a random source, runs the
 * facade and the scalar twin on identical copies, and checks the whole output array (inside the block
 * within an error bound that scales with the reduction length, outside bit for bit) and that inputs
 * were not written. Used by the per-facade tests and by {@link FuzzTest}.
 */
final class KernelCases {
    private KernelCases() {}

    /** A case that draws its data from rnd, runs facade and twin, and throws AssertionError on mismatch. */
    interface Checked {
        void check(SplittableRandom rnd);
    }

    // =============================================================================================
    // GEMM

    /**
     * One (possibly strided-batched) GEMM. {@code batchedApi} calls sgemmStridedBatched even for one
     * matrix; {@code nanC} fills C with NaN (only meaningful with beta == 0), {@code nanAB} fills A and B
     * with NaN (only meaningful with alpha == 0 or k == 0); {@code par} null means the overload without
     * a team. {@code exp} scales the random values by 2^exp (A, B and C alike).
     */
    record GemmCase(Transpose ta, Transpose tb, int m, int n, int k, float alpha, float beta,
                    int aOff, int lda, int bOff, int ldb, int cOff, int ldc,
                    int batch, boolean batchedApi, int strideA, int strideB, int strideC,
                    boolean nanC, boolean nanAB, int exp, Parallelism par) implements Checked {

        /** A single product with random small offsets and padded leading dimensions. */
        static GemmCase of(Transpose ta, Transpose tb, int m, int n, int k, float alpha, float beta,
                           SplittableRandom rnd) {
            int aCols = ta == Transpose.N ? k : m, bCols = tb == Transpose.N ? n : k;
            return new GemmCase(ta, tb, m, n, k, alpha, beta,
                    rnd.nextInt(5), TestSupport.ld(rnd, aCols), rnd.nextInt(5), TestSupport.ld(rnd, bCols),
                    rnd.nextInt(5), TestSupport.ld(rnd, n), 1, false, 0, 0, 0, beta == 0f, false, 0, null);
        }

        int aRows() { return ta == Transpose.N ? m : k; }
        int aCols() { return ta == Transpose.N ? k : m; }
        int bRows() { return tb == Transpose.N ? k : n; }
        int bCols() { return tb == Transpose.N ? n : k; }

        /** Contiguous size of one stored matrix: the smallest stride that keeps two from overlapping. */
        static int extent(int rows, int cols, int ld) {
            return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
        }

        GemmCase batched(int batch, int strideA, int strideB, int strideC) {
            return new GemmCase(ta, tb, m, n, k, alpha, beta, aOff, lda, bOff, ldb, cOff, ldc, batch, true,
                    strideA, strideB, strideC, nanC, nanAB, exp, par);
        }

        GemmCase withNaN(boolean nanC, boolean nanAB) {
            return new GemmCase(ta, tb, m, n, k, alpha, beta, aOff, lda, bOff, ldb, cOff, ldc, batch, batchedApi,
                    strideA, strideB, strideC, nanC, nanAB, exp, par);
        }

        GemmCase withExp(int exp) {
            return new GemmCase(ta, tb, m, n, k, alpha, beta, aOff, lda, bOff, ldb, cOff, ldc, batch, batchedApi,
                    strideA, strideB, strideC, nanC, nanAB, exp, par);
        }

        GemmCase on(Parallelism par) {
            return new GemmCase(ta, tb, m, n, k, alpha, beta, aOff, lda, bOff, ldb, cOff, ldc, batch, batchedApi,
                    strideA, strideB, strideC, nanC, nanAB, exp, par);
        }

        /** Runs the case (data drawn from rnd) and checks it; throws AssertionError naming the case. */
        @Override
        public void check(SplittableRandom rnd) {
            int count = Math.max(batch, 1);
            Region[] as = new Region[count], bs = new Region[count], cs = new Region[count];
            for (int i = 0; i < count; i++) {
                as[i] = new Region(aOff + i * strideA, aRows(), aCols(), lda);
                bs[i] = new Region(bOff + i * strideB, bRows(), bCols(), ldb);
                cs[i] = new Region(cOff + i * strideC, m, n, ldc);
            }
            float[] a = sentinels(lengthFor(rnd.nextInt(4), as));
            float[] b = sentinels(lengthFor(rnd.nextInt(4), bs));
            float[] c = sentinels(lengthFor(rnd.nextInt(4), cs));
            float s = (float) Math.scalb(1.0, exp);
            for (int i = 0; i < count; i++) {
                fill(a, as[i], rnd, r -> nanAB ? Float.NaN : uniform(r) * s);
                fill(b, bs[i], rnd, r -> nanAB ? Float.NaN : uniform(r) * s);
                fill(c, cs[i], rnd, r -> nanC ? Float.NaN : uniform(r) * s);
            }
            float[] a0 = a.clone(), b0 = b.clone(), c0 = c.clone();
            if (batch == 0) {
                cs = new Region[0]; // nothing may be written
            }

            float[] got = c.clone();
            try {
                if (batchedApi) {
                    if (par == null) {
                        Gemm.sgemmStridedBatched(batch, ta, tb, m, n, k, alpha, a, aOff, lda, strideA,
                                b, bOff, ldb, strideB, beta, got, cOff, ldc, strideC);
                    } else {
                        Gemm.sgemmStridedBatched(par, batch, ta, tb, m, n, k, alpha, a, aOff, lda, strideA,
                                b, bOff, ldb, strideB, beta, got, cOff, ldc, strideC);
                    }
                } else if (par == null) {
                    Gemm.sgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, got, cOff, ldc);
                } else {
                    Gemm.sgemm(par, ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, got, cOff, ldc);
                }
            } catch (RuntimeException e) {
                throw new AssertionError(this + ": Gemm threw " + e, e);
            }
            float[] ref = c0.clone();
            if (batchedApi) {
                GemmScalar.sgemmStridedBatched(batch, ta, tb, m, n, k, alpha, a0, aOff, lda, strideA,
                        b0, bOff, ldb, strideB, beta, ref, cOff, ldc, strideC);
            } else {
                GemmScalar.sgemm(ta, tb, m, n, k, alpha, a0, aOff, lda, b0, bOff, ldb, beta, ref, cOff, ldc);
            }

            // Bound per element: 2 (k + 4) eps (|alpha| sum_p |a_ip b_pj| + |beta c_ij|), in double.
            double[] bound = new double[c.length];
            boolean readsAB = alpha != 0f && k > 0;
            for (int q = 0; q < cs.length; q++) {
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double abs = 0;
                        if (readsAB) {
                            for (int p = 0; p < k; p++) {
                                float av = ta == Transpose.N ? a0[as[q].index(i, p)] : a0[as[q].index(p, i)];
                                float bv = tb == Transpose.N ? b0[bs[q].index(p, j)] : b0[bs[q].index(j, p)];
                                abs += Math.abs((double) av * bv);
                            }
                        }
                        int ci = cs[q].index(i, j);
                        double cTerm = beta == 0f ? 0 : Math.abs((double) beta * c0[ci]);
                        bound[ci] = 2.0 * (k + 4) * EPS * (Math.abs(alpha) * abs + cTerm) + Float.MIN_NORMAL;
                    }
                }
            }
            String what = "C of " + this;
            assertArray(what, got, c0, inside(c.length, cs), ref, bound);
            assertSameBits("A (an input) of " + this, a0, a);
            assertSameBits("B (an input) of " + this, b0, b);
        }
    }

    // =============================================================================================
    // Softmax forward

    /**
     * One softmax forward call. {@code maskNegInf} is the share of -inf mask entries; {@code poison}
     * puts NaN where the contract says x is not read (causally hidden, or mask -inf); {@code infShare}
     * replaces that share of x with +-inf or +-3e38; {@code overload} 0 = full signature, 1 = plain,
     * 2 = scale only.
     */
    record SoftmaxCase(int rows, int cols, float scale, boolean causal, int causalOffset,
                       boolean mask, double maskNegInf, int xOff, int ldx, int yOff, int ldy, int maskOff, int ldmask,
                       boolean inPlace, float range, double infShare, boolean poison, int overload) implements Checked {

        static SoftmaxCase of(int rows, int cols, float scale, boolean causal, int causalOffset, boolean mask,
                              boolean inPlace, SplittableRandom rnd) {
            int xOff = rnd.nextInt(5), ldx = TestSupport.ld(rnd, cols);
            return new SoftmaxCase(rows, cols, scale, causal, causalOffset, mask, mask ? 0.2 : 0,
                    xOff, ldx, inPlace ? xOff : rnd.nextInt(5), inPlace ? ldx : TestSupport.ld(rnd, cols),
                    rnd.nextInt(5), TestSupport.ld(rnd, cols), inPlace, 4f, 0, true, 0);
        }

        @Override
        public void check(SplittableRandom rnd) {
            Region xr = new Region(xOff, rows, cols, ldx), yr = new Region(yOff, rows, cols, ldy);
            Region mr = new Region(maskOff, rows, cols, ldmask);
            float[] x = sentinels(lengthFor(rnd.nextInt(4), xr));
            fill(x, xr, rnd, r -> {
                if (infShare > 0 && r.nextDouble() < infShare) {
                    return TestSupport.pick(r, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 3e38f, -3e38f,
                            Float.MAX_VALUE);
                }
                return uniform(r) * range;
            });
            float[] m = null;
            if (mask) {
                m = sentinels(lengthFor(rnd.nextInt(4), mr));
                fill(m, mr, rnd, r -> r.nextDouble() < maskNegInf ? Float.NEGATIVE_INFINITY : uniform(r) * 2);
            }
            if (poison) { // entries the contract never reads: NaN there must not reach y
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        boolean hidden = causal && (long) j > (long) i + causalOffset;
                        if (hidden || (m != null && m[mr.index(i, j)] == Float.NEGATIVE_INFINITY)) {
                            x[xr.index(i, j)] = Float.NaN;
                        }
                    }
                }
            }
            float[] y = inPlace ? x : sentinels(lengthFor(rnd.nextInt(4), yr));
            float[] x0 = x.clone(), y0 = y.clone(), m0 = m == null ? null : m.clone();

            float[] gx = x.clone(), gm = m == null ? null : m.clone();
            float[] gy = inPlace ? gx : y.clone();
            try {
                switch (overload) {
                    case 1 -> Softmax.forward(rows, cols, gx, xOff, ldx, gy, yOff, ldy);
                    case 2 -> Softmax.forward(rows, cols, scale, gx, xOff, ldx, gy, yOff, ldy);
                    default -> Softmax.forward(rows, cols, scale, causal, causalOffset, gm, maskOff, ldmask,
                            gx, xOff, ldx, gy, yOff, ldy);
                }
            } catch (RuntimeException e) {
                throw new AssertionError(this + ": Softmax.forward threw " + e, e);
            }
            float[] rx = x0.clone(), rm = m0 == null ? null : m0.clone();
            float[] ry = inPlace ? rx : y0.clone();
            boolean full = overload == 0;
            SoftmaxScalar.forward(rows, cols, overload == 1 ? 1f : scale, full && causal, causalOffset,
                    full ? rm : null, maskOff, ldmask, rx, xOff, ldx, ry, yOff, ldy);

            double[] bound = new double[y.length];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    int yi = yr.index(i, j);
                    bound[yi] = softmaxBound(ry[yi], cols);
                }
            }
            assertArray("y of " + this, gy, y0, inside(y.length, yr), ry, bound);
            if (!inPlace) {
                assertSameBits("x (an input) of " + this, x0, gx);
            }
            if (m != null) {
                assertSameBits("mask (an input) of " + this, m0, gm);
            }
        }
    }

    /**
     * Error bound for one softmax output against the double oracle: the float sum of cols terms
     * (cols eps), the exponential and the normalisation (a few eps), and z - max rounded in float,
     * whose absolute error |z - max| eps becomes a relative error of exp; |z - max| <= |ln y|. Plus
     * an absolute 16 MIN_NORMAL for results in the subnormal range.
     */
    static double softmaxBound(float ref, int cols) {
        if (!(ref > 0f) || Float.isInfinite(ref)) {
            return 16 * Float.MIN_NORMAL;
        }
        return 2 * (cols + Math.abs(Math.log(ref)) + 8) * EPS * ref + 16 * Float.MIN_NORMAL;
    }

    // =============================================================================================
    // Softmax backward

    enum SoftmaxAlias { NONE, DX_IS_DY, DX_IS_Y }

    record SoftmaxBackwardCase(int rows, int cols, float scale, int dyOff, int lddy, int yOff, int ldy,
                               int dxOff, int lddx, SoftmaxAlias alias, boolean accumulate) implements Checked {

        static SoftmaxBackwardCase of(int rows, int cols, float scale, SoftmaxAlias alias, SplittableRandom rnd) {
            int dyOff = rnd.nextInt(5), lddy = TestSupport.ld(rnd, cols);
            int yOff = rnd.nextInt(5), ldy = TestSupport.ld(rnd, cols);
            int dxOff = switch (alias) { case DX_IS_DY -> dyOff; case DX_IS_Y -> yOff; default -> rnd.nextInt(5); };
            int lddx = switch (alias) { case DX_IS_DY -> lddy; case DX_IS_Y -> ldy; default -> TestSupport.ld(rnd, cols); };
            return new SoftmaxBackwardCase(rows, cols, scale, dyOff, lddy, yOff, ldy, dxOff, lddx, alias, true);
        }

        /** accumulate == false starts dx at zero (the overwrite idiom: zero first, then add). */
        SoftmaxBackwardCase withAccumulate(boolean accumulate) {
            return new SoftmaxBackwardCase(rows, cols, scale, dyOff, lddy, yOff, ldy, dxOff, lddx, alias, accumulate);
        }

        @Override
        public void check(SplittableRandom rnd) {
            Region dyr = new Region(dyOff, rows, cols, lddy), yr = new Region(yOff, rows, cols, ldy);
            Region dxr = new Region(dxOff, rows, cols, lddx);
            float[] dy = sentinels(lengthFor(rnd.nextInt(4), dyr));
            fill(dy, dyr, rnd, TestSupport::uniform);
            float[] y = sentinels(lengthFor(rnd.nextInt(4), yr));
            for (int i = 0; i < rows; i++) { // a distribution per row, with some exact zeros (masked)
                double sum = 0;
                float[] row = new float[cols];
                for (int j = 0; j < cols; j++) {
                    row[j] = rnd.nextInt(8) == 0 ? 0f : (float) Math.exp(4 * rnd.nextDouble() - 2);
                    sum += row[j];
                }
                for (int j = 0; j < cols; j++) {
                    y[yr.index(i, j)] = sum == 0 ? 0f : (float) (row[j] / sum);
                }
            }
            float[] dx = switch (alias) {
                case DX_IS_DY -> dy;
                case DX_IS_Y -> y;
                default -> {
                    float[] d = sentinels(lengthFor(rnd.nextInt(4), dxr));
                    fill(d, dxr, rnd, r -> accumulate ? uniform(r) : 0f);
                    yield d;
                }
            };
            float[] dy0 = dy.clone(), y0 = y.clone(), dx0 = dx.clone();

            float[] gdy = dy.clone(), gy = y.clone();
            float[] gdx = alias == SoftmaxAlias.DX_IS_DY ? gdy : alias == SoftmaxAlias.DX_IS_Y ? gy : dx.clone();
            try {
                Softmax.backward(rows, cols, scale, gdy, dyOff, lddy, gy, yOff, ldy, gdx, dxOff, lddx);
            } catch (RuntimeException e) {
                throw new AssertionError(this + ": Softmax.backward threw " + e, e);
            }
            float[] rdy = dy0.clone(), ry = y0.clone();
            float[] rdx = alias == SoftmaxAlias.DX_IS_DY ? rdy : alias == SoftmaxAlias.DX_IS_Y ? ry : dx0.clone();
            SoftmaxScalar.backward(rows, cols, scale, rdy, dyOff, lddy, ry, yOff, ldy, rdx, dxOff, lddx);

            // dx += scale y (dy - dot): dot carries cols eps sum|dy y|; the rest a few roundings.
            double[] bound = new double[dx.length];
            for (int i = 0; i < rows; i++) {
                double absDot = 0;
                for (int j = 0; j < cols; j++) {
                    absDot += Math.abs((double) dy0[dyr.index(i, j)] * y0[yr.index(i, j)]);
                }
                for (int j = 0; j < cols; j++) {
                    int di = dxr.index(i, j);
                    double yv = Math.abs(y0[yr.index(i, j)]), g = Math.abs(dy0[dyr.index(i, j)]);
                    bound[di] = 2 * EPS * (Math.abs(dx0[di]) + scale * yv * (2 * g + (cols + 3) * absDot))
                            + Float.MIN_NORMAL;
                }
            }
            assertArray("dx of " + this, gdx, dx0, inside(dx.length, dxr), rdx, bound);
            if (alias != SoftmaxAlias.DX_IS_DY) {
                assertSameBits("dy (an input) of " + this, dy0, gdy);
            }
            if (alias != SoftmaxAlias.DX_IS_Y) {
                assertSameBits("y (an input) of " + this, y0, gy);
            }
        }
    }

    // =============================================================================================
    // ResidualAdd forward

    enum ResidualAlias { NONE, Y_IS_X, Y_IS_F }

    /** One forward call; {@code simple} uses the overload without alpha and bias. */
    record ResidualCase(int rows, int cols, float alpha, boolean bias, int biasOff, int xOff, int ldx,
                        int fOff, int ldf, int yOff, int ldy, ResidualAlias alias, boolean simple) implements Checked {

        static ResidualCase of(int rows, int cols, float alpha, boolean bias, ResidualAlias alias,
                               SplittableRandom rnd) {
            int xOff = rnd.nextInt(5), ldx = TestSupport.ld(rnd, cols);
            int fOff = rnd.nextInt(5), ldf = TestSupport.ld(rnd, cols);
            int yOff = switch (alias) { case Y_IS_X -> xOff; case Y_IS_F -> fOff; default -> rnd.nextInt(5); };
            int ldy = switch (alias) { case Y_IS_X -> ldx; case Y_IS_F -> ldf; default -> TestSupport.ld(rnd, cols); };
            return new ResidualCase(rows, cols, alpha, bias, rnd.nextInt(5), xOff, ldx, fOff, ldf, yOff, ldy, alias,
                    false);
        }

        /** The same layout through the overload without alpha and bias. */
        ResidualCase viaSimpleOverload() {
            return new ResidualCase(rows, cols, alpha, bias, biasOff, xOff, ldx, fOff, ldf, yOff, ldy, alias, true);
        }

        @Override
        public void check(SplittableRandom rnd) {
            Region xr = new Region(xOff, rows, cols, ldx), fr = new Region(fOff, rows, cols, ldf);
            Region yr = new Region(yOff, rows, cols, ldy), br = new Region(biasOff, 1, cols, cols);
            float[] x = sentinels(lengthFor(rnd.nextInt(4), xr));
            float[] f = sentinels(lengthFor(rnd.nextInt(4), fr));
            fill(x, xr, rnd, r -> uniform(r) * 4);
            fill(f, fr, rnd, TestSupport::uniform);
            float[] b = null;
            if (bias) {
                b = sentinels(lengthFor(rnd.nextInt(4), br));
                fill(b, br, rnd, TestSupport::uniform);
            }
            float[] y = switch (alias) {
                case Y_IS_X -> x;
                case Y_IS_F -> f;
                default -> sentinels(lengthFor(rnd.nextInt(4), yr));
            };
            float[] x0 = x.clone(), f0 = f.clone(), b0 = b == null ? null : b.clone(), y0 = y.clone();

            float[] gx = x.clone(), gf = f.clone(), gb = b == null ? null : b.clone();
            float[] gy = alias == ResidualAlias.Y_IS_X ? gx : alias == ResidualAlias.Y_IS_F ? gf : y.clone();
            float a = simple ? 1f : alpha;
            try {
                if (simple) {
                    ResidualAdd.forward(rows, cols, gx, xOff, ldx, gf, fOff, ldf, gy, yOff, ldy);
                } else {
                    ResidualAdd.forward(rows, cols, alpha, gx, xOff, ldx, gf, fOff, ldf, gb, biasOff, gy, yOff, ldy);
                }
            } catch (RuntimeException e) {
                throw new AssertionError(this + ": ResidualAdd.forward threw " + e, e);
            }
            float[] rx = x0.clone(), rf = f0.clone(), rb = b0 == null ? null : b0.clone();
            float[] ry = alias == ResidualAlias.Y_IS_X ? rx : alias == ResidualAlias.Y_IS_F ? rf : y0.clone();
            ResidualAddScalar.forward(rows, cols, a, rx, xOff, ldx, rf, fOff, ldf, simple ? null : rb, biasOff,
                    ry, yOff, ldy);

            // One rounding of f + bias (scaled by alpha) and one of the result, on each side.
            double[] bound = new double[y.length];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    double bj = simple || b0 == null ? 0 : Math.abs(b0[br.index(0, j)]);
                    bound[yr.index(i, j)] = 2 * EPS * (Math.abs(x0[xr.index(i, j)])
                            + Math.abs(a) * (Math.abs(f0[fr.index(i, j)]) + bj)) + Float.MIN_VALUE;
                }
            }
            assertArray("y of " + this, gy, y0, inside(y.length, yr), ry, bound);
            if (alias != ResidualAlias.Y_IS_X) {
                assertSameBits("x (an input) of " + this, x0, gx);
            }
            if (alias != ResidualAlias.Y_IS_F) {
                assertSameBits("f (an input) of " + this, f0, gf);
            }
            if (gb != null) {
                assertSameBits("bias (an input) of " + this, b0, gb);
            }
        }
    }

    // =============================================================================================
    // ResidualAdd backward

    enum GradAlias { NONE, DX_IS_DY, DF_IS_DY }

    record ResidualBackwardCase(int rows, int cols, float alpha, int dyOff, int lddy,
                                boolean dx, int dxOff, int lddx, boolean df, int dfOff, int lddf,
                                boolean dbias, int dbiasOff, GradAlias alias, boolean accumulate) implements Checked {

        static ResidualBackwardCase of(int rows, int cols, float alpha, boolean dx, boolean df, boolean dbias,
                                       GradAlias alias, SplittableRandom rnd) {
            int dyOff = rnd.nextInt(5), lddy = TestSupport.ld(rnd, cols);
            boolean dxAlias = alias == GradAlias.DX_IS_DY, dfAlias = alias == GradAlias.DF_IS_DY;
            return new ResidualBackwardCase(rows, cols, alpha, dyOff, lddy,
                    dx || dxAlias, dxAlias ? dyOff : rnd.nextInt(5), dxAlias ? lddy : TestSupport.ld(rnd, cols),
                    df || dfAlias, dfAlias ? dyOff : rnd.nextInt(5), dfAlias ? lddy : TestSupport.ld(rnd, cols),
                    dbias, rnd.nextInt(5), alias, true);
        }

        ResidualBackwardCase withAccumulate(boolean accumulate) {
            return new ResidualBackwardCase(rows, cols, alpha, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf, dbias,
                    dbiasOff, alias, accumulate);
        }

        @Override
        public void check(SplittableRandom rnd) {
            Region dyr = new Region(dyOff, rows, cols, lddy), dxr = new Region(dxOff, rows, cols, lddx);
            Region dfr = new Region(dfOff, rows, cols, lddf), dbr = new Region(dbiasOff, 1, cols, cols);
            float[] dy = sentinels(lengthFor(rnd.nextInt(4), dyr));
            fill(dy, dyr, rnd, TestSupport::uniform);
            TestSupport.ValueSource acc = r -> accumulate ? uniform(r) * 3 : 0f;
            float[] gx = null, gf = null, gb = null;
            if (dx) {
                gx = alias == GradAlias.DX_IS_DY ? dy : sentinels(lengthFor(rnd.nextInt(4), dxr));
                if (gx != dy) fill(gx, dxr, rnd, acc);
            }
            if (df) {
                gf = alias == GradAlias.DF_IS_DY ? dy : sentinels(lengthFor(rnd.nextInt(4), dfr));
                if (gf != dy) fill(gf, dfr, rnd, acc);
            }
            if (dbias) {
                gb = sentinels(lengthFor(rnd.nextInt(4), dbr));
                fill(gb, dbr, rnd, acc);
            }
            float[] dy0 = dy.clone();
            float[] dx0 = gx == null ? null : gx.clone(), df0 = gf == null ? null : gf.clone();
            float[] db0 = gb == null ? null : gb.clone();

            // Facade on one set of copies, twin on another; aliases preserved in both.
            float[] fdy = dy0.clone();
            float[] fdx = gx == null ? null : alias == GradAlias.DX_IS_DY ? fdy : dx0.clone();
            float[] fdf = gf == null ? null : alias == GradAlias.DF_IS_DY ? fdy : df0.clone();
            float[] fdb = db0 == null ? null : db0.clone();
            try {
                ResidualAdd.backward(rows, cols, alpha, fdy, dyOff, lddy, fdx, dxOff, lddx, fdf, dfOff, lddf,
                        fdb, dbiasOff);
            } catch (RuntimeException e) {
                throw new AssertionError(this + ": ResidualAdd.backward threw " + e, e);
            }
            float[] rdy = dy0.clone();
            float[] rdx = gx == null ? null : alias == GradAlias.DX_IS_DY ? rdy : dx0.clone();
            float[] rdf = gf == null ? null : alias == GradAlias.DF_IS_DY ? rdy : df0.clone();
            float[] rdb = db0 == null ? null : db0.clone();
            ResidualAddScalar.backward(rows, cols, alpha, rdy, dyOff, lddy, rdx, dxOff, lddx, rdf, dfOff, lddf,
                    rdb, dbiasOff);

            if (fdx != null) {
                double[] bound = new double[fdx.length];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        int o = dxr.index(i, j);
                        bound[o] = 2 * EPS * (Math.abs(dx0[o]) + Math.abs(dy0[dyr.index(i, j)])) + Float.MIN_VALUE;
                    }
                }
                assertArray("dx of " + this, fdx, dx0, inside(fdx.length, dxr), rdx, bound);
            }
            if (fdf != null) {
                double[] bound = new double[fdf.length];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        int o = dfr.index(i, j);
                        bound[o] = 2 * EPS * (Math.abs(df0[o]) + Math.abs(alpha * dy0[dyr.index(i, j)]))
                                + Float.MIN_VALUE;
                    }
                }
                assertArray("df of " + this, fdf, df0, inside(fdf.length, dfr), rdf, bound);
            }
            if (fdb != null) {
                double[] bound = new double[fdb.length];
                for (int j = 0; j < cols; j++) {
                    double abs = 0;
                    for (int i = 0; i < rows; i++) {
                        abs += Math.abs(dy0[dyr.index(i, j)]);
                    }
                    int o = dbr.index(0, j);
                    bound[o] = 2 * EPS * (Math.abs(db0[o]) + Math.abs(alpha) * (rows + 2) * abs) + Float.MIN_VALUE;
                }
                assertArray("dbias of " + this, fdb, db0, inside(fdb.length, dbr), rdb, bound);
            }
            if (alias == GradAlias.NONE) {
                assertSameBits("dy (an input) of " + this, dy0, fdy);
            }
        }
    }
}
