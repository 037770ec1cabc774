package dev.lanes.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Lanes' main job: runs a curated set of the JMH benchmarks through the JMH runner API, Lanes and its
 * peers interleaved shape by shape on the same inputs, prints progress and a summary table, and writes
 * {@code results/<timestamp>/} with the raw JMH JSON, {@code report.json}, {@code summary.md}, the JMH
 * log and charts. Run {@code --help} for the options.
 */
public final class Report {
    static final List<String> GEMM_IMPLS = List.of("lanes", "openblas", "pytorch", "netlibVector", "netlibJava", "ejml",
            "scalar");
    /** --full adds OpenBLAS on off-heap operands: its kernel without the JNI copies of float[]. */
    static final List<String> GEMM_IMPLS_FULL = List.of("lanes", "lanesSegment", "openblas", "openblasOffHeap", "pytorch",
            "netlibVector", "netlibJava", "ejml", "scalar");
    /** --full's strided batch and attention shapes: Lanes and the peers of the GEMM issue's ratios only. */
    static final List<String> GEMM_IMPLS_TARGETS = List.of("lanes", "openblas", "openblasOffHeap", "pytorch", "netlibVector");
    /** Above this m*n*k (512^3) --full skips netlibJava and EJML: seconds per call, and no target names them. */
    static final long SLOW_PEER_MAX_MACS = 1L << 27;
    static final List<String> MEMORY_IMPLS = List.of("lanes", "lanesSegment", "pytorch", "scalar", "plainJava");
    /** --full and --bench: layer norm forward and backward, on arrays and on segments (issue 17's rows). */
    static final List<String> NORMS_IMPLS = List.of("lanes", "lanesSegment", "lanesBackward", "lanesSegmentBackward");
    static final List<String> MEMORY_BENCHES = List.of("SoftmaxBench", "ResidualAddBench");
    private static final String PKG = "dev.lanes.bench.";
    /** Float lanes of the forks' preferred species: 8 under --avx2 (-XX:UseAVX=2), else this JVM's. */
    static int forkLanes = PeakBench.lanes();

    enum Kind { GEMM, MEMORY, ATTENTION, PEAK, STREAM, OTHER }

    /** One JMH run: one benchmark method with one value per parameter. */
    record Job(String bench, String method, Map<String, String> params, Kind kind) {
        String label() {
            return bench + "." + method;
        }

        String paramText() {
            return Rows.paramText(kind, params);
        }

        /** What --bench matches: "GemmBench.lanes m=256 n=256 k=64 trans=NN threads=1 batch=32". */
        String filterText() {
            StringBuilder sb = new StringBuilder(label());
            params.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
            return sb.toString();
        }
    }

    /** One GEMM problem: N, MxNxK or a strided batch BATCHxMxNxK, each optionally :NN|NT|TN|TT. */
    record GemmShape(int batch, int m, int n, int k, String trans) {
        static GemmShape parse(String s) {
            String[] parts = s.split(":");
            String trans = parts.length > 1 ? parts[1].toUpperCase(Locale.ROOT) : "NN";
            int[] d = Arrays.stream(parts[0].split("x")).mapToInt(Integer::parseInt).toArray();
            if (parts.length > 2 || !trans.matches("[NT][NT]") || d.length == 2 || d.length > 4
                    || Arrays.stream(d).anyMatch(x -> x < 1)) {
                throw new IllegalArgumentException("GEMM shape '" + s
                        + "': expected N, MxNxK or BATCHxMxNxK, optionally :NN|NT|TN|TT");
            }
            return switch (d.length) {
                case 1 -> new GemmShape(1, d[0], d[0], d[0], trans);
                case 3 -> new GemmShape(1, d[0], d[1], d[2], trans);
                default -> new GemmShape(d[0], d[1], d[2], d[3], trans);
            };
        }

        /** Multiply-adds of one product of the batch. */
        long macs() {
            return (long) m * n * k;
        }

        boolean square() {
            return m == n && n == k;
        }
    }

    /** Command-line options; every one has a default that keeps the report near 5 minutes on 2 cores. */
    static final class Options {
        boolean full, probes = true, list, help;
        Pattern bench;
        List<GemmShape> squareSizes, extraShapes, gemmShapes;
        List<int[]> memoryShapes;
        List<Integer> threads;
        Integer forks, warmup, iterations;
        boolean forksGiven;
        Long warmupMs, measureMs;
        long scalarMaxMacs = 1L << 24;
        boolean pytorch;
        /** --avx2: the forks run with -XX:UseAVX=2 and OpenBLAS on its Haswell core. */
        boolean avx2;
        /** The environment of PyTorch 2.x's forks (--torch-env); {@link TorchEnv#BEST} unless given. */
        Map<String, String> torchEnv = TorchEnv.BEST;
        Path out;
        final List<Path> mergePython = new ArrayList<>();

        static final String USAGE = """
                dev.lanes.bench.Report [options]     (through Maven: -Dreport.args="options")
                  --full                 the GEMM issue's grid, about 55 minutes: square N = 256, 512, 1024, 2048 in
                                         NN, NT, TN and TT; a strided batch of 32 products 256x256x64; the attention-
                                         shaped GEMMs; 1 and 2 threads; more memory shapes; causal attention.
                                         NN squares run every peer (netlibJava and EJML up to N = 512); NT/TN/TT
                                         squares run lanes, openblas and netlibVector; the batch and the attention
                                         shapes lanes, openblas, openblasOffHeap and netlibVector.
                                         --full and --bench add the MemorySegment rows (lanesSegment: GEMM, softmax,
                                         residual add, attention; NormsBench forward and backward), each one's
                                         ratio taken against its array row only.
                                         2 forks (3 before the GEMM issue's grid) x (3 warmup + 5 measured) x 1 s
                  --bench REGEX          keep only runs whose "Class.method param=value ..." matches, e.g.
                                         'Gemm.*(lanes|openblas)', 'GemmBench.*n=512.*trans=TN', 'GemmBench.*batch=32'
                                         (no spaces: the options are split at whitespace)
                  --sizes 256,512        square GEMM sizes N (each may carry a transpose, e.g. 512:TN)
                  --shapes MxNxK[:TT],.. further GEMM shapes, e.g. 512x512x64:NT,2048x64x64; BATCHxMxNxK is a strided
                                         batch, e.g. 32x256x256x64 (--full: the attention ones and that batch)
                  --memory RxC,...       softmax / residual-add shapes, e.g. 512x512,4096x4096
                  --threads 1,2          GEMM thread counts (netlib and the scalar twin run at 1 only)
                  --forks N  --warmup N  --iterations N  --warmup-ms MS  --measure-ms MS
                                         (default 2 forks; the default report runs attention and the training
                                         step in 1; PyTorch 2.x (libtorch in the JVM) is the 'pytorch' row)
                  --scalar-max MACS      largest m*n*k the scalar GEMM twin runs (default 16777216 = 256^3)
                  --no-probes            skip the FMA-peak (Java and C) and memory-bandwidth probes
                  --avx2                 what an AVX2 machine runs: JMH forks with -XX:UseAVX=2, OpenBLAS with
                                         OPENBLAS_CORETYPE=Haswell, "% of peak" against the 256-bit probes
                                         (GEMM runs carry JMH's GC profiler: bytes allocated per call, "B/op")
                  --torch-env K=V,...    environment of the pytorch (libtorch 2.x) forks instead of the tuned one
                                         (OMP_WAIT_POLICY, GOMP_SPINCOUNT, MALLOC_*...); "none" for the defaults
                  --pytorch              also run bench/pytorch_bench.py (Debian python3-torch) on the same shapes and merge it
                  --merge-python FILE    add rows written earlier by bench/pytorch_bench.py
                  --out DIR              results root (default bench/results)
                  --list                 print the plan and exit
                """;

        private static final List<String> VALUED = List.of("--bench", "--sizes", "--shapes", "--memory", "--threads",
                "--forks", "--warmup", "--iterations", "--warmup-ms", "--measure-ms", "--scalar-max", "--merge-python", "--out",
                "--torch-env");

        static Options parse(String[] rawArgs) {
            List<String> args = new ArrayList<>();
            for (String a : rawArgs) { // Maven passes -Dreport.args as one argument
                for (String t : a.trim().split("\\s+")) {
                    if (!t.isEmpty()) {
                        args.add(t);
                    }
                }
            }
            Options o = new Options();
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i), value = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    value = a.substring(eq + 1);
                    a = a.substring(0, eq);
                }
                switch (a) {
                    case "--full" -> o.full = true;
                    case "--no-probes" -> o.probes = false;
                    case "--list" -> o.list = true;
                    case "--pytorch" -> o.pytorch = true;
                    case "--avx2" -> o.avx2 = true;
                    case "--help", "-h" -> o.help = true;
                    default -> {
                        if (!VALUED.contains(a)) {
                            throw new IllegalArgumentException("unknown option " + a + "\n" + USAGE);
                        }
                        if (value == null) {
                            if (i + 1 >= args.size()) {
                                throw new IllegalArgumentException(a + " needs a value\n" + USAGE);
                            }
                            value = args.get(++i);
                        }
                        // quotes reach us as typed when Maven passes -Dreport.args="--bench 'x'"
                        if (value.length() >= 2 && (value.startsWith("'") && value.endsWith("'")
                                || value.startsWith("\"") && value.endsWith("\""))) {
                            value = value.substring(1, value.length() - 1);
                        }
                        switch (a) {
                            case "--bench" -> o.bench = Pattern.compile(value);
                            case "--sizes" -> o.squareSizes = csv(value).stream().map(GemmShape::parse).toList();
                            case "--shapes" -> o.extraShapes = csv(value).stream().map(GemmShape::parse).toList();
                            case "--memory" -> o.memoryShapes = csv(value).stream().map(Options::rowsCols).toList();
                            case "--threads" -> o.threads = csv(value).stream().map(Integer::parseInt).toList();
                            case "--forks" -> {
                                o.forks = Integer.parseInt(value);
                                o.forksGiven = true;
                            }
                            case "--warmup" -> o.warmup = Integer.parseInt(value);
                            case "--iterations" -> o.iterations = Integer.parseInt(value);
                            case "--warmup-ms" -> o.warmupMs = Long.parseLong(value);
                            case "--measure-ms" -> o.measureMs = Long.parseLong(value);
                            case "--scalar-max" -> o.scalarMaxMacs = Long.parseLong(value);
                            case "--merge-python" -> o.mergePython.add(Path.of(value));
                            case "--out" -> o.out = Path.of(value);
                            case "--torch-env" -> o.torchEnv = TorchEnv.parse(value);
                            default -> throw new IllegalArgumentException("unknown option " + a + "\n" + USAGE);
                        }
                    }
                }
            }
            o.fillDefaults();
            return o;
        }

        private void fillDefaults() {
            if (squareSizes == null) {
                List<String> sizes = new ArrayList<>();
                for (String n : full ? List.of("256", "512", "1024", "2048") : List.of("256", "512")) {
                    for (String trans : full ? List.of("NN", "NT", "TN", "TT") : List.of("NN")) {
                        sizes.add(n + ":" + trans);
                    }
                }
                squareSizes = sizes.stream().map(GemmShape::parse).toList();
            }
            if (extraShapes == null) {
                // the attention issue's products (scores Q K^T, P V, two thin ones) and the GEMM issue's batch
                extraShapes = (full ? List.of("512x512x64:NT", "512x64x512", "2048x64x64", "64x2048x64", "32x256x256x64")
                        : List.<String>of()).stream().map(GemmShape::parse).toList();
            }
            gemmShapes = concat(squareSizes, extraShapes);
            if (memoryShapes == null) {
                memoryShapes = full
                        ? List.of(rowsCols("512x512"), rowsCols("2048x2048"), rowsCols("4096x4096"))
                        : List.of(rowsCols("512x512"), rowsCols("4096x4096"));
            }
            if (threads == null) {
                threads = List.of(1, 2);
            }
            // --full had 3; with the GEMM issue's transposes and batch, 2 keep it near 55 minutes
            forks = forks != null ? forks : 2;
            warmup = warmup != null ? warmup : 3;
            iterations = iterations != null ? iterations : full ? 5 : 3;
            warmupMs = warmupMs != null ? warmupMs : full ? 1000 : 500;
            measureMs = measureMs != null ? measureMs : full ? 1000 : 500;
            if (out == null) {
                out = Files.isDirectory(Path.of("bench", "src")) ? Path.of("bench", "results") : Path.of("results");
            }
        }

        private static List<String> csv(String s) {
            return Arrays.stream(s.split(",")).map(String::trim).filter(t -> !t.isEmpty()).toList();
        }

        private static <T> List<T> concat(List<T> a, List<T> b) {
            List<T> r = new ArrayList<>(a == null ? List.of() : a);
            r.addAll(b);
            return r;
        }

        static int[] rowsCols(String s) {
            String[] p = s.split("x");
            if (p.length != 2) {
                throw new IllegalArgumentException("memory shape '" + s + "': expected ROWSxCOLS");
            }
            return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("full", full);
            m.put("forks", forks);
            m.put("warmupIterations", warmup);
            m.put("warmupMs", warmupMs);
            m.put("measurementIterations", iterations);
            m.put("measurementMs", measureMs);
            m.put("threads", threads);
            m.put("benchFilter", bench == null ? null : bench.pattern());
            m.put("avx2", avx2);
            m.put("pytorchForkEnv", torchEnv);
            return m;
        }
    }

    static List<Job> plan(Options o) {
        List<Job> jobs = new ArrayList<>();
        if (o.probes) {
            jobs.add(new Job("PeakBench", "fma", Map.of("rounds", "4096"), Kind.PEAK));
            jobs.add(new Job("PeakBench", "fma12", Map.of("rounds", "4096"), Kind.PEAK));
            jobs.add(new Job("StreamBench", "copy", Map.of("length", "16777216"), Kind.STREAM));
            jobs.add(new Job("StreamBench", "triad", Map.of("length", "16777216"), Kind.STREAM));
        }
        for (GemmShape s : o.gemmShapes) {
            for (int t : o.threads) {
                for (String impl : o.full || o.bench != null ? GEMM_IMPLS_FULL : GEMM_IMPLS) {
                    if (!gemmRuns(impl, s, t, o)) {
                        continue;
                    }
                    Map<String, String> p = new LinkedHashMap<>();
                    p.put("m", "" + s.m());
                    p.put("n", "" + s.n());
                    p.put("k", "" + s.k());
                    p.put("trans", s.trans());
                    p.put("threads", "" + t);
                    if (s.batch() > 1) { // only GemmBench.Problem has it: the scalar twin's state would not take it
                        p.put("batch", "" + s.batch());
                    }
                    jobs.add(new Job("GemmBench", impl, p, Kind.GEMM));
                }
            }
        }
        for (int[] rc : o.memoryShapes) {
            for (String bench : MEMORY_BENCHES) {
                for (String impl : MEMORY_IMPLS) {
                    if ((impl.equals("scalar") || impl.equals("lanesSegment")) && !o.full && o.bench == null) {
                        continue; // the scalar twin is the tests' oracle, not a peer: --full and --bench only
                    }
                    Map<String, String> p = new LinkedHashMap<>();
                    p.put("rows", "" + rc[0]);
                    p.put("cols", "" + rc[1]);
                    jobs.add(new Job(bench, impl, p, Kind.MEMORY));
                }
            }
            for (String impl : o.full || o.bench != null ? NORMS_IMPLS : List.<String>of()) {
                jobs.add(new Job("NormsBench", impl, Map.of("rows", "" + rc[0], "cols", "" + rc[1]), Kind.MEMORY));
            }
        }
        // The attention issue's shape (MQA B=4, Hq=8, Hkv=1, T=S=512, D=64); --full adds causal, the scalar
        // twin and the thread counts. Decoding is in --full and --bench only.
        for (String causal : o.full ? List.of("NONE", "TOP_LEFT") : List.of("NONE")) {
            for (String pass : List.of("fwd", "fwdbwd")) {
                for (int t : o.threads) {
                    // PyTorch with K/V expanded ran as fast as with enable_gqa, not faster: --full only
                    // lanesKept: the forward keeping its scores and the four-product backward (issue 15)
                    for (String impl : o.full ? List.of("lanes", "lanesKept", "lanesSegment", "pytorch", "pytorchExpandedKv", "naive", "scalar")
                            : o.bench != null ? List.of("lanes", "lanesKept", "lanesSegment", "pytorch", "naive")
                            : List.of("lanes", "lanesKept", "pytorch", "naive")) {
                        // the default runs Lanes and PyTorch 2.x at every thread count, the others at one
                        boolean headline = impl.startsWith("lanes") || impl.startsWith("pytorch");
                        if (impl.equals("scalar") && (t > 1 || pass.equals("fwdbwd")) || t > 1 && !o.full && !headline) {
                            continue;
                        }
                        Map<String, String> p = new LinkedHashMap<>();
                        for (String[] kv : new String[][] {{"B", "4"}, {"Hq", "8"}, {"Hkv", "1"}, {"T", "512"}, {"D", "64"}}) {
                            p.put(kv[0], kv[1]);
                        }
                        p.put("causal", causal);
                        p.put("pass", pass);
                        p.put("threads", "" + t);
                        jobs.add(new Job("AttentionBench", impl, p, Kind.ATTENTION));
                    }
                }
            }
        }
        if (o.full || o.bench != null) {
            // the decode shape (GQA, Hkv=4), and the same 32 query heads reading one shared kv head
            // (MQA) and one each (MHA): decoding is bandwidth-bound, so the K/V reuse shows there
            for (String hkv : List.of("4", "1", "32")) {
                for (int t : o.threads) {
                    jobs.add(new Job("AttentionBench", "decode", Map.of("cache", "4096", "Hq", "32", "Hkv", hkv, "D", "128",
                            "threads", "" + t), Kind.ATTENTION));
                }
            }
            // K/V reuse: the same queries against one shared kv head (MQA) and against one per query head (MHA)
            for (String hkv : List.of("1", "8")) {
                Map<String, String> p = new LinkedHashMap<>();
                for (String[] kv : new String[][] {{"B", "1"}, {"Hq", "8"}, {"Hkv", hkv}, {"T", "2048"}, {"D", "64"},
                        {"causal", "NONE"}, {"pass", "fwd"}, {"threads", "1"}}) {
                    p.put(kv[0], kv[1]);
                }
                jobs.add(new Job("AttentionBench", "lanes", p, Kind.ATTENTION));
            }
        }
        // The residual-stack issue's training step: L=4, C=512, Hq=8, Hkv=1, B=4, T=256 (StackTrainBench defaults).
        // The default runs the whole step only (each row takes most of a minute); --full and --bench add
        // forward + backward.
        for (String pass : o.full || o.bench != null ? List.of("fwdbwd", "step") : List.of("step")) {
            for (int t : o.threads) {
                Map<String, String> p = new LinkedHashMap<>();
                p.put("pass", pass);
                p.put("threads", "" + t);
                jobs.add(new Job("StackTrainBench", "lanes", p, Kind.OTHER));
                jobs.add(new Job("StackTrainBench", "pytorch", p, Kind.OTHER));
            }
        }
        if (o.bench != null) {
            // the probes stay: every row's fraction of the machine's limit needs them
            jobs.removeIf(j -> j.kind() != Kind.PEAK && j.kind() != Kind.STREAM && !o.bench.matcher(j.filterText()).find());
        }
        return jobs;
    }

    /**
     * Whether one implementation runs on one shape and thread count. netlib and the scalar twin are
     * single-threaded; EJML and the scalar twin have no strided batch. --full trims its long grid to what the
     * GEMM issue's targets compare: only the NN squares run every peer (the slow ones up to N = 512); the
     * transposed squares run Lanes and the peers of the ">= 0.9x OpenBLAS" and ">= 3x netlib VectorBLAS"
     * ratios, the batch and the attention shapes those and OpenBLAS off-heap.
     */
    static boolean gemmRuns(String impl, GemmShape s, int threads, Options o) {
        boolean singleThreadOnly = impl.startsWith("netlib") || impl.equals("scalar");
        if (singleThreadOnly && threads > 1 || impl.equals("scalar") && s.macs() > o.scalarMaxMacs) {
            return false;
        }
        if (s.batch() > 1 && (impl.equals("scalar") || impl.equals("ejml") || impl.equals("lanesSegment"))) {
            return false;
        }
        if (!o.full) {
            return !(impl.equals("ejml") && threads > 1) || o.bench != null; // the default: EJML at one thread
        }
        if (s.square() && s.batch() == 1 && s.trans().equals("NN")) {
            return !(impl.equals("netlibJava") || impl.equals("ejml")) || s.macs() <= SLOW_PEER_MAX_MACS;
        }
        if (s.square() && s.batch() == 1) {
            return impl.equals("lanes") || impl.equals("openblas") || impl.equals("pytorch") || impl.equals("netlibVector");
        }
        return GEMM_IMPLS_TARGETS.contains(impl);
    }

    /**
     * The probes run 4096 rounds of 16 vector FMAs per call, which the interpreter takes tens of
     * milliseconds over before C2 compiles them: they get at least 5 warm-up iterations. A training step
     * takes most of a second and its last kernels reach C2 around the sixth step (steps 2-5 allocated 3.5
     * MB each, measured with ThreadMXBean, then 0): StackTrainBench gets at least 10.
     */
    static int warmupIterations(Job j, Options o) {
        if (j.kind() == Kind.PEAK || j.kind() == Kind.STREAM) {
            return Math.max(o.warmup, 5);
        }
        return j.bench().equals("StackTrainBench") ? Math.max(o.warmup, 10) : o.warmup;
    }

    /**
     * Forks of one job: --forks (default 2), except that the default report runs attention and the training
     * step, whose calls take tens of milliseconds to a second, in one fork each (their classes' own
     * {@code @Fork}) to stay under ten minutes; --full, --bench and an explicit --forks keep the count.
     */
    static int forks(Job j, Options o) {
        boolean longCalls = j.bench().equals("AttentionBench") || j.bench().equals("StackTrainBench");
        return longCalls && !o.full && o.bench == null && !o.forksGiven ? 1 : o.forks;
    }

    /**
     * Rough single-thread GFLOP/s of each GEMM implementation on the reference machine (2 Zen 4 cores,
     * report 20261127-022028; netlib VectorBLAS' transposed products are slower than its NN), for the time
     * estimate only: the run corrects the estimate as it goes.
     */
    private static final Map<String, Double> GEMM_GFLOPS_GUESS = Map.of("lanes", 80.0, "openblas", 80.0,
            "openblasOffHeap", 80.0, "pytorch", 80.0, "netlibVector", 20.0, "netlibJava", 10.0, "ejml", 5.0, "scalar", 2.0);

    /** Seconds one GEMM call should take; 0 for other jobs. */
    static double callSeconds(Job j) {
        Map<String, String> p = j.params();
        int threads = Integer.parseInt(p.getOrDefault("threads", "1"));
        if (j.bench().equals("StackTrainBench")) { // the default model, near 70 GFLOP/s per thread for either peer
            return StackTrainBench.flops(4, 512, 8, 1, 4, 256, 256) / (70e9 * threads);
        }
        if (j.kind() == Kind.ATTENTION && p.containsKey("pass")) {
            int t = Integer.parseInt(p.get("T"));
            return AttentionBench.flops(Integer.parseInt(p.get("B")), Integer.parseInt(p.get("Hq")), t, t,
                    Integer.parseInt(p.get("D")), !p.get("causal").equals("NONE"), p.get("pass").equals("fwdbwd"))
                    / ((j.method().equals("scalar") ? 1e9 : 60e9) * threads);
        }
        if (j.kind() != Kind.GEMM) {
            return 0;
        }
        double flops = 2.0 * Long.parseLong(p.get("m")) * Long.parseLong(p.get("n")) * Long.parseLong(p.get("k"))
                * Long.parseLong(p.getOrDefault("batch", "1"));
        double gflops = GEMM_GFLOPS_GUESS.getOrDefault(j.method(), 5.0) * Integer.parseInt(p.getOrDefault("threads", "1"));
        return flops / (gflops * 1e9);
    }

    /**
     * Seconds one job should take. Per fork: JVM start and setup (GEMM's agreement check runs the product
     * about three more times), then the iterations, each of which ends with the call that crosses its time,
     * half a call late on average, or lasts one call when a call is longer than the iteration.
     */
    static double estimateSeconds(Job j, Options o) {
        double call = callSeconds(j);
        // PyTorch's training check runs three steps of each model; libtorch takes a second to load
        double setupCalls = j.bench().equals("StackTrainBench") && TorchEnv.isTorch(j.method()) ? 6 : 3;
        double perFork = 1.5 + (TorchEnv.isTorch(j.method()) ? 1 : 0) + setupCalls * call
                + warmupIterations(j, o) * iterationSeconds(o.warmupMs, call)
                + o.iterations * iterationSeconds(o.measureMs, call);
        if (j.kind() == Kind.STREAM) {
            perFork += 1.0; // three 64 MiB arrays to allocate and fill
        }
        return forks(j, o) * perFork;
    }

    private static double iterationSeconds(long ms, double call) {
        double s = ms / 1000.0;
        return Math.max(s, call) + Math.min(s, call) / 2;
    }

    public static void main(String[] args) throws IOException {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        if (o.help) {
            System.out.print(Options.USAGE);
            return;
        }
        if (o.avx2 && !"Haswell".equals(System.getenv("OPENBLAS_CORETYPE")) && !o.list) {
            System.exit(restartWithHaswellOpenBlas(args));
        }
        forkLanes = o.avx2 ? 8 : PeakBench.lanes();
        List<Job> jobs = plan(o);
        double estimate = jobs.stream().mapToDouble(j -> estimateSeconds(j, o)).sum();
        System.out.printf("Lanes benchmark report: JDK %s (%s), %s%n", Runtime.version(), System.getProperty("java.home"),
                dev.lanes.kernels.Backend.describe());
        System.out.println("GEMM tuning (this JVM, and the forks'): " + dev.lanes.kernels.Tuning.current()
                + (o.avx2 ? "; the --avx2 forks use their 256-bit row" : ""));
        System.out.printf("%d JMH runs, %d fork(s) (attention and training: %d) x (%d warmup x %d ms + %d x %d ms) each,"
                + " about %s%n", jobs.size(), o.forks, forks(new Job("StackTrainBench", "lanes", Map.of(), Kind.OTHER), o),
                o.warmup, o.warmupMs, o.iterations, o.measureMs, clock(estimate));
        if (o.list) {
            for (Job j : jobs) {
                System.out.printf("  %-28s %s%n", j.label(), j.paramText());
            }
            return;
        }
        double busyBefore = Machine.otherCpuUse();
        if (busyBefore > 0.25) {
            System.out.printf("WARNING: other processes use %.2f of %d cores: they will skew the figures%n",
                    busyBefore, Runtime.getRuntime().availableProcessors());
        }
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path dir = o.out.resolve(stamp);
        Files.createDirectories(dir);
        System.out.println("results: " + dir.toAbsolutePath());
        TorchEnv forkEnv = TorchEnv.forRun(o.torchEnv, dir);
        // Every fork would log the GEMM tuning line of its start-up into this console; the report prints it
        // once above and records it in report.json, so the forks keep only Lanes' warnings.
        Path forkLogging = dir.resolve("fork-logging.properties");
        Files.writeString(forkLogging, "handlers=java.util.logging.ConsoleHandler\n.level=INFO\n"
                + "dev.lanes.kernels.level=WARNING\n");

        Map<Integer, Double> cProbe = o.probes ? CProbe.run(dir, 15) : Map.of();
        List<RunResult> all = new ArrayList<>();
        Map<RunResult, Job> jobOf = new LinkedHashMap<>();
        List<Rows.Row> failed = new ArrayList<>();
        long start = System.nanoTime();
        double done = 0, doneEstimate = 0;
        Path logFile = dir.resolve("jmh.log");
        try (PrintStream log = new PrintStream(Files.newOutputStream(logFile), true, StandardCharsets.UTF_8)) {
            OutputFormat format = OutputFormatFactory.createFormatInstance(log, VerboseMode.NORMAL);
            for (int i = 0; i < jobs.size(); i++) {
                Job j = jobs.get(i);
                double elapsed = (System.nanoTime() - start) / 1e9;
                double remaining = jobs.subList(i, jobs.size()).stream().mapToDouble(x -> estimateSeconds(x, o)).sum();
                if (doneEstimate > 0) {
                    remaining *= done / doneEstimate; // calibrated by how long the finished runs really took
                }
                System.out.printf("[%2d/%d] %-24s %-26s elapsed %s, ~%s left%n", i + 1, jobs.size(), j.label(),
                        j.paramText(), clock(elapsed), clock(remaining));
                long t0 = System.nanoTime();
                long logStart = Files.size(logFile);
                try {
                    Collection<RunResult> rr = new Runner(options(j, o, forkEnv, forkLogging), format).run();
                    for (RunResult r : rr) {
                        all.add(r);
                        jobOf.put(r, j);
                        Rows.Row row = Rows.fromJmh(j, r);
                        System.out.printf("         %s%n", row.shortResult());
                    }
                } catch (Exception e) {
                    log.flush();
                    String why = failureFromLog(logFile, logStart, rootMessage(e));
                    System.out.printf("         FAILED: %s (details in jmh.log)%n", why);
                    failed.add(Rows.failed(j, why));
                }
                done += (System.nanoTime() - t0) / 1e9;
                doneEstimate += estimateSeconds(j, o);
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;

        ResultFormatFactory.getInstance(ResultFormatType.JSON, dir.resolve("jmh-result.json").toString()).writeOut(all);
        List<Rows.Row> rows = new ArrayList<>();
        for (Map.Entry<RunResult, Job> e : jobOf.entrySet()) {
            rows.add(Rows.fromJmh(e.getValue(), e.getKey()));
        }
        rows.addAll(failed);
        // the C probe at the forks' width is a limit like the Java probe; the other width is recorded
        cProbe.forEach((bits, g) -> rows.add(CProbe.row(bits, g, bits == forkLanes * 32)));
        List<Path> python = new ArrayList<>(o.mergePython);
        if (o.pytorch) {
            Path py = runPytorch(o, dir);
            if (py != null) {
                python.add(py);
            }
        }
        Map<String, Object> pythonMachine = null;
        for (Path py : python) {
            try {
                Rows.PythonRows pr = Rows.fromPythonFile(resolve(py));
                rows.addAll(pr.rows());
                pythonMachine = pr.machine();
                System.out.println("merged " + pr.rows().size() + " rows from " + py);
            } catch (IOException | RuntimeException e) {
                System.out.println("could not merge " + py + ": " + e);
            }
        }
        sort(rows);
        Rows.Limits limits = Rows.derive(rows);

        forkEnv.labelRows(rows, pythonMachine);
        Map<String, Object> machine = Machine.describe();
        machine.put("pytorch", TorchEnv.libtorchVersion());
        machine.put("openblas", forkEnv.openBlasCores(pythonMachine));
        machine.put("peakGflopsPerCore", limits.peakGflopsPerCore());
        machine.put("streamGBs", limits.streamGBs());
        machine.put("otherCpuCoresBefore", busyBefore);
        machine.put("otherCpuCoresAfter", Machine.otherCpuUse());
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("schema", "lanes-bench-report/1");
        report.put("created", LocalDateTime.now().toString());
        report.put("arguments", String.join(" ", args).trim());
        report.put("wallSeconds", Math.round(wall));
        report.put("machine", machine);
        report.put("cProbeGflopsByBits", cProbe);
        report.put("gemmTuning", o.avx2 ? dev.lanes.kernels.Tuning.defaults(dev.lanes.kernels.Tuning.CPU, 8,
                System.getProperty("os.arch")).describe() + " (the forks' defaults at 256 bits)"
                : dev.lanes.kernels.Tuning.current().describe());
        Map<String, Object> peers = Machine.peers();
        if (peers.get("openblas") instanceof Map<?, ?> ob) { // the core its forks ran, which the report may have forced
            @SuppressWarnings("unchecked")
            Map<String, Object> obm = (Map<String, Object>) ob;
            obm.put("core", forkEnv.bytedecoCore());
        }
        peers.put("libtorch", TorchEnv.libtorchPeer(forkEnv));
        if (pythonMachine != null) {
            peers.put("pytorchPython", pythonMachine);
        }
        report.put("peers", peers);
        report.put("settings", o.toJson());
        report.put("rows", rows.stream().map(Rows.Row::toJson).toList());
        Files.writeString(dir.resolve("report.json"), Json.write(report));

        List<String> charts = new ArrayList<>();
        try {
            charts = Charts.render(dir, rows, limits);
        } catch (Throwable e) { // a chart library or font problem must not lose the figures
            System.out.println("charts skipped: " + e);
        }
        String md = Summary.markdown(stamp, report, rows, limits, charts);
        Files.writeString(dir.resolve("summary.md"), md);

        System.out.println();
        System.out.print(Summary.table(rows));
        System.out.printf("%npytorch: %s; OpenBLAS cores: %s%n", machine.get("pytorch"), machine.get("openblas"));
        System.out.printf("%nwrote %s (jmh-result.json, report.json, summary.md, jmh.log%s) in %s%n", dir,
                charts.isEmpty() ? "" : ", " + String.join(", ", charts), clock(wall));
        if (!failed.isEmpty()) {
            System.out.println(failed.size() + " run(s) failed; see jmh.log");
        }
        for (String w : Summary.warnings(rows, machine)) {
            System.out.println("WARNING: " + w);
        }
    }

    /**
     * --avx2: OpenBLAS picks its core when the library loads, from OPENBLAS_CORETYPE, which a JVM cannot
     * set for itself; so the report runs again as a child with it set (JMH forks inherit it).
     */
    private static int restartWithHaswellOpenBlas(String[] args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Report.class.getName());
        cmd.addAll(List.of(args));
        System.out.println("--avx2: running the report with OPENBLAS_CORETYPE=Haswell");
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().put("OPENBLAS_CORETYPE", "Haswell");
        try {
            return pb.start().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** A relative path as given, else relative to the repository root (the report runs in bench/). */
    private static Path resolve(Path p) {
        if (p.isAbsolute() || Files.exists(p)) {
            return p;
        }
        Path up = Path.of("..").resolve(p);
        return Files.exists(up) ? up : p;
    }

    /** Probes first, then benchmark by benchmark and shape by shape in plan order, merged rows beside their peers. */
    static void sort(List<Rows.Row> rows) {
        Map<String, Integer> benchRank = new LinkedHashMap<>();
        Map<String, Integer> groupRank = new LinkedHashMap<>();
        for (String b : List.of("PeakBench", "StreamBench", "GemmBench", "SoftmaxBench", "ResidualAddBench",
                "NormsBench", "AttentionBench", "StackTrainBench")) {
            benchRank.put(b, benchRank.size());
        }
        for (Rows.Row r : rows) {
            benchRank.putIfAbsent(r.bench, benchRank.size());
            groupRank.putIfAbsent(r.group(), groupRank.size());
        }
        rows.sort(java.util.Comparator.<Rows.Row>comparingInt(r -> benchRank.get(r.bench))
                .thenComparingInt(r -> groupRank.get(r.group())));
    }

    /** Runs bench/pytorch_bench.py on the report's shapes; null when it wrote nothing (no torch, failure). */
    private static Path runPytorch(Options o, Path dir) {
        Path script = Files.exists(Path.of("pytorch_bench.py")) ? Path.of("pytorch_bench.py") : Path.of("bench", "pytorch_bench.py");
        String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        Path out = dir.resolve("pytorch.json");
        List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "--out", out.toString(),
                "--sizes", String.join(",", o.squareSizes.stream().map(s -> s.n() + ":" + s.trans()).toList()),
                // the script has no strided batch
                "--shapes", String.join(",", o.extraShapes.stream().filter(s -> s.batch() == 1)
                        .map(s -> s.m() + "x" + s.n() + "x" + s.k() + ":" + s.trans()).toList()),
                "--memory", String.join(",", o.memoryShapes.stream().map(rc -> rc[0] + "x" + rc[1]).toList()),
                "--threads", String.join(",", o.threads.stream().map(String::valueOf).toList())));
        System.out.println("PyTorch: " + String.join(" ", cmd));
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            int rc = p.waitFor();
            if (rc != 0 || !Files.exists(out)) {
                System.out.println("PyTorch rows: none (the script exited " + rc + ")");
                return null;
            }
            return out;
        } catch (IOException e) {
            System.out.println("PyTorch rows: none (" + e.getMessage() + ")");
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static org.openjdk.jmh.runner.options.Options options(Job j, Options o, TorchEnv forkEnv,
                                                                  Path forkLogging) {
        String logging = "-Djava.util.logging.config.file=" + forkLogging.toAbsolutePath();
        ChainedOptionsBuilder b = new OptionsBuilder()
                .jvmArgsPrepend(o.avx2 ? new String[] {"-XX:UseAVX=2", logging} : new String[] {logging})
                .include("^" + Pattern.quote(PKG + j.label()) + "$")
                .forks(forks(j, o))
                .warmupIterations(warmupIterations(j, o))
                .warmupTime(TimeValue.milliseconds(o.warmupMs))
                .measurementIterations(o.iterations)
                .measurementTime(TimeValue.milliseconds(o.measureMs))
                .shouldFailOnError(true);
        for (Map.Entry<String, String> p : j.params().entrySet()) {
            b = b.param(p.getKey(), p.getValue());
        }
        String jvm = forkEnv.jvmFor(j.method());
        if (jvm != null) { // a forked JVM inherits the report's environment: a wrapper adds to it
            b = b.jvm(jvm);
        }
        if (j.kind() == Kind.GEMM || j.kind() == Kind.ATTENTION || j.kind() == Kind.OTHER) {
            // allocation per call (gc.alloc.rate.norm): reads allocated-bytes counters around each iteration,
            // no measurable cost
            b = b.addProfiler(GCProfiler.class);
        }
        return b.build();
    }

    /** JMH reports a fork's exception only in its log: the first line after "<failure>" names it. */
    private static String failureFromLog(Path log, long from, String fallback) {
        try {
            byte[] all = Files.readAllBytes(log);
            String text = new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from),
                    StandardCharsets.UTF_8);
            int at = text.indexOf("<failure>");
            if (at >= 0) {
                return text.substring(at + "<failure>".length()).lines().map(String::trim)
                        .filter(l -> !l.isEmpty()).findFirst().orElse(fallback);
            }
        } catch (IOException | RuntimeException e) {
            // keep the fallback
        }
        return fallback;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    static String clock(double seconds) {
        Duration d = Duration.ofSeconds(Math.round(Math.max(0, seconds)));
        return d.toHours() > 0 ? String.format("%d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart())
                : String.format("%d:%02d", d.toMinutesPart(), d.toSecondsPart());
    }
}
