package dev.lanes.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * PNG charts with JFreeChart (headless): GEMM GFLOP/s against N, GEMM by shape, bandwidth of the memory-bound
 * kernels, attention and the training step.
 */
final class Charts {
    private static final int WIDTH = 1000, HEIGHT = 600;
    private static final Color[] PALETTE = {
        new Color(0xD62728), new Color(0x1F77B4), new Color(0x2CA02C), new Color(0xFF7F0E), new Color(0x9467BD),
        new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F), new Color(0xBCBD22), new Color(0x17BECF)};

    private Charts() {}

    /** Renders what the rows allow and returns the file names written. */
    static List<String> render(Path dir, List<Rows.Row> rows, Rows.Limits limits) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String> written = new ArrayList<>();
        if (gemmByN(dir.resolve("gemm-gflops.png"), rows, limits)) {
            written.add("gemm-gflops.png");
        }
        if (gemmByShape(dir.resolve("gemm-shapes.png"), rows, limits)) {
            written.add("gemm-shapes.png");
        }
        if (memory(dir.resolve("memory-gbps.png"), rows, limits)) {
            written.add("memory-gbps.png");
        }
        if (attentionAndTraining(dir.resolve("attention-training.png"), rows)) {
            written.add("attention-training.png");
        }
        return written;
    }

    private static boolean ok(Rows.Row r) {
        return r.status.equals("ok") && !Double.isNaN(r.rate());
    }

    private static boolean square(Rows.Row r) {
        return r.params.get("m").equals(r.params.get("n")) && r.params.get("n").equals(r.params.get("k"))
                && r.params.getOrDefault("trans", "NN").equals("NN") && r.params.getOrDefault("batch", "1").equals("1");
    }

    /** Square NN products: one line per implementation and thread count. */
    private static boolean gemmByN(Path file, List<Rows.Row> rows, Rows.Limits limits) throws IOException {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        TreeSet<Integer> threads = new TreeSet<>();
        for (Rows.Row r : rows) {
            if (r.kind == Report.Kind.GEMM && ok(r) && square(r)) {
                String t = r.params.getOrDefault("threads", "1");
                threads.add(Integer.parseInt(t));
                String key = r.impl + (r.source.equals("jmh") ? "" : " (" + r.source + ")") + ", " + t
                        + (t.equals("1") ? " thread" : " threads");
                series.computeIfAbsent(key, k -> new XYSeries(k, true, false))
                        .addOrUpdate(Double.parseDouble(r.params.get("n")), r.gflops);
            }
        }
        if (series.isEmpty()) {
            return false;
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("Square SGEMM (C = A B, row-major), GFLOP/s by N",
                "N (m = n = k)", "GFLOP/s (2 N^3 / time)", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis x = new LogAxis("N (m = n = k)");
        x.setBase(2);
        x.setTickUnit(new NumberTickUnit(1));
        x.setNumberFormatOverride(new DecimalFormat("0"));
        x.setSmallestValue(64);
        plot.setDomainAxis(x);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        int i = 0;
        for (String key : series.keySet()) {
            Color c = colorOf(key.substring(0, key.indexOf(',')), i++);
            int idx = data.getSeriesIndex(key);
            renderer.setSeriesPaint(idx, c);
            boolean multi = !key.endsWith(" 1 thread");
            renderer.setSeriesStroke(idx, multi
                    ? new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f, new float[] {8f, 5f}, 0f)
                    : new BasicStroke(2.2f));
        }
        plot.setRenderer(renderer);
        if (!Double.isNaN(limits.peakGflopsPerCore())) {
            double top = 0;
            for (int t : threads) {
                int used = Math.min(t, limits.cores());
                top = Math.max(top, limits.peakGflopsPerCore() * used);
                addMarker(plot, limits.peakGflopsPerCore() * used,
                        String.format(Locale.ROOT, "measured FMA peak x %d core%s (%.0f GFLOP/s)", used,
                                used == 1 ? "" : "s", limits.peakGflopsPerCore() * used));
            }
            includeInRange(plot.getRangeAxis(), top);
        }
        style(chart);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
        return true;
    }

    /** Every GEMM shape as a group of bars, one bar per implementation; written when non-square shapes ran. */
    private static boolean gemmByShape(Path file, List<Rows.Row> rows, Rows.Limits limits) throws IOException {
        boolean anyOther = rows.stream().anyMatch(r -> r.kind == Report.Kind.GEMM && ok(r) && !square(r));
        if (!anyOther) {
            return false;
        }
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Rows.Row r : rows) {
            if (r.kind == Report.Kind.GEMM && ok(r)) {
                data.addValue(r.gflops, r.impl, Rows.paramText(r.kind, r.params));
            }
        }
        JFreeChart chart = ChartFactory.createBarChart("SGEMM by shape (m x n x k, op, threads), GFLOP/s",
                null, "GFLOP/s", data);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.getDomainAxis().setCategoryLabelPositions(
                org.jfree.chart.axis.CategoryLabelPositions.UP_45);
        bars(plot, data);
        if (!Double.isNaN(limits.peakGflopsPerCore())) {
            ValueMarker m = marker(limits.peakGflopsPerCore(),
                    String.format(Locale.ROOT, "FMA peak, 1 core (%.0f)", limits.peakGflopsPerCore()));
            plot.addRangeMarker(m);
            includeInRange(plot.getRangeAxis(), limits.peakGflopsPerCore());
        }
        style(chart);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH + 200, HEIGHT + 100);
        return true;
    }

    private static boolean memory(Path file, List<Rows.Row> rows, Rows.Limits limits) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Rows.Row r : rows) {
            if (r.kind == Report.Kind.MEMORY && ok(r)) {
                String op = r.bench.equals("SoftmaxBench") ? "softmax"
                        : r.bench.equals("NormsBench") ? "layer-norm" : "residual-add";
                data.addValue(r.gbps, r.impl + (r.source.equals("jmh") ? "" : " (" + r.source + ")"),
                        op + " " + Rows.paramText(r.kind, r.params));
            }
        }
        if (data.getColumnCount() == 0) {
            return false;
        }
        JFreeChart chart = ChartFactory.createBarChart("Memory-bound kernels, GB/s of compulsory traffic (1 thread)",
                "kernel, rows x cols", "GB/s", data);
        CategoryPlot plot = chart.getCategoryPlot();
        bars(plot, data);
        if (!Double.isNaN(limits.streamGBs())) {
            plot.addRangeMarker(marker(limits.streamGBs(),
                    String.format(Locale.ROOT, "measured stream bandwidth, 1 thread (%.1f GB/s)", limits.streamGBs())));
            includeInRange(plot.getRangeAxis(), limits.streamGBs());
        }
        style(chart);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
        return true;
    }

    /** Attention (not decoding) and the training step, GFLOP/s: Lanes beside PyTorch 2.x and the others. */
    private static boolean attentionAndTraining(Path file, List<Rows.Row> rows) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Rows.Row r : rows) {
            boolean attention = r.kind == Report.Kind.ATTENTION && !r.impl.equals("decode");
            boolean training = r.bench.equals("StackTrainBench");
            if ((attention || training) && ok(r) && !Double.isNaN(r.gflops)) {
                Map<String, String> p = r.params;
                String what = attention
                        ? "attention " + p.get("pass") + (p.get("causal").equals("NONE") ? "" : " causal") + " B=" + p.get("B")
                                + " Hkv=" + p.get("Hkv") + " T=" + p.get("T")
                        : "train " + p.get("pass");
                data.addValue(r.gflops, r.impl + (r.source.equals("jmh") ? "" : " (" + r.source + ")"),
                        what + " t=" + p.getOrDefault("threads", "1"));
            }
        }
        if (data.getColumnCount() == 0) {
            return false;
        }
        JFreeChart chart = ChartFactory.createBarChart("Attention (MQA) and the GPT training step, GFLOP/s",
                null, "GFLOP/s", data);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.getDomainAxis().setCategoryLabelPositions(org.jfree.chart.axis.CategoryLabelPositions.UP_45);
        bars(plot, data);
        style(chart);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH + 200, HEIGHT + 100);
        return true;
    }

    private static void bars(CategoryPlot plot, DefaultCategoryDataset data) {
        BarRenderer r = (BarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setItemMargin(0.02);
        for (int i = 0; i < data.getRowCount(); i++) {
            r.setSeriesPaint(i, colorOf(data.getRowKey(i).toString(), i));
        }
    }

    /** Lanes is always red, each peer keeps one colour across charts. */
    private static Color colorOf(String impl, int fallback) {
        String base = impl.contains(" ") ? impl.substring(0, impl.indexOf(' ')) : impl;
        return switch (base) {
            case "lanes" -> PALETTE[0];
            case "openblas" -> PALETTE[1];
            case "openblasOffHeap" -> PALETTE[9];
            case "netlibVector" -> PALETTE[2];
            case "netlibJava" -> PALETTE[3];
            case "ejml" -> PALETTE[4];
            case "scalar" -> PALETTE[7];
            case "plainJava" -> PALETTE[5];
            case "pytorch" -> PALETTE[6];
            case "pytorchExpandedKv" -> new Color(0xF7B6D2);
            case "naive" -> PALETTE[3];
            default -> PALETTE[8 + Math.floorMod(fallback, 2)];
        };
    }

    /** Markers do not widen an axis by themselves. */
    private static void includeInRange(org.jfree.chart.axis.ValueAxis axis, double value) {
        if (axis.getUpperBound() < value * 1.12) {
            axis.setRange(0, value * 1.12);
        }
    }

    private static void addMarker(XYPlot plot, double value, String label) {
        plot.addRangeMarker(marker(value, label));
    }

    private static ValueMarker marker(double value, String label) {
        ValueMarker m = new ValueMarker(value, Color.DARK_GRAY,
                new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {3f, 3f}, 0f));
        m.setLabel(label);
        m.setLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        m.setLabelAnchor(RectangleAnchor.TOP_LEFT);
        m.setLabelTextAnchor(TextAnchor.BOTTOM_LEFT);
        return m;
    }

    private static void style(JFreeChart chart) {
        chart.setBackgroundPaint(Color.WHITE);
        chart.getPlot().setBackgroundPaint(new Color(0xFAFAFA));
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        if (chart.getPlot() instanceof XYPlot p) {
            p.setDomainGridlinePaint(Color.LIGHT_GRAY);
            p.setRangeGridlinePaint(Color.LIGHT_GRAY);
            // leave head room for the peak marker labels
            p.getRangeAxis().setUpperMargin(0.15);
        } else if (chart.getPlot() instanceof CategoryPlot p) {
            p.setRangeGridlinePaint(Color.LIGHT_GRAY);
            p.getRangeAxis().setUpperMargin(0.15);
        }
    }

    /** The training demo's loss curve: training loss per step (thin) and validation loss (points, joined). */
    static void lossCurve(Path file, List<double[]> train, List<double[]> validation, String title) throws IOException {
        XYSeries t = new XYSeries("training loss (one batch)", true, false);
        train.forEach(p -> t.addOrUpdate(p[0], p[1]));
        XYSeries v = new XYSeries("validation loss (held-out 10%)", true, false);
        validation.forEach(p -> v.addOrUpdate(p[0], p[1]));
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(t);
        data.addSeries(v);
        JFreeChart chart = ChartFactory.createXYLineChart(title, "step", "cross-entropy (nats per character)", data,
                PlotOrientation.VERTICAL, true, false, false);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        renderer.setSeriesPaint(0, PALETTE[0]);
        renderer.setSeriesStroke(0, new BasicStroke(1.0f));
        renderer.setSeriesPaint(1, PALETTE[1]);
        renderer.setSeriesStroke(1, new BasicStroke(2.4f));
        renderer.setSeriesShapesVisible(1, true);
        chart.getXYPlot().setRenderer(renderer);
        style(chart);
        chart.getXYPlot().getRangeAxis().setUpperMargin(0.05);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    }
}
