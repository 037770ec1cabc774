package dev.lanes.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * OpenBLAS as bundled by {@code org.bytedeco:openblas} (its own build, which picks a kernel for the
 * running CPU at load time). {@code cblas_sgemm} is called on the Java arrays themselves, as a Java
 * caller would; JavaCPP pins or copies them across the JNI boundary, and that cost is part of the figure.
 */
final class OpenBlasPeer {
    private OpenBlasPeer() {}

    /** Sets OpenBLAS' own thread count and reads it back from the library. */
    static void setThreads(int threads) {
        checkForcedCore();
        openblas_nolapack.blas_set_num_threads(threads);
        int now = threads();
        if (now != threads) {
            throw new IllegalStateException("OpenBLAS runs " + now + " threads after asking for " + threads);
        }
    }

    /**
     * Sets the thread count of every OpenBLAS library loaded in this JVM and reads each back. JavaCPP's
     * OpenBLAS preset loads two builds, {@code libopenblas_nolapack} (this peer's) and {@code libopenblas}
     * (which libtorch's LAPACK pulls in), each with its own pool; which one a caller's {@code sgemm_}
     * binds to depends on load order, so both are set.
     */
    static void setThreadsEverywhere(int threads) {
        setThreads(threads);
        for (Map.Entry<String, String> lib : loadedLibraries().entrySet()) {
            try {
                SymbolLookup l = SymbolLookup.libraryLookup(Path.of(lib.getValue()), Arena.global());
                MethodHandle set = Linker.nativeLinker().downcallHandle(l.find("openblas_set_num_threads").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
                MethodHandle get = Linker.nativeLinker().downcallHandle(l.find("openblas_get_num_threads").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT));
                set.invokeExact(threads);
                int now = (int) get.invokeExact();
                if (now != threads) {
                    throw new IllegalStateException(lib.getKey() + " runs " + now + " threads after asking for " + threads);
                }
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("cannot set the threads of " + lib.getKey() + ": " + e, e);
            }
        }
    }

    /** Every OpenBLAS library JavaCPP has loaded: name (e.g. "openblas@.0") to file. */
    static Map<String, String> loadedLibraries() {
        Map<String, String> libs = new TreeMap<>();
        Loader.getLoadedLibraries().forEach((name, file) -> {
            if (name.startsWith("openblas") && file != null) {
                libs.put(name, file);
            }
        });
        return libs;
    }

    /** The core each loaded OpenBLAS library chose: library name to openblas_get_corename(). */
    static Map<String, String> coresLoaded() {
        Map<String, String> cores = new LinkedHashMap<>();
        for (Map.Entry<String, String> lib : loadedLibraries().entrySet()) {
            try {
                SymbolLookup l = SymbolLookup.libraryLookup(Path.of(lib.getValue()), Arena.global());
                MethodHandle h = Linker.nativeLinker().downcallHandle(l.find("openblas_get_corename").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS));
                MemorySegment s = (MemorySegment) h.invokeExact();
                cores.put(lib.getKey(), s.equals(MemorySegment.NULL) ? "unknown" : s.reinterpret(4096).getString(0).trim());
            } catch (Throwable e) {
                cores.put(lib.getKey(), "unknown (" + e.getMessage() + ")");
            }
        }
        return cores;
    }

    /** openblas_get_num_threads(), or -1 when the library does not answer. */
    static int threads() {
        try {
            MethodHandle h = Linker.nativeLinker().downcallHandle(symbol("openblas_get_num_threads"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            return (int) h.invokeExact();
        } catch (Throwable e) {
            return -1;
        }
    }

    /** Row-major {@code C = op(A) op(B)}, alpha 1, beta 0. */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int lda, float[] b, int ldb,
                      float[] c, int ldc) {
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor,
                transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc);
    }

    /**
     * Operands copied once into native memory, so calls pass pointers and JNI copies nothing. A strided
     * batch lives back to back in one buffer per operand and is walked by moving the pointers' positions,
     * which JavaCPP adds to the address it passes: no copy and no allocation per product.
     */
    static final class OffHeap implements AutoCloseable {
        private final FloatPointer a, b, c;
        private final int cLength;

        OffHeap(float[] a, float[] b, int cLength) {
            this.a = new FloatPointer(a);
            this.b = new FloatPointer(b);
            this.c = new FloatPointer(cLength);
            this.cLength = cLength;
        }

        /** {@code batch} products C_e = op(A_e) op(B_e), A_e at e * strideA and so on. */
        Object sgemm(boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc,
                     int batch, int strideA, int strideB, int strideC) {
            int ta = transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
            int tb = transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
            for (int e = 0; e < batch; e++) {
                openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, ta, tb, m, n, k, 1f,
                        a.position((long) e * strideA), lda, b.position((long) e * strideB), ldb, 0f,
                        c.position((long) e * strideC), ldc);
            }
            a.position(0);
            b.position(0);
            c.position(0);
            return c;
        }

        /** Sets every element of C (before the agreement check, so an unwritten one shows). */
        void fillC(float value) {
            float[] v = new float[cLength];
            java.util.Arrays.fill(v, value);
            c.position(0).put(v);
        }

        /** Copies C out into {@code into} (for the agreement check) and returns it. */
        float[] result(float[] into) {
            c.position(0).get(into);
            return into;
        }

        @Override
        public void close() {
            a.close();
            b.close();
            c.close();
        }
    }

    /** Cores that use the CPU's widest FMA: AVX-512 ones, and on an AVX2-only CPU also the AVX2 ones. */
    private static final java.util.Set<String> AVX512_CORES = java.util.Set.of("skylakex", "cooperlake", "sapphirerapids");
    private static final java.util.Set<String> AVX2_CORES = java.util.Set.of("haswell", "zen", "skylakex", "cooperlake",
            "sapphirerapids");

    /**
     * The core to force with OPENBLAS_CORETYPE when {@code detected} leaves the CPU's vector units idle
     * (a generic fallback such as Prescott on a CPU OpenBLAS' build does not know), else null. On a CPU with
     * AVX-512: Cooperlake when it has AVX512_BF16, else SkylakeX; with AVX2 and FMA only: Haswell.
     * {@code flags} is /proc/cpuinfo's flags line, space-padded.
     */
    static String betterCore(String detected, String flags) {
        String core = detected == null ? "" : detected.trim().toLowerCase(java.util.Locale.ROOT);
        if (flags.contains(" avx512f ")) {
            return AVX512_CORES.contains(core) ? null : flags.contains(" avx512_bf16 ") ? "Cooperlake" : "SkylakeX";
        }
        if (flags.contains(" avx2 ") && flags.contains(" fma ")) {
            return AVX2_CORES.contains(core) ? null : "Haswell";
        }
        return null;
    }

    /** Whether {@code core} runs AVX2 or AVX-512 kernels. */
    static boolean isVectorCore(String core) {
        return core != null && AVX2_CORES.contains(core.trim().toLowerCase(java.util.Locale.ROOT));
    }

    /** In a fork started with OPENBLAS_CORETYPE, every loaded OpenBLAS must run that core, or the rows would lie. */
    private static void checkForcedCore() {
        String want = System.getenv("OPENBLAS_CORETYPE");
        if (want == null || want.isBlank()) {
            return;
        }
        coreName(); // loads this peer's library
        coresLoaded().forEach((lib, core) -> {
            if (!core.equalsIgnoreCase(want.trim())) {
                throw new IllegalStateException(lib + " runs its " + core + " core although OPENBLAS_CORETYPE=" + want);
            }
        });
    }

    /** The kernel family OpenBLAS chose for this CPU, e.g. "SkylakeX" or "Cooperlake". */
    static String coreName() {
        return callString("openblas_get_corename");
    }

    /** The build line, e.g. "OpenBLAS 0.3.31 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=...". */
    static String config() {
        return callString("openblas_get_config");
    }

    /**
     * The JavaCPP preset skips these functions, so they are called through the FFM API at the address
     * JavaCPP resolves in the libraries it loaded.
     */
    private static MemorySegment symbol(String name) {
        Loader.load(openblas_nolapack.class);
        Pointer p = Loader.addressof(name);
        if (p == null || p.isNull()) {
            throw new IllegalStateException(name + " not found in the loaded OpenBLAS");
        }
        return MemorySegment.ofAddress(p.address());
    }

    private static String callString(String name) {
        try {
            MethodHandle h = Linker.nativeLinker().downcallHandle(symbol(name), FunctionDescriptor.of(ValueLayout.ADDRESS));
            MemorySegment s = (MemorySegment) h.invokeExact();
            return s.equals(MemorySegment.NULL) ? "unknown" : s.reinterpret(4096).getString(0).trim();
        } catch (Throwable e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }
}
