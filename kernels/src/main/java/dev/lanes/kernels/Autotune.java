package dev.lanes.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The GEMM autotuner (after FFTW's wisdom): times candidate {@link Tuning}s on this machine, one
 * thread, in about two minutes, and writes the winner to the tuning file Lanes loads at start-up
 * ({@link Tuning#defaultFile()}, or {@code --out PATH}). It never keeps a tuning slower than the
 * defaults: the winner is re-measured against the defaults, alternating, and kept only when it is
 * faster in most rounds and by more than the noise margin; otherwise no file is written (and a stale
 * one for this machine is removed).
 *
 * <pre>
 *   mvn -q -pl bench -am -Ptune compile
 *   java --add-modules=jdk.incubator.vector -cp lanes-kernels.jar dev.lanes.kernels.Autotune [options]
 *     --seconds S    time budget for the GEMM search, default 100 (its final check adds about a fifth,
 *                    attention about half)
 *     --out PATH     where to write the tuning file (default ~/.config/lanes/gemm-KEY.properties)
 *     --dry-run      measure and print, write nothing
 * </pre>
 *
 * <p>Workload: square products N = 1024 (NN, NT, TN: the power-of-two strides where aliasing
 * shows) and N = 1000 NN, scored by the geometric mean of their rates. Search in stages, candidates
 * alternating round by round so that drift on a shared machine hits them all alike: the tile shapes
 * that fit the register file at the default blocks, then KC for the best shape, then NC (the packed B
 * block: the default, half, twice), then the packing policy.
 *
 * <p>Attention, when {@code lanes-core} is on the class path (as under {@code -Ptune}): its block sizes
 * ({@code attnQ, attnKeys} of the forward, then {@code attnBwdQ, attnBwdKeys} of the backward) raced
 * on MQA B=4, Hq=8, Hkv=1, T=S=512, D=64 at one thread ({@code dev.lanes.core.attention.AttentionTuneWorkload}),
 * and kept only when they beat the default sizes by the same margin in paired rounds.
 */
public final class Autotune {
    /** The winner must beat the defaults by this factor (median of paired rounds) to be kept. */
    static final double MARGIN = 1.02;

    private record Shape(int n, boolean ta, boolean tb) {
        String label() {
            return n + (ta ? "T" : "N") + (tb ? "T" : "N");
        }
    }

    private static final List<Shape> WORKLOAD = List.of(new Shape(1024, false, false), new Shape(1024, false, true),
            new Shape(1024, true, false), new Shape(1000, false, false));

    private final float[] a, b, c;
    private double deadline;

    private Autotune(double seconds) {
        int max = 1024 * 1024;
        a = new float[max];
        b = new float[max];
        c = new float[max];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < max; i++) {
            a[i] = (float) (rnd.nextDouble() - 0.5);
            b[i] = (float) (rnd.nextDouble() - 0.5);
        }
        deadline = System.nanoTime() / 1e9 + seconds;
    }

    /** GFLOP/s of one call of shape s under tuning t (already in force). */
    private double once(Shape s) {
        int n = s.n;
        long t0 = System.nanoTime();
        Gemm.sgemm(Parallelism.serial(), s.ta ? Transpose.T : Transpose.N, s.tb ? Transpose.T : Transpose.N,
                n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n);
        double sec = (System.nanoTime() - t0) / 1e9;
        return 2.0 * n * n * n / sec / 1e9;
    }

    /** The attention workload (GFLOP/s of a "fwd" or "fwdbwd" call), or null when core is not loaded. */
    private final java.util.function.ToDoubleFunction<String> attention = attentionWorkload();
    /** What the races below score: null for GEMM, else the attention pass. */
    private String pass;

    @SuppressWarnings("unchecked")
    private static java.util.function.ToDoubleFunction<String> attentionWorkload() {
        try {
            return (java.util.function.ToDoubleFunction<String>) Class.forName(
                    "dev.lanes.core.attention.AttentionTuneWorkload").getConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError | ClassCastException e) {
            return null;
        }
    }

    /** The geometric mean of the workload's rates under t, after one untimed call per shape. */
    private double score(Tuning t, int warm) {
        Tuning.use(t);
        if (pass != null) {
            for (int w = 0; w < warm; w++) {
                attention.applyAsDouble(pass);
            }
            return attention.applyAsDouble(pass);
        }
        double logSum = 0;
        for (Shape s : WORKLOAD) {
            for (int w = 0; w < warm; w++) {
                once(s);
            }
            logSum += Math.log(once(s));
        }
        return Math.exp(logSum / WORKLOAD.size());
    }

    /**
     * Candidates measured round-robin until this stage's share of the budget is spent (at least three
     * rounds); returns each candidate's median score.
     */
    private double[] race(List<Tuning> cands, double seconds, int minRounds) {
        List<List<Double>> scores = new ArrayList<>();
        for (Tuning t : cands) {
            score(t, 3); // compile this shape's kernel and warm its paths
            scores.add(new ArrayList<>());
        }
        double end = Math.min(deadline, System.nanoTime() / 1e9 + seconds);
        for (int round = 0; round < minRounds || System.nanoTime() / 1e9 < end; round++) {
            for (int i = 0; i < cands.size(); i++) {
                scores.get(i).add(score(cands.get(i), 0));
            }
        }
        double[] med = new double[cands.size()];
        for (int i = 0; i < med.length; i++) {
            med[i] = median(scores.get(i));
        }
        return med;
    }

    private static double median(List<Double> xs) {
        double[] v = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static int best(double[] s) {
        int b = 0;
        for (int i = 1; i < s.length; i++) {
            if (s[i] > s[b]) {
                b = i;
            }
        }
        return b;
    }

    /** Vector registers the JIT can use at this width: 16 with AVX2 (x86 at 256 bits or less), else 32. */
    static int registers(int lanes) {
        boolean x86 = System.getProperty("os.arch", "").matches("amd64|x86_64");
        return x86 && lanes < 16 ? 16 : 32;
    }

    private static void print(String stage, List<Tuning> cands, double[] s) {
        System.out.println(stage + ":");
        for (int i = 0; i < cands.size(); i++) {
            System.out.printf(Locale.ROOT, "  %-60s %7.1f GFLOP/s%n", cands.get(i).spec(), s[i]);
        }
    }

    /** {median of a/b scores, rounds a won, rounds} over paired rounds alternating which goes first. */
    private double[] paired(Tuning a, Tuning b, double seconds) {
        double end = System.nanoTime() / 1e9 + seconds;
        List<Double> ratios = new ArrayList<>();
        int wins = 0;
        score(a, 2);
        score(b, 2);
        for (int r = 0; r < 6 || System.nanoTime() / 1e9 < end; r++) {
            double x, y;
            if (r % 2 == 0) {
                x = score(a, 0);
                y = score(b, 0);
            } else {
                y = score(b, 0);
                x = score(a, 0);
            }
            ratios.add(x / y);
            wins += x > y ? 1 : 0;
        }
        return new double[] {median(ratios), wins, ratios.size()};
    }

    private String attentionNote = "";

    /**
     * The attention stages over {@code base} (the GEMM winner): forward blocks on the forward, backward
     * blocks on forward + backward; returns base with the winning sizes, or base itself when they do not
     * beat base's sizes beyond the margin.
     */
    private Tuning attention(Tuning base, double seconds) {
        if (attention == null) {
            System.out.println("attention: lanes-core not on the class path, its block sizes not tuned");
            return base;
        }
        deadline = System.nanoTime() / 1e9 + seconds * 0.45;
        pass = "fwd";
        List<Tuning> fwd = new ArrayList<>();
        fwd.add(base);
        for (int q : new int[] {32, 48, 64, 96}) {
            for (int k : new int[] {64, 128}) {
                if (q != base.attnQ() || k != base.attnKeys()) {
                    fwd.add(base.with("attnQ=" + q + ",attnKeys=" + k, "autotune"));
                }
            }
        }
        double[] s1 = race(fwd, seconds * 0.15, 3);
        print("attention forward blocks", fwd, s1);
        pass = "fwdbwd";
        Tuning f = fwd.get(best(s1));
        List<Tuning> bwd = new ArrayList<>();
        bwd.add(f);
        for (int q : new int[] {96, 144, 192}) {
            for (int k : new int[] {64, 128, 256}) {
                if (q != f.attnBwdQ() || k != f.attnBwdKeys()) {
                    bwd.add(f.with("attnBwdQ=" + q + ",attnBwdKeys=" + k, "autotune"));
                }
            }
        }
        double[] s2 = race(bwd, seconds * 0.2, 3);
        print("attention backward blocks", bwd, s2);
        Tuning w = bwd.get(best(s2));
        Tuning result = base;
        if (!w.spec().equals(base.spec())) {
            double[] check = paired(w, base, Math.max(10, seconds * 0.1));
            boolean keep = check[0] >= MARGIN && check[1] * 4 >= check[2] * 3;
            System.out.printf(Locale.ROOT, "attention: %s %s: %.3fx forward + backward (median of %d paired rounds, "
                    + "faster in %d)%n", keep ? "chose" : "kept the defaults over", w.spec(), check[0], (int) check[2],
                    (int) check[1]);
            if (keep) {
                result = w;
                attentionNote = String.format(Locale.ROOT, "; attention %.3fx forward + backward (MQA B=4, Hq=8, T=S=512)",
                        check[0]);
            }
        } else {
            System.out.println("attention: no block sizes beat the defaults");
        }
        pass = null;
        return result;
    }

    public static void main(String[] args) throws IOException {
        double seconds = 100;
        Path out = null;
        boolean dryRun = false;
        // Maven passes -Dtune.args="--seconds 60" as one argument
        args = String.join(" ", args).trim().isEmpty() ? new String[0] : String.join(" ", args).trim().split("\\s+");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--dry-run" -> dryRun = true;
                case "--help", "-h" -> {
                    System.out.println("usage: Autotune [--seconds S] [--out PATH] [--dry-run]; see the class comment");
                    return;
                }
                default -> {
                    System.err.println("unknown option " + args[i] + " (--seconds S, --out PATH, --dry-run)");
                    System.exit(2);
                }
            }
        }
        if (!Backend.SIMD) {
            System.err.println("Autotune: the SIMD kernels are off (" + Backend.describe() + "); nothing to tune");
            System.exit(1);
        }
        if (out == null) {
            out = Tuning.defaultFile();
        }
        long start = System.nanoTime();
        Tuning def = Tuning.defaults();
        System.out.println("Autotune on " + Tuning.CPU.describe() + ", JDK " + Runtime.version() + ", "
                + def.lanes() * 32 + "-bit vectors; key " + Tuning.machineKey());
        System.out.println("defaults: " + def.describe());
        System.out.println("workload: " + String.join(", ", WORKLOAD.stream().map(Shape::label).toList())
                + " (one thread), score = geometric mean GFLOP/s");
        Autotune tuner = new Autotune(seconds);

        // Stage 1: tile shapes that fit the register file, at the default blocks
        List<Tuning> tiles = new ArrayList<>();
        tiles.add(def);
        for (Tuning.Tile t : Tuning.Tile.values()) {
            if (t != def.tile() && t.registers() <= registers(def.lanes())) {
                tiles.add(def.with("tile=" + t.label() + ",mc=" + t.rows * Math.max(1, (96 + t.rows - 1) / t.rows),
                        "autotune"));
            }
        }
        double[] s1 = tuner.race(tiles, seconds * 0.35, 3);
        print("tile shapes", tiles, s1);
        Tuning bestTile = tiles.get(best(s1));

        // Stage 2: KC for that shape (NC follows the L2 and KC)
        List<Tuning> kcs = new ArrayList<>();
        kcs.add(bestTile);
        for (int kc : new int[] {256, 512, 768}) {
            if (kc != bestTile.kc()) {
                kcs.add(bestTile.with("kc=" + kc, "autotune"));
            }
        }
        double[] s2 = tuner.race(kcs, seconds * 0.2, 3);
        print("KC", kcs, s2);
        Tuning bestKcOnly = kcs.get(best(s2));

        // Stage 3: NC, the packed B block: the default (about four L2s), half or twice that
        List<Tuning> ncs = new ArrayList<>();
        ncs.add(bestKcOnly);
        for (double f : new double[] {0.5, 2}) {
            int nc = (int) (bestKcOnly.nc() * f) / bestKcOnly.nr() * bestKcOnly.nr();
            if (nc >= bestKcOnly.nr() && (long) nc * bestKcOnly.kc() <= 1 << 24) {
                ncs.add(bestKcOnly.with("nc=" + nc, "autotune"));
            }
        }
        double[] s25 = tuner.race(ncs, seconds * 0.15, 3);
        print("NC", ncs, s25);
        Tuning bestKc = ncs.get(best(s25));

        // Stage 4: packing policy
        List<Tuning> packs = new ArrayList<>();
        packs.add(bestKc);
        for (Tuning.Pack p : Tuning.Pack.values()) {
            if (p != bestKc.pack()) {
                packs.add(bestKc.with("pack=" + p.name().toLowerCase(Locale.ROOT), "autotune"));
            }
        }
        double[] s3 = tuner.race(packs, seconds * 0.2, 3);
        print("packing", packs, s3);
        Tuning winner = packs.get(best(s3));

        // Final check: the winner against the defaults, paired rounds alternating which goes first
        double ratio = 1;
        int wins = 0, rounds = 0;
        if (!winner.spec().equals(def.spec())) {
            double[] check = tuner.paired(winner, def, Math.max(10, seconds * 0.2));
            ratio = check[0];
            wins = (int) check[1];
            rounds = (int) check[2];
        }
        boolean gemmKept = ratio >= MARGIN && wins * 4 >= rounds * 3;
        Tuning gemmWinner = gemmKept ? winner : def;
        Tuning attnWinner = tuner.attention(gemmWinner, seconds);
        Tuning.use(def);
        double took = (System.nanoTime() - start) / 1e9;
        boolean keep = gemmKept || attnWinner != gemmWinner;
        System.out.println();
        if (winner.spec().equals(def.spec())) {
            System.out.printf(Locale.ROOT, "GEMM: chose the defaults: no candidate beat them (%.0f s)%n", took);
        } else if (!gemmKept) {
            System.out.printf(Locale.ROOT, "GEMM: chose the defaults: best candidate %s was %.3fx the defaults (median of %d "
                    + "paired rounds, faster in %d), not beyond the %.2fx noise margin (%.0f s)%n",
                    winner.spec(), ratio, rounds, wins, MARGIN, took);
        } else {
            System.out.printf(Locale.ROOT, "GEMM: chose %s: %.3fx the defaults (median of %d paired rounds, faster in %d) (%.0f s)%n",
                    winner.spec(), ratio, rounds, wins, took);
        }
        winner = attnWinner;
        if (dryRun) {
            return;
        }
        if (keep) {
            Map<String, String> notes = new LinkedHashMap<>();
            notes.put("written", java.time.LocalDateTime.now().withNano(0) + " by dev.lanes.kernels.Autotune in "
                    + Math.round(took) + " s");
            notes.put("cpu", Tuning.CPU.describe());
            notes.put("jdk", Runtime.version().toString());
            notes.put("defaults", def.spec());
            notes.put("gain", String.format(Locale.ROOT, "GEMM %.3fx the defaults on %s (median of %d paired rounds)%s",
                    gemmKept ? ratio : 1.0, Arrays.toString(WORKLOAD.stream().map(Shape::label).toArray()), rounds,
                    tuner.attentionNote));
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, winner.toFile(notes));
            System.out.println("wrote " + out + "; Lanes loads it at start-up (-Dlanes.tuning=none ignores it)");
        } else if (Files.deleteIfExists(out)) {
            System.out.println("removed " + out + ": the defaults are at least as fast on this machine now");
        } else {
            System.out.println("no tuning file written: Lanes uses its defaults here");
        }
    }
}
