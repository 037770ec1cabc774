package dev.lanes.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The C FMA-peak probe (bench/probe/fma_peak.c: {@code _mm512_fmadd_ps} / {@code _mm256_fmadd_ps} on 16 /
 * 12 independent accumulators), compiled with gcc and run by the report beside the Java probe, so "% of
 * peak" rests on what a compiler gets from the core, not only on what the JIT gets.
 */
final class CProbe {
    private CProbe() {}

    private static final Pattern LINE = Pattern.compile("bits=(\\d+) gflops=([0-9.]+)");

    /** GFLOP/s by vector width in bits (512 and/or 256); empty when gcc or the source is missing. */
    static Map<Integer, Double> run(Path workDir, int runs) {
        Map<Integer, Double> out = new LinkedHashMap<>();
        Path src = Files.exists(Path.of("probe", "fma_peak.c")) ? Path.of("probe", "fma_peak.c")
                : Path.of("bench", "probe", "fma_peak.c");
        if (!Files.exists(src)) {
            System.out.println("C FMA probe: " + src + " not found, skipped");
            return out;
        }
        try {
            boolean avx512 = Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\bavx512f\\b.*");
            Path exe = Files.createTempFile(workDir, "fma_peak", ".bin"); // deleted below: results keep text only
            String isa = avx512 ? "-mavx512f" : "-mavx2";
            Process cc = new ProcessBuilder("gcc", "-O2", isa, "-mfma", src.toString(), "-o", exe.toString())
                    .redirectErrorStream(true).start();
            String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!cc.waitFor(60, TimeUnit.SECONDS) || cc.exitValue() != 0) {
                System.out.println("C FMA probe: gcc failed: " + ccOut.trim());
                return out;
            }
            Process p = new ProcessBuilder(exe.toString(), Integer.toString(runs)).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(120, TimeUnit.SECONDS);
            Matcher m = LINE.matcher(text);
            while (m.find()) {
                out.put(Integer.parseInt(m.group(1)), Double.parseDouble(m.group(2)));
            }
            Files.deleteIfExists(exe);
            System.out.println("C FMA probe (gcc -O2 " + isa + " -mfma, best of " + runs + "): " + out + " GFLOP/s");
        } catch (IOException e) {
            System.out.println("C FMA probe: skipped (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return out;
    }

    /** A report row for one width, of kind PEAK when it is the width the Lanes forks run. */
    static Rows.Row row(int bits, double gflops, boolean limit) {
        Rows.Row r = new Rows.Row();
        r.bench = "CProbe";
        r.impl = "fmadd" + bits;
        r.source = "gcc";
        r.kind = limit ? Report.Kind.PEAK : Report.Kind.OTHER;
        r.params.put("rounds", "4194304");
        r.gflops = gflops;
        r.unit = "GFLOP/s";
        return r;
    }
}
