package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/** What the report records about the machine, the JVM and the libraries it measured. */
final class Machine {
    private Machine() {}

    static Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, String> cpu = cpuInfo();
        m.put("cpu", cpu.getOrDefault("model name", System.getProperty("os.arch")));
        if (cpu.containsKey("cpu family")) {
            String fam = cpu.get("cpu family"), model = cpu.get("model");
            m.put("cpuFamilyModelStepping", fam + "/" + model + "/" + cpu.getOrDefault("stepping", "?")
                    + uarch(cpu.getOrDefault("vendor_id", ""), fam, model));
        }
        String flags = " " + cpu.getOrDefault("flags", "") + " ";
        m.put("cpuVectorFlags", String.join(" ", List.of("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile")
                .stream().filter(f -> flags.contains(" " + f + " ")).toList()));
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("memory", memTotal());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("jdk", Runtime.version().toString());
        m.put("jvm", System.getProperty("java.vm.name") + " (" + System.getProperty("java.vm.vendor") + ")");
        m.put("javaHome", System.getProperty("java.home"));
        m.put("lanesBackend", Backend.describe());
        m.put("lanesCommit", gitCommit());
        m.put("vectorSpecies", "FloatVector.SPECIES_PREFERRED: " + PeakBench.lanes() * 32 + "-bit, " + PeakBench.lanes() + " lanes");
        return m;
    }

    /**
     * Cores' worth of CPU time that other processes used over one second, from /proc/stat (the report's own
     * JVM is idle meanwhile); NaN off Linux. Other work on the machine skews every timing, the two-thread
     * rows most. The 1-minute load average would also count Maven's compile that just ran.
     */
    static double otherCpuUse() {
        try {
            long[] a = cpuTicks();
            Thread.sleep(1000);
            long[] b = cpuTicks();
            double total = b[0] - a[0], idle = b[1] - a[1];
            return total <= 0 ? Double.NaN : (1 - idle / total) * Runtime.getRuntime().availableProcessors();
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
    }

    /** {total, idle + iowait} jiffies from the "cpu" line of /proc/stat. */
    private static long[] cpuTicks() throws IOException {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
        long total = 0;
        for (int i = 1; i < f.length; i++) {
            total += Long.parseLong(f[i]);
        }
        return new long[] {total, Long.parseLong(f[4]) + Long.parseLong(f[5])};
    }

    /** The commit the measured Lanes was built from, with "+dirty" when the work tree had changes. */
    static String gitCommit() {
        try {
            Process p = new ProcessBuilder("git", "describe", "--always", "--dirty=+dirty", "--abbrev=12")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 && !out.isEmpty() ? out : "unknown";
        } catch (IOException | RuntimeException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    /** The libraries measured, with the versions their own jars declare. */
    static Map<String, Object> peers() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("jmh", jarVersion("org.openjdk.jmh", "jmh-core"));
        Map<String, Object> ob = new LinkedHashMap<>();
        ob.put("artifact", "org.bytedeco:openblas:" + jarVersion("org.bytedeco", "openblas") + " (linux-x86_64 natives)");
        try {
            ob.put("config", OpenBlasPeer.config());
            ob.put("core", OpenBlasPeer.coreName());
            ob.put("defaultThreads", OpenBlasPeer.threads());
            ob.put("threadsInBenchmarks", "set to each row's threads with blas_set_num_threads, read back with openblas_get_num_threads");
        } catch (Throwable e) { // a missing native must not stop the report: its rows will fail on their own
            ob.put("error", e.toString());
        }
        ob.put("call", "cblas_sgemm(CblasRowMajor, ...) on Java float[] through JavaCPP; blas_set_num_threads = threads");
        p.put("openblas", ob);
        p.put("netlib", "dev.ludovic.netlib:blas:" + jarVersion("dev.ludovic.netlib", "blas", dev.ludovic.netlib.blas.BLAS.class)
                + " (netlibVector = VectorBLAS, netlibJava = Java11BLAS; column-major, called as C^T = B^T A^T)");
        p.put("ejml", "org.ejml:ejml-fdense:" + jarVersion("org.ejml", "ejml-fdense", org.ejml.dense.row.CommonOps_FDRM.class)
                + " (CommonOps_FDRM.mult at 1 thread, CommonOps_MT_FDRM.mult with EjmlConcurrency.setMaxThreads above)");
        return p;
    }

    /** The version in the jar's Maven metadata, else in its file name (artifact-VERSION.jar). */
    static String jarVersion(String group, String artifact, Class<?> probe) {
        String v = jarVersion(group, artifact);
        if (!v.equals("unknown")) {
            return v;
        }
        try {
            String file = Path.of(probe.getProtectionDomain().getCodeSource().getLocation().toURI()).getFileName().toString();
            if (file.startsWith(artifact + "-") && file.endsWith(".jar")) {
                return file.substring(artifact.length() + 1, file.length() - 4);
            }
        } catch (Exception e) {
            // fall through
        }
        return "unknown";
    }

    static String jarVersion(String group, String artifact) {
        String res = "/META-INF/maven/" + group + "/" + artifact + "/pom.properties";
        try (InputStream in = Machine.class.getResourceAsStream(res)) {
            if (in == null) {
                return "unknown";
            }
            Properties props = new Properties();
            props.load(in);
            return props.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** The first processor's flags from /proc/cpuinfo, space-padded (" avx2 fma ... "); " " off Linux. */
    static String cpuFlags() {
        return " " + cpuInfo().getOrDefault("flags", "") + " ";
    }

    private static Map<String, String> cpuInfo() {
        Map<String, String> m = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.isBlank()) {
                    break; // the first processor is enough
                }
                int colon = line.indexOf(':');
                if (colon > 0) {
                    m.putIfAbsent(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the model stays unknown
        }
        return m;
    }

    /** A hint for the AMD families whose model names a hypervisor often hides ("AMD EPYC"). */
    private static String uarch(String vendor, String family, String model) {
        try {
            int f = Integer.parseInt(family), mo = Integer.parseInt(model);
            if (vendor.contains("AMD")) {
                if (f == 25 && ((mo >= 0x10 && mo <= 0x1f) || (mo >= 0x60 && mo <= 0x7f) || (mo >= 0xa0 && mo <= 0xaf))) {
                    return " (Zen 4)";
                }
                if (f == 25) {
                    return " (Zen 3)";
                }
                if (f == 26) {
                    return " (Zen 5)";
                }
            }
        } catch (NumberFormatException e) {
            // unknown
        }
        return "";
    }

    private static String memTotal() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return String.format("%.1f GiB", kb / 1024.0 / 1024.0);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return String.format("%.1f GiB max heap", Runtime.getRuntime().maxMemory() / 1024.0 / 1024 / 1024);
    }
}
