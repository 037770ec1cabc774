package dev.lanes.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.infra.BenchmarkParams;

/** The report's rows: one per (benchmark, params, implementation), with derived rates, ratios and fractions. */
final class Rows {
    private Rows() {}

    /** One measured implementation on one shape. Rates are NaN where they do not apply. */
    static final class Row {
        String bench, impl, source = "jmh", status = "ok", message, limit;
        Report.Kind kind;
        final Map<String, String> params = new LinkedHashMap<>();
        double score = Double.NaN, error = Double.NaN, gflops = Double.NaN, gbps = Double.NaN;
        double vsBestPeer = Double.NaN, ofLimit = Double.NaN;
        /** Bytes allocated per operation, JMH's gc.alloc.rate.norm; NaN where the GC profiler did not run. */
        double allocBytesPerOp = Double.NaN;
        String unit = "us/op";
        String bestPeer;
        /** The OpenBLAS core an OpenBLAS-backed row ran on (openblas_get_corename), else null. */
        String blasCore;

        /** The implementation with the OpenBLAS core it ran on, e.g. "openblas [Cooperlake]". */
        String implText() {
            return blasCore == null ? impl : impl + " [" + blasCore + "]";
        }

        String group() {
            return bench + " " + paramText(kind, params);
        }

        /** GFLOP/s for compute rows, GB/s for memory rows. */
        double rate() {
            return kind == Report.Kind.GEMM || kind == Report.Kind.PEAK
                    || (kind == Report.Kind.OTHER || kind == Report.Kind.ATTENTION) && !Double.isNaN(gflops) ? gflops : gbps;
        }

        String rateText() {
            if (Double.isNaN(rate())) {
                return "";
            }
            return String.format(Locale.ROOT, "%.1f %s", rate(), rate() == gflops ? "GFLOP/s" : "GB/s");
        }

        String scoreText() {
            if (Double.isNaN(score)) {
                return status;
            }
            String s = String.format(Locale.ROOT, "%.1f", score);
            if (Double.isFinite(error)) {
                s += String.format(Locale.ROOT, " ± %.1f", error);
            }
            return s;
        }

        String allocText() {
            if (Double.isNaN(allocBytesPerOp)) {
                return "";
            }
            return String.format(Locale.ROOT, allocBytesPerOp < 10 ? "%.1f" : "%.0f", allocBytesPerOp);
        }

        String shortResult() {
            String s = String.format(Locale.ROOT, "%s %s  %s", scoreText(), unit, rateText());
            return Double.isNaN(allocBytesPerOp) ? s : s + "  " + allocText() + " B/op";
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("benchmark", bench);
            m.put("impl", impl);
            if (blasCore != null) {
                m.put("openblasCore", blasCore);
            }
            Map<String, Object> p = new LinkedHashMap<>();
            params.forEach((k, v) -> p.put(k, v.matches("-?\\d+") ? (Object) Long.parseLong(v) : v));
            m.put("params", p);
            m.put("source", source);
            m.put("status", status);
            if (message != null) {
                m.put("message", message);
            }
            m.put("score", score);
            m.put("scoreError", error);
            m.put("unit", unit);
            m.put("gflops", gflops);
            m.put("gbps", gbps);
            m.put("allocBytesPerOp", allocBytesPerOp);
            m.put("vsBestPeer", vsBestPeer);
            m.put("bestPeer", bestPeer);
            m.put("ofLimit", ofLimit);
            m.put("limit", limit);
            return m;
        }
    }

    static String paramText(Report.Kind kind, Map<String, String> p) {
        return switch (kind) {
            case GEMM -> {
                String m = p.get("m"), n = p.get("n"), k = p.get("k"), batch = p.getOrDefault("batch", "1");
                String shape = m.equals(n) && n.equals(k) ? "N=" + n : m + "x" + n + "x" + k;
                if (!batch.equals("1")) {
                    shape = batch + " x " + m + "x" + n + "x" + k;
                }
                yield shape + " " + p.getOrDefault("trans", "NN") + " t=" + p.getOrDefault("threads", "1");
            }
            case MEMORY -> p.get("rows") + "x" + p.get("cols");
            case PEAK -> "rounds=" + p.get("rounds");
            case STREAM -> "length=" + p.get("length");
            // sorted, so rows from JMH and from the Python script group together
            case ATTENTION, OTHER -> String.join(" ", new java.util.TreeMap<>(p).entrySet().stream()
                    .map(e -> e.getKey() + "=" + e.getValue()).toList());
        };
    }

    /** The GC profiler's allocation per operation, in bytes. */
    static final String ALLOC_NORM = "gc.alloc.rate.norm";

    static Row fromJmh(Report.Job job, RunResult r) {
        Row row = new Row();
        BenchmarkParams bp = r.getParams();
        String full = bp.getBenchmark();
        String cls = full.substring(0, full.lastIndexOf('.'));
        row.bench = cls.substring(cls.lastIndexOf('.') + 1);
        row.impl = full.substring(full.lastIndexOf('.') + 1);
        row.kind = job.kind();
        for (String key : bp.getParamsKeys()) {
            row.params.put(key, bp.getParam(key));
        }
        Result<?> pr = r.getPrimaryResult();
        row.score = pr.getScore();
        row.error = pr.getScoreError();
        // every row in microseconds, whatever @OutputTimeUnit the benchmark chose
        double toMicros = switch (pr.getScoreUnit()) {
            case "ns/op" -> 1e-3;
            case "us/op" -> 1;
            case "ms/op" -> 1e3;
            case "s/op" -> 1e6;
            default -> throw new IllegalStateException(full + " reports " + pr.getScoreUnit() + ", the report expects time/op");
        };
        row.score *= toMicros;
        row.error *= toMicros;
        Result<?> alloc = r.getSecondaryResults().get(ALLOC_NORM);
        if (alloc != null) {
            row.allocBytesPerOp = alloc.getScore();
        }
        rates(row);
        return row;
    }

    /** GFLOP/s or GB/s from the time per operation, both in units per nanosecond = G per second. */
    private static void rates(Row row) {
        double ns = row.score * 1e3;
        Map<String, String> p = row.params;
        switch (row.kind) {
            case GEMM -> row.gflops = 2.0 * Long.parseLong(p.get("m")) * Long.parseLong(p.get("n"))
                    * Long.parseLong(p.get("k")) * Long.parseLong(p.getOrDefault("batch", "1")) / ns;
            case MEMORY -> {
                long rows = Long.parseLong(p.get("rows")), cols = Long.parseLong(p.get("cols"));
                row.gbps = (row.bench.equals("SoftmaxBench") ? SoftmaxBench.bytesMoved(rows, cols)
                        : row.bench.equals("NormsBench") ? NormsBench.bytesMoved(row.impl, rows, cols)
                        : ResidualAddBench.bytesMoved(rows, cols)) / ns;
            }
            case PEAK -> row.gflops = PeakBench.flopsPerCall(Long.parseLong(p.get("rounds")),
                    PeakBench.accumulators(row.impl), Report.forkLanes) / ns;
            case STREAM -> row.gbps = StreamBench.bytesMoved(row.impl, Long.parseLong(p.get("length"))) / ns;
            case ATTENTION -> {
                if (row.impl.equals("decode")) {
                    row.gbps = AttentionBench.Decode.bytesMoved(Integer.parseInt(p.get("cache")),
                            Integer.parseInt(p.get("Hkv")), Integer.parseInt(p.get("D"))) / ns;
                } else {
                    int t = Integer.parseInt(p.get("T"));
                    row.gflops = AttentionBench.flops(Integer.parseInt(p.get("B")), Integer.parseInt(p.get("Hq")), t, t,
                            Integer.parseInt(p.get("D")), !p.get("causal").equals("NONE"), p.get("pass").equals("fwdbwd")) / ns;
                }
            }
            case OTHER -> {
                if (row.bench.equals("StackTrainBench")) {
                    row.gflops = StackTrainBench.flops(Integer.parseInt(p.get("L")), Integer.parseInt(p.get("C")),
                            Integer.parseInt(p.get("Hq")), Integer.parseInt(p.get("Hkv")), Integer.parseInt(p.get("B")),
                            Integer.parseInt(p.get("T")), Integer.parseInt(p.get("V"))) / ns;
                }
            }
        }
    }

    /**
     * Whether other is a peer of r in r's group: a lanesSegment row (issue 17's MemorySegment overloads) is
     * compared with its array row only and is no other row's peer; a backward row only with backward rows.
     */
    static boolean peers(Row r, Row other) {
        if (r.impl.startsWith("lanesSegment")) {
            return other.impl.equals(r.impl.replace("lanesSegment", "lanes"));
        }
        return !other.impl.startsWith("lanesSegment") && r.impl.endsWith("Backward") == other.impl.endsWith("Backward");
    }

    static Row failed(Report.Job job, String why) {
        Row row = new Row();
        row.bench = job.bench();
        row.impl = job.method();
        row.kind = job.kind();
        row.params.putAll(job.params());
        row.status = "failed";
        row.message = why;
        return row;
    }

    /**
     * Rows written by bench/pytorch_bench.py: {"rows": [{"benchmark", "impl", "params", "score", "unit",
     * "gflops" | "gbps", ...}]}, the shape of this report's own rows.
     */
    record PythonRows(List<Row> rows, Map<String, Object> machine) {}

    @SuppressWarnings("unchecked")
    static PythonRows fromPythonFile(Path file) throws IOException {
        Object parsed = Json.parse(Files.readString(file));
        List<Object> list = parsed instanceof Map<?, ?> m ? (List<Object>) m.get("rows") : (List<Object>) parsed;
        Map<String, Object> machine = parsed instanceof Map<?, ?> m && m.get("machine") instanceof Map<?, ?> mm
                ? (Map<String, Object>) mm : null;
        List<Row> rows = new ArrayList<>();
        for (Object o : list) {
            Map<String, Object> m = (Map<String, Object>) o;
            Row row = new Row();
            row.bench = (String) m.get("benchmark");
            row.impl = (String) m.get("impl");
            row.source = String.valueOf(m.getOrDefault("source", "python"));
            if ("pytorch".equals(row.impl) && machine != null && machine.get("torch") instanceof String v) {
                // older files name Debian's torch plainly: keep it apart from the libtorch 2.x rows
                row.impl = "pytorch" + v.replaceAll("^(\\d+\\.\\d+).*", "$1");
            }
            row.kind = switch (row.bench) {
                case "GemmBench" -> Report.Kind.GEMM;
                case "SoftmaxBench", "ResidualAddBench" -> Report.Kind.MEMORY;
                case "AttentionBench" -> Report.Kind.ATTENTION;
                default -> Report.Kind.OTHER;
            };
            row.status = String.valueOf(m.getOrDefault("status", "ok"));
            ((Map<String, Object>) m.get("params")).forEach((k, v) -> row.params.put(k,
                    v instanceof Double d && d == Math.rint(d) ? Long.toString(d.longValue()) : String.valueOf(v)));
            row.score = num(m.get("score"));
            row.error = num(m.get("scoreError"));
            row.unit = String.valueOf(m.getOrDefault("unit", "us/op"));
            row.gflops = num(m.get("gflops"));
            row.gbps = num(m.get("gbps"));
            row.allocBytesPerOp = num(m.get("allocBytesPerOp"));
            if (m.get("message") != null) {
                row.message = String.valueOf(m.get("message"));
            }
            rows.add(row);
        }
        return new PythonRows(rows, machine);
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** The machine limits the probes measured; NaN when a probe did not run. */
    record Limits(double peakGflopsPerCore, double streamGBs, int cores) {}

    /**
     * Fills each row's ratio to the best other implementation of its group (same benchmark and params;
     * for Lanes that is the best peer) and its fraction of the relevant machine limit.
     */
    static Limits derive(List<Row> rows) {
        double peak = Double.NaN, stream = Double.NaN;
        for (Row r : rows) {
            if (!r.status.equals("ok")) {
                continue;
            }
            if (r.kind == Report.Kind.PEAK) {
                peak = Double.isNaN(peak) ? r.gflops : Math.max(peak, r.gflops);
            } else if (r.kind == Report.Kind.STREAM) {
                stream = Double.isNaN(stream) ? r.gbps : Math.max(stream, r.gbps);
            }
        }
        int cores = Runtime.getRuntime().availableProcessors();
        Map<String, List<Row>> groups = new HashMap<>();
        for (Row r : rows) {
            if ((r.kind == Report.Kind.GEMM || r.kind == Report.Kind.MEMORY || r.kind == Report.Kind.ATTENTION
                    || r.kind == Report.Kind.OTHER)
                    && r.status.equals("ok")) {
                groups.computeIfAbsent(r.group(), g -> new ArrayList<>()).add(r);
            }
        }
        for (List<Row> g : groups.values()) {
            for (Row r : g) {
                Row best = null;
                for (Row other : g) {
                    if (other != r && !other.impl.equals(r.impl) && !Double.isNaN(other.rate()) && peers(r, other)
                            && (best == null || other.rate() > best.rate())) {
                        best = other;
                    }
                }
                if (best != null) {
                    r.vsBestPeer = r.rate() / best.rate();
                    r.bestPeer = best.impl;
                }
            }
        }
        for (Row r : rows) {
            if (r.kind == Report.Kind.GEMM) {
                int t = Math.min(cores, Integer.parseInt(r.params.getOrDefault("threads", "1")));
                r.limit = String.format(Locale.ROOT, "FMA peak x %d core%s", t, t == 1 ? "" : "s");
                r.ofLimit = r.gflops / (peak * t);
            } else if (r.kind == Report.Kind.ATTENTION && !Double.isNaN(r.gflops)) {
                int t = Math.min(cores, Integer.parseInt(r.params.getOrDefault("threads", "1")));
                r.limit = String.format(Locale.ROOT, "FMA peak x %d core%s", t, t == 1 ? "" : "s");
                r.ofLimit = r.gflops / (peak * t);
            } else if (r.kind == Report.Kind.MEMORY || r.kind == Report.Kind.ATTENTION) {
                r.limit = "stream bandwidth, 1 thread";
                r.ofLimit = r.gbps / stream;
            }
        }
        return new Limits(peak, stream, cores);
    }
}
