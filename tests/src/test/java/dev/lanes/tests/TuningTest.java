package dev.lanes.tests;

import static dev.lanes.kernels.Transpose.N;
import static dev.lanes.kernels.Transpose.T;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import dev.lanes.kernels.Tuning;
import dev.lanes.tests.KernelCases.GemmCase;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every tile shape and blocking path of {@link Tuning}, forced in this JVM whatever this CPU would
 * choose, against the scalar twin (differential), the exact integer identity and across team sizes
 * (same bits); and the claim of the tile family that shape and packing never change the bits.
 */
class TuningTest {
    private Tuning saved;

    @BeforeEach
    void save() {
        assumeThat(Backend.simdEnabled()).as("tunings apply to the SIMD kernels").isTrue();
        saved = Tuning.current();
    }

    @AfterEach
    void restore() {
        if (saved != null) {
            Tuning.use(saved);
        }
    }

    /** Each tile at the default blocks, and the blocking paths on two shapes of each register budget. */
    static Stream<String> tunings() {
        List<String> specs = new ArrayList<>();
        for (Tuning.Tile t : Tuning.Tile.values()) {
            specs.add("tile=" + t.label());
        }
        // small KC, MC and NC: many k blocks, row blocks and column blocks on small products
        specs.add("tile=6x4,kc=37,mc=13,nc=100,pack=always");
        specs.add("tile=12x2,kc=64,mc=30,pack=never,directBMaxM=100000");
        specs.add("tile=6x2,kc=50,mc=7,nc=20,pack=aliased,directBMaxM=0");
        specs.add("tile=14x2,kc=29,pack=always,directBMaxM=0");
        return specs.stream();
    }

    private static final Transpose[][] TRANSPOSES = {{N, N}, {N, T}, {T, N}, {T, T}};

    /** Sizes at and around the tile and block edges of t (several MC x NC blocks only where they are small). */
    private static List<int[]> shapes(Tuning t) {
        int mr = t.mr(), nr = t.nr(), kc = t.kc();
        List<int[]> s = new ArrayList<>(List.of(new int[] {1, 1, 1}, new int[] {mr, nr, kc},
                new int[] {mr - 1, nr + 1, kc + 1}, new int[] {mr + 1, nr - 1, 2 * kc + 3},
                new int[] {3 * mr + 2, 2 * nr + 5, kc - 1}, new int[] {t.mc() + mr + 1, nr + 3, 17},
                new int[] {5, t.nc() + nr + 2, 33}));
        if (t.nc() <= 256) {
            s.add(new int[] {2 * t.mc() + 3, 2 * t.nc() + 7, kc + 5});
        }
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tunings")
    void agreesWithTheScalarTwin(String spec) {
        Tuning.use(Tuning.defaults().with(spec, "test"));
        Tuning t = Tuning.current();
        SplittableRandom rnd = new SplittableRandom(spec.hashCode());
        int i = 0;
        for (int[] s : shapes(t)) {
            for (Transpose[] tr : TRANSPOSES) {
                float alpha = i % 3 == 0 ? 1f : -1.25f, beta = new float[] {0f, 1f, 0.5f}[i % 3];
                i++;
                GemmCase.of(tr[0], tr[1], Math.max(1, s[0]), Math.max(1, s[1]), Math.max(1, s[2]), alpha, beta, rnd)
                        .check(rnd);
            }
        }
    }

    /**
     * The tuning in force (the one a -Dlanes.tuning execution in tests/pom.xml starts with): its tile
     * and block edges against the scalar twin, the same bits on 1 and 2 threads, the exact identity.
     */
    @Test
    void inForceAgreesWithTheTwinAndAcrossThreads() {
        SplittableRandom rnd = new SplittableRandom(99);
        int i = 0;
        for (int[] s : shapes(saved)) {
            Transpose[] tr = TRANSPOSES[i++ % 4];
            GemmCase.of(tr[0], tr[1], Math.max(1, s[0]), Math.max(1, s[1]), Math.max(1, s[2]), 0.5f, i % 2, rnd)
                    .check(rnd);
        }
        for (Transpose[] tr : TRANSPOSES) {
            int[] s = {2 * saved.mc() + 7, saved.nr() + 11, saved.kc() + 9};
            assertThat(run(2, tr, s, 5)).as("%s %s%s: 2 threads vs 1", saved.spec(), tr[0], tr[1])
                    .isEqualTo(run(1, tr, s, 5));
        }
        exactIdentity(saved.spec());
    }

    /** Row strides of 1024 floats (4 KiB): the aliased case, where A is packed and B never read in place. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("tunings")
    void aliasedStrides(String spec) {
        Tuning.use(Tuning.defaults().with(spec, "test"));
        SplittableRandom rnd = new SplittableRandom(11 + spec.hashCode());
        for (Transpose[] tr : TRANSPOSES) {
            new GemmCase(tr[0], tr[1], 37, 70, 300, 0.5f, 1f, 3, 1024, 1, 1024, 2, 1024, 1, false, 0, 0, 0,
                    false, false, 0, null).check(rnd);
        }
    }

    /** Small integers: every partial sum exact, so C t == alpha A (B t) + beta C0 t exactly, on 2 threads. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("tunings")
    void exactIdentityOnSmallIntegers(String spec) {
        Tuning.use(Tuning.defaults().with(spec, "test"));
        exactIdentity(spec);
    }

    private static void exactIdentity(String spec) {
        SplittableRandom rnd = new SplittableRandom(5);
        int m = 113, n = 150, k = 140;
        for (Transpose[] tr : TRANSPOSES) {
            float[] a = ints(rnd, m * k), b = ints(rnd, k * n), c0 = ints(rnd, m * n), c = c0.clone();
            int lda = tr[0] == N ? k : m, ldb = tr[1] == N ? n : k;
            try (Parallelism team = Parallelism.fixed(2)) {
                Gemm.sgemm(team, tr[0], tr[1], m, n, k, -2f, a, 0, lda, b, 0, ldb, 3f, c, 0, n);
            }
            double[] t = new double[n];
            for (int j = 0; j < n; j++) {
                t[j] = rnd.nextInt(5) - 2;
            }
            double[] bt = new double[k];
            for (int p = 0; p < k; p++) {
                for (int j = 0; j < n; j++) {
                    bt[p] += (tr[1] == N ? b[p * ldb + j] : b[j * ldb + p]) * t[j];
                }
            }
            for (int i = 0; i < m; i++) {
                double lhs = 0, rhs = 0;
                for (int j = 0; j < n; j++) {
                    lhs += c[i * n + j] * t[j];
                    rhs += 3.0 * c0[i * n + j] * t[j];
                }
                for (int p = 0; p < k; p++) {
                    rhs += -2.0 * (tr[0] == N ? a[i * lda + p] : a[p * lda + i]) * bt[p];
                }
                assertThat(lhs).as("%s %s%s row %d", spec, tr[0], tr[1], i).isEqualTo(rhs);
            }
        }
    }

    private static float[] ints(SplittableRandom rnd, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = rnd.nextInt(9) - 4;
        }
        return x;
    }

    /** Same bits on teams of 1, 2 and 3 threads, split by rows (m >= n) and by columns (m < n). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("tunings")
    void sameBitsForAnyThreadCount(String spec) {
        Tuning.use(Tuning.defaults().with(spec, "test"));
        SplittableRandom rnd = new SplittableRandom(3);
        for (int[] s : new int[][] {{301, 97, 211}, {61, 389, 263}}) {
            for (Transpose[] tr : TRANSPOSES) {
                float[] one = run(1, tr, s, 17), two = run(2, tr, s, 17), three = run(3, tr, s, 17);
                assertThat(two).as("%s %s%s %s: 2 threads vs 1", spec, tr[0], tr[1], java.util.Arrays.toString(s))
                        .isEqualTo(one);
                assertThat(three).as("%s: 3 threads vs 1", spec).isEqualTo(one);
            }
        }
    }

    /**
     * The tile family's promise: at one KC, the tile shape and the packing policy do not change a bit
     * (each element is one chain of fmas over each k block). Every shape against the 6x4 tile.
     */
    @Test
    void tileShapeAndPackingNeverChangeTheBits() {
        int[] s = {157, 211, 300};
        for (Transpose[] tr : TRANSPOSES) {
            Tuning.use(Tuning.defaults().with("tile=6x4,kc=128,pack=never", "test"));
            float[] ref = run(1, tr, s, 23);
            for (Tuning.Tile t : Tuning.Tile.values()) {
                for (String pack : new String[] {"never", "always", "transposed"}) {
                    Tuning.use(Tuning.defaults().with("tile=" + t.label() + ",kc=128,pack=" + pack, "test"));
                    assertThat(run(1, tr, s, 23)).as("%s pack=%s %s%s vs 6x4", t.label(), pack, tr[0], tr[1])
                            .isEqualTo(ref);
                }
            }
        }
    }

    /** C = alpha op(A) op(B) + beta C on fresh data from a fixed seed, on a team of the given size. */
    private static float[] run(int threads, Transpose[] tr, int[] s, long seed) {
        int m = s[0], n = s[1], k = s[2];
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        for (float[] x : new float[][] {a, b, c}) {
            for (int i = 0; i < x.length; i++) {
                x[i] = TestSupport.uniform(rnd);
            }
        }
        try (Parallelism team = Parallelism.fixed(threads)) {
            Gemm.sgemm(team, tr[0], tr[1], m, n, k, 0.75f, a, 0, tr[0] == N ? k : m, b, 0, tr[1] == N ? n : k,
                    -0.5f, c, 0, n);
        }
        return c;
    }

    /**
     * In the Surefire executions that start the JVM with {@code -Dlanes.tuning=<spec>} (tests/pom.xml),
     * that tuning is the one in force; without the property, the defaults or this machine's file.
     */
    @Test
    void tuningFromTheSystemProperty() {
        String prop = System.getProperty("lanes.tuning", "");
        if (prop.contains("=")) {
            assertThat(saved.spec()).isEqualTo(Tuning.defaults().with(prop, "x").spec());
            assertThat(saved.source()).contains(prop);
        } else if (prop.equals("none")) {
            assertThat(saved.spec()).isEqualTo(Tuning.defaults().spec());
        }
        System.out.println("TuningTest: lanes.tuning=" + prop + " -> " + saved.describe());
    }

    /** A tuning file for this machine loads; one written for another machine is refused, naming both keys. */
    @Test
    void tuningFilesAreKeyedByMachine(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        Tuning t = Tuning.defaults().with("tile=4x3,kc=160", "test");
        java.nio.file.Path file = dir.resolve("gemm.properties");
        java.nio.file.Files.writeString(file, t.toFile(java.util.Map.of("note", "test")));
        assertThat(Tuning.load(file).spec()).isEqualTo(t.spec());
        java.nio.file.Files.writeString(file, t.toFile(java.util.Map.of()).replace("key=", "key=other-"));
        assertThatThrownBy(() -> Tuning.load(file)).hasMessageContaining("other-" + Tuning.machineKey())
                .hasMessageContaining("this machine is " + Tuning.machineKey());
    }

    @Test
    void specsRoundTripAndBadSpecsAreRefusedByName() {
        Tuning d = Tuning.defaults();
        Tuning t = d.with("tile=8x3,kc=100,mc=20,nc=50,pack=never,directBMaxM=3", "test");
        assertThat(t.mr()).isEqualTo(8);
        assertThat(t.mc()).isEqualTo(24); // whole tiles
        assertThat(t.nc() % t.nr()).isZero();
        assertThat(d.with(t.spec(), "again").spec()).isEqualTo(t.spec());
        assertThatThrownBy(() -> d.with("tile=5x5", "x")).hasMessageContaining("tile=5x5");
        assertThatThrownBy(() -> d.with("kc=0", "x")).hasMessageContaining("kc=0");
        assertThatThrownBy(() -> d.with("speed=11", "x")).hasMessageContaining("speed");
        Tuning a = d.with("attnQ=80,attnKeys=32,attnBwdQ=96,attnBwdKeys=256", "test");
        assertThat(new int[] {a.attnQ(), a.attnKeys(), a.attnBwdQ(), a.attnBwdKeys()}).containsExactly(80, 32, 96, 256);
        assertThat(d.with(a.spec(), "again").spec()).isEqualTo(a.spec());
        assertThatThrownBy(() -> d.with("attnQ=40", "x")).hasMessageContaining("attnQ=40");
        assertThatThrownBy(() -> d.with("attnBwdKeys=0", "x")).hasMessageContaining("attnBwdKeys=0");
    }
}
