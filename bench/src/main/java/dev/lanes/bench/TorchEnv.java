package dev.lanes.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The environment the report's native peers run in, and the OpenBLAS core each one uses.
 *
 * <p>A JMH fork inherits the report's environment and a JVM cannot change its own, so where a peer needs
 * variables the library reads at load time, its forks start through a small shell script that exports
 * them and execs this JVM's {@code java} (JMH's {@code jvm} option). Two uses:
 * <ul>
 *   <li>PyTorch 2.x's forks run with {@link #BEST} (or {@code --torch-env}): settings a PyTorch user
 *       would apply, chosen by measurement (see bench/RESULTS.md).
 *   <li>When the bundled OpenBLAS falls back to a generic core on a CPU with AVX-512 or AVX2 (it did, to
 *       {@code Prescott}, on an Intel model its build did not know), the forks of every OpenBLAS-backed
 *       row get {@code OPENBLAS_CORETYPE} set to the best core the CPU supports, and the report says so.
 *       An AVX2 or AVX-512 core the caller set in the environment is kept (a deliberate narrower run);
 *       a generic one is not.
 * </ul>
 */
final class TorchEnv {
    /**
     * The PyTorch forks' settings, chosen by measurement (bench/RESULTS.md). OpenBLAS at one thread where
     * libtorch calls it from inside its OpenMP regions (see {@link TorchPeer#setThreadsNested}): a two-thread
     * training step took 0.83-0.87 s with it and 1.5-5.1 s without. glibc's malloc keeping freed pages, as
     * for Debian's PyTorch in pytorch_bench.py (no measurable effect on libtorch 2.10 here). No
     * OMP_WAIT_POLICY: PASSIVE and ACTIVE did not beat libgomp's default.
     */
    static final Map<String, String> BEST = Map.of("LANES_TORCH_OPENBLAS_THREADS", "1", "MALLOC_MMAP_MAX_", "0",
            "MALLOC_TRIM_THRESHOLD_", "1099511627776");

    /** Methods whose forks load the bytedeco OpenBLAS. */
    static boolean usesOpenBlas(String method) {
        return method.startsWith("openblas") || isTorch(method);
    }

    static boolean isTorch(String method) {
        return method.startsWith("pytorch");
    }

    private final Map<String, String> torchEnv;
    private final Path dir;
    /** OPENBLAS_CORETYPE forced on the OpenBLAS forks, or null. */
    final String forcedCore;
    /** The core the bytedeco OpenBLAS chose in the report's own JVM. */
    final String detectedCore;
    private final Map<String, String> scripts = new LinkedHashMap<>();

    private TorchEnv(Map<String, String> torchEnv, Path dir, String detectedCore, String forcedCore) {
        this.torchEnv = torchEnv;
        this.dir = dir;
        this.detectedCore = detectedCore;
        this.forcedCore = forcedCore;
    }

    /** "K=V,K=V", or "none" for no variables. */
    static Map<String, String> parse(String spec) {
        Map<String, String> env = new LinkedHashMap<>();
        if (spec.equalsIgnoreCase("none")) {
            return env;
        }
        for (String kv : spec.split(",")) {
            int eq = kv.indexOf('=');
            if (eq < 1 || !kv.substring(0, eq).matches("[A-Za-z_][A-Za-z0-9_]*")) {
                throw new IllegalArgumentException("--torch-env: '" + kv + "' is not NAME=VALUE");
            }
            env.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return env;
    }

    /** Checks the bytedeco OpenBLAS' core in this JVM and prints what the forks will run with. */
    static TorchEnv forRun(Map<String, String> torchEnv, Path dir) {
        String detected;
        try {
            detected = OpenBlasPeer.coreName();
        } catch (Throwable e) {
            detected = "unknown (" + e + ")";
        }
        String callerCore = System.getenv("OPENBLAS_CORETYPE");
        boolean callerSet = callerCore != null && !callerCore.isBlank();
        String forced = OpenBlasPeer.betterCore(detected, Machine.cpuFlags());
        if (forced != null && callerSet && OpenBlasPeer.isVectorCore(detected)) {
            forced = null; // a narrower vector core the caller chose on purpose (e.g. --avx2's Haswell)
        }
        if (forced != null) {
            System.out.printf("OpenBLAS (org.bytedeco) chose its %s core on a CPU with %s: its rows and PyTorch's run"
                    + " with OPENBLAS_CORETYPE=%s%n", detected, Machine.cpuFlags().contains(" avx512f ") ? "AVX-512" : "AVX2",
                    forced);
        } else if (callerSet) {
            System.out.printf("OpenBLAS: OPENBLAS_CORETYPE=%s set by the caller (core %s)%n", callerCore, detected);
        }
        System.out.println("PyTorch 2.x forks' environment: " + (torchEnv.isEmpty() ? "as inherited" : torchEnv));
        return new TorchEnv(torchEnv, dir, detected, forced);
    }

    /** The core every bytedeco OpenBLAS row runs on. */
    String bytedecoCore() {
        return forcedCore != null ? forcedCore + " (OPENBLAS_CORETYPE set by the report; detected " + detectedCore + ")"
                : detectedCore;
    }

    /** The variables a fork of {@code method} gets on top of the report's environment. */
    Map<String, String> envFor(String method) {
        Map<String, String> env = new LinkedHashMap<>();
        if (forcedCore != null && usesOpenBlas(method)) {
            env.put("OPENBLAS_CORETYPE", forcedCore);
        }
        if (isTorch(method)) {
            env.putAll(torchEnv);
        }
        return env;
    }

    /** A launcher for the forks of {@code method}, or null when they need nothing beyond the inherited environment. */
    String jvmFor(String method) {
        Map<String, String> env = envFor(method);
        if (env.isEmpty()) {
            return null;
        }
        String key = env.toString();
        String existing = scripts.get(key);
        if (existing != null) {
            return existing;
        }
        Path script = dir.resolve("fork-env-" + (scripts.size() + 1) + ".sh");
        StringBuilder sb = new StringBuilder("#!/bin/sh\n# Written by dev.lanes.bench.Report: JMH forks of ")
                .append(method).append(" start through this script.\n");
        env.forEach((k, v) -> sb.append("export ").append(k).append("='").append(v.replace("'", "")).append("'\n"));
        sb.append("exec '").append(Path.of(System.getProperty("java.home"), "bin", "java")).append("' \"$@\"\n");
        try {
            Files.writeString(script, sb.toString(), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException | UnsupportedOperationException e) {
            throw new IllegalStateException("cannot write the fork launcher " + script + ": " + e, e);
        }
        String path = script.toAbsolutePath().toString();
        scripts.put(key, path);
        return path;
    }

    /** Stamps every OpenBLAS-backed row with the core it ran on. */
    void labelRows(List<Rows.Row> rows, Map<String, Object> pythonMachine) {
        String py = pythonMachine == null ? null : (String) pythonMachine.get("blasCore");
        for (Rows.Row r : rows) {
            if (r.source.equals("jmh") && usesOpenBlas(r.impl)) {
                r.blasCore = forcedCore != null ? forcedCore : detectedCore;
            } else if (!r.source.equals("jmh") && py != null) {
                r.blasCore = py;
            }
        }
    }

    /** The machine block's "openblas": each OpenBLAS peer with its core. */
    Map<String, Object> openBlasCores(Map<String, Object> pythonMachine) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("org.bytedeco:openblas (rows openblas, openblasOffHeap, pytorch)", bytedecoCore());
        if (pythonMachine != null) {
            Object core = pythonMachine.get("blasCore");
            Object forced = pythonMachine.get("openblasCoretype");
            m.put("system BLAS of Python torch " + pythonMachine.get("torch") + " (" + pythonMachine.get("blas") + ")",
                    core == null ? "unknown" : forced == null ? core : core + " (OPENBLAS_CORETYPE=" + forced + " set by the script)");
        }
        return m;
    }

    /** "libtorch 2.10.0" as the preset reports it; the error when it does not load. */
    static String libtorchVersion() {
        try {
            return "libtorch " + TorchPeer.version();
        } catch (Throwable e) {
            return "not loaded: " + e;
        }
    }

    /** The peers block's entry for libtorch. */
    static Map<String, Object> libtorchPeer(TorchEnv env) {
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            m.putAll(TorchPeer.describe());
        } catch (Throwable e) {
            m.put("error", e.toString());
        }
        m.put("forkEnvironment", env.envFor("pytorch"));
        m.put("threadsInBenchmarks", "at::set_num_threads(threads), at::set_num_interop_threads(1), and"
                + " openblas_set_num_threads(threads) on every loaded OpenBLAS, each read back");
        m.put("blasCore", env.bytedecoCore());
        return m;
    }
}
