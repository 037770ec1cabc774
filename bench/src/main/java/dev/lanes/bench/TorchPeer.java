package dev.lanes.bench;

import java.util.Map;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * PyTorch 2.x in the same JVM: libtorch through the JavaCPP preset {@code org.bytedeco:pytorch}, the way a
 * Java user would call it. Operands are copied once into tensors in {@code @Setup}; the timed methods call
 * the ops on those tensors, inside a {@link org.bytedeco.javacpp.PointerScope} so every tensor an op returns
 * is released when the call ends (JavaCPP otherwise frees native memory only when the GC finds the Java
 * handle, and libtorch could not reuse it).
 *
 * <p>Threads: {@code at::set_num_threads} sets libtorch's OpenMP team, but its float GEMMs go to OpenBLAS
 * (the preset's {@code BLAS_INFO=open}), whose own pool stays at one thread per core: with
 * {@code set_num_threads(1)} alone a 1024^3 matmul ran on both cores here, above the one-core FMA peak. So
 * {@link #setThreads} also sets every OpenBLAS library loaded in the process and reads each one back.
 */
final class TorchPeer {
    private TorchPeer() {}

    private static boolean interopSet;

    /** Loads libtorch (and through its preset the OpenBLAS it calls). */
    static void load() {
        Loader.load(torch.class);
    }

    /**
     * {@code threads} for libtorch's intra-op team and for OpenBLAS, one inter-op thread (nothing here runs
     * ops concurrently); throws when a library does not read back the count asked for.
     */
    static synchronized void setThreads(int threads) {
        load();
        if (!interopSet) {
            interopSet = true;
            try {
                torch.set_num_interop_threads(1);
            } catch (RuntimeException e) {
                // libtorch refuses once inter-op work has started; the count only matters for concurrent ops
            }
        }
        torch.set_num_threads(threads);
        if (torch.get_num_threads() != threads) {
            throw new IllegalStateException("libtorch runs " + torch.get_num_threads() + " threads after asking for " + threads);
        }
        OpenBlasPeer.setThreadsEverywhere(threads);
    }

    /**
     * {@link #setThreads} for ops that call BLAS from inside libtorch's own OpenMP regions (attention,
     * the training step): the preset's OpenBLAS runs its own pthread pool, so each of libtorch's threads
     * would ask that pool for {@code threads} more. {@code LANES_TORCH_OPENBLAS_THREADS} in the fork's
     * environment (the report's --torch-env) caps OpenBLAS there, the usual advice for a pthreads
     * OpenBLAS under an OpenMP framework; unset, OpenBLAS gets {@code threads} too.
     */
    static void setThreadsNested(int threads) {
        setThreads(threads);
        String cap = System.getenv("LANES_TORCH_OPENBLAS_THREADS");
        if (cap != null && !cap.isBlank()) {
            OpenBlasPeer.setThreadsEverywhere(Math.max(1, Math.min(threads, Integer.parseInt(cap.trim()))));
        }
    }

    /** The libtorch version the preset carries, from its build configuration ("2.10.0"). */
    static String version() {
        load();
        String cfg = torch.show_config().getString();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("TORCH_VERSION=([^,\\s]+)").matcher(cfg);
        return m.find() ? m.group(1) : "unknown";
    }

    /** What the machine block records: version, BLAS, parallel backend and CPU capability. */
    static Map<String, Object> describe() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("version", version());
        m.put("artifact", "org.bytedeco:pytorch:" + Machine.jarVersion("org.bytedeco", "pytorch") + " (linux-x86_64 natives)");
        String cfg = torch.show_config().getString();
        for (String key : new String[] {"BLAS_INFO", "USE_OPENMP", "USE_MKLDNN"}) {
            java.util.regex.Matcher x = java.util.regex.Pattern.compile(key + "=([^,\\s]+)").matcher(cfg);
            if (x.find()) {
                m.put(key, x.group(1));
            }
        }
        cfg.lines().map(String::trim).filter(l -> l.startsWith("- CPU capability usage")).findFirst()
                .ifPresent(l -> m.put("cpuCapability", l.substring(l.indexOf(':') + 1).trim()));
        m.put("parallel", torch.get_parallel_info().getString().lines().map(String::trim)
                .filter(l -> l.startsWith("ATen parallel backend") || l.startsWith("OpenMP")).toList());
        m.put("openmp", "libgomp bundled with the preset");
        return m;
    }

    /** A new contiguous float tensor of {@code shape} holding a copy of {@code data}. */
    static Tensor tensor(float[] data, long... shape) {
        Tensor t = torch.empty(shape);
        if (t.numel() != data.length) {
            throw new IllegalArgumentException("data.length=" + data.length + " != numel=" + t.numel() + " of the shape");
        }
        t.data_ptr_float().put(data);
        return t;
    }

    /** A new contiguous int64 tensor of {@code shape} holding {@code ids}. */
    static Tensor longs(int[] ids, long... shape) {
        Tensor t = torch.empty(shape, new TensorOptions(torch.ScalarType.Long), new MemoryFormatOptional());
        long[] v = new long[ids.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = ids[i];
        }
        t.data_ptr_long().put(v);
        return t;
    }

    /** The elements of {@code t} in row-major order (for the agreement checks, never timed). */
    static float[] toArray(Tensor t) {
        Tensor c = t.contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        c.data_ptr_float().get(out);
        return out;
    }
}
