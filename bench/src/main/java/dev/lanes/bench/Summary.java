package dev.lanes.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The terminal table and the Markdown summary. */
final class Summary {
    private Summary() {}

    private static String pct(double f) {
        return Double.isNaN(f) ? "" : String.format(Locale.ROOT, "%.0f%%", 100 * f);
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? "" : String.format(Locale.ROOT, "%.2fx", r);
    }

    /** Signs that the figures of this run are not to be trusted as they stand. */
    static List<String> warnings(List<Rows.Row> rows, Map<String, Object> machine) {
        List<String> w = new ArrayList<>();
        for (String key : List.of("otherCpuCoresBefore", "otherCpuCoresAfter")) {
            if (machine.get(key) instanceof Double busy && busy > 0.25) {
                w.add(String.format(Locale.ROOT, "%s: other processes used %.2f of %s cores", key, busy,
                        machine.get("cores")));
            }
        }
        for (Rows.Row r : rows) {
            if (r.ofLimit > 1.05 && r.params.getOrDefault("threads", "1").equals("1")
                    && r.limit != null && r.limit.startsWith("FMA")) {
                w.add(String.format(Locale.ROOT, "%s %s %s ran at %.0f%% of one core's FMA peak on one thread: more threads"
                        + " than asked for ran it (a harness bug) or the peak probe was disturbed", r.bench, r.impl,
                        Rows.paramText(r.kind, r.params), 100 * r.ofLimit));
            }
        }
        if (rows.stream().anyMatch(r -> r.kind == Report.Kind.GEMM && r.ofLimit > 1.05)) {
            w.add("a GEMM ran above the measured FMA peak: the peak probe was disturbed"
                    + " and every fraction of the limit reads too high");
        }
        return w;
    }

    static String table(List<Rows.Row> rows) {
        StringBuilder sb = new StringBuilder();
        String fmt = "%-17s %-24s %-28s %-7s %20s %16s %11s %-17s %8s %8s%n";
        sb.append(String.format(fmt, "benchmark", "params", "impl", "source", "score (us/op)", "rate", "vs best", "(peer)",
                "of limit", "B/op"));
        String last = null;
        for (Rows.Row r : rows) {
            if (last != null && !last.equals(r.bench)) {
                sb.append('\n');
            }
            last = r.bench;
            sb.append(String.format(Locale.ROOT, fmt, r.bench, Rows.paramText(r.kind, r.params), r.implText(), r.source,
                    r.scoreText(), r.rateText(), ratio(r.vsBestPeer), r.bestPeer == null ? "" : r.bestPeer,
                    pct(r.ofLimit), r.allocText()));
        }
        return sb.toString();
    }

    @SuppressWarnings("unchecked")
    static String markdown(String stamp, Map<String, Object> report, List<Rows.Row> rows, Rows.Limits limits,
                           List<String> charts) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Lanes benchmark report ").append(stamp).append("\n\n");
        Map<String, Object> m = (Map<String, Object>) report.get("machine");
        sb.append("## Machine\n\n");
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Double d) {
                v = String.format(Locale.ROOT, "%.1f", d);
            }
            sb.append("- ").append(e.getKey()).append(": ").append(v).append('\n');
        }
        sb.append("\n## Peers\n\n");
        for (Map.Entry<String, Object> e : ((Map<String, Object>) report.get("peers")).entrySet()) {
            sb.append("- ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        }
        List<String> warn = warnings(rows, m);
        if (!warn.isEmpty()) {
            sb.append("\n## Warnings\n\n");
            warn.forEach(x -> sb.append("- ").append(x).append('\n'));
        }
        sb.append("\n## Settings\n\n").append("- ").append(report.get("settings")).append('\n');
        sb.append("- wall time: ").append(Report.clock(((Number) report.get("wallSeconds")).doubleValue())).append('\n');
        sb.append("""

                Score: JMH average time per operation with its 99.9% confidence half-width, forked JVMs.
                GEMM: GFLOP/s = 2*m*n*k*batch / time ("32 x 256x256x64" is a strided batch of 32 products, one
                call). B/op: bytes allocated per call by all threads, JMH's GC profiler (gc.alloc.rate.norm); it
                includes the harness's own few KB per iteration spread over the iteration's calls, so a slow call that
                allocates nothing can read up to a KB: compare a row with its peers. Softmax and residual-add: GB/s of compulsory traffic (inputs read
                once, output written once). "vs best": rate / best rate among the other implementations of the same
                benchmark and params (for Lanes, its best peer). "of limit": GEMM against the measured FMA peak
                times the thread count; memory-bound kernels against the measured one-thread stream bandwidth.

                """);
        List<String> kinds = new ArrayList<>(List.of("GemmBench", "SoftmaxBench", "ResidualAddBench", "AttentionBench"));
        rows.stream().map(r -> r.bench).distinct().filter(b -> !kinds.contains(b) && !b.equals("PeakBench")
                && !b.equals("StreamBench")).forEach(kinds::add);
        kinds.addAll(List.of("PeakBench", "StreamBench"));
        for (String kind : kinds) {
            List<Rows.Row> part = new ArrayList<>();
            for (Rows.Row r : rows) {
                if (r.bench.equals(kind)) {
                    part.add(r);
                }
            }
            if (part.isEmpty()) {
                continue;
            }
            boolean alloc = part.stream().anyMatch(r -> !Double.isNaN(r.allocBytesPerOp));
            sb.append("## ").append(kind).append("\n\n");
            sb.append("| params | impl | source | us/op | rate | vs best (peer) | of limit |")
                    .append(alloc ? " B/op |\n" : "\n");
            sb.append("|---|---|---|---:|---:|---:|---:|").append(alloc ? "---:|\n" : "\n");
            for (Rows.Row r : part) {
                String vs = ratio(r.vsBestPeer) + (r.bestPeer == null ? "" : " (" + r.bestPeer + ")");
                String impl = r.impl.equals("lanes") ? "**lanes**" : r.implText();
                sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |", Rows.paramText(r.kind, r.params),
                        impl, r.source, r.status.equals("ok") ? r.scoreText() : "failed: " + r.message, r.rateText(), vs,
                        pct(r.ofLimit)));
                sb.append(alloc ? " " + r.allocText() + " |\n" : "\n");
            }
            sb.append('\n');
        }
        if (!charts.isEmpty()) {
            sb.append("## Charts\n\n");
            for (String c : charts) {
                sb.append("![").append(c).append("](").append(c).append(")\n\n");
            }
        }
        return sb.toString();
    }
}
