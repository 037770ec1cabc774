package dev.lanes.kernels;

import dev.lanes.kernels.internal.ElementwiseKernel;
import dev.lanes.kernels.internal.GemmKernel;
import dev.lanes.kernels.internal.NormsKernel;
import dev.lanes.kernels.internal.OptimizerKernel;
import dev.lanes.kernels.internal.ResidualAddKernel;
import dev.lanes.kernels.internal.SoftmaxKernel;
import dev.lanes.kernels.simd.SimdKernels;
import java.lang.System.Logger.Level;
import java.util.Optional;

/**
 * Chooses, once per JVM, whether the kernels run their Vector API bodies or their scalar twins.
 *
 * <p>The SIMD path needs the incubating module {@code jdk.incubator.vector} in the boot layer (it is
 * only resolved when the JVM is started with {@value #FLAG}). Without it, or when the system property
 * {@code lanes.simd=false} asks for it, every facade delegates to its scalar twin and one warning says
 * why.
 *
 * <p>The choice is made here once, for every kernel family at the same time (Lucene's vectorization
 * provider is the model): each family is an interface of {@code dev.lanes.kernels.internal} with a scalar
 * implementation ({@link ScalarKernels}, onto the twins' bodies) and a Vector API one
 * ({@code SimdKernels}, onto the {@code simd} bodies), and the chosen instance sits in a
 * {@code static final} field below. The facades validate and then call that field: they hold no branch
 * on the backend, and C2, seeing a constant receiver of one class, inlines the call. The SIMD classes are
 * not even loaded when the scalar kernels are chosen. The attention tiles choose from {@link #simdEnabled()}
 * in the same way ({@code dev.lanes.kernels.internal.AttentionTiles}).
 */
public final class Backend {
    /** The JVM flag that makes the SIMD path available. */
    public static final String FLAG = "--add-modules=jdk.incubator.vector";

    static final boolean SIMD;
    private static final String REASON;

    static final GemmKernel GEMM;
    static final SoftmaxKernel SOFTMAX;
    static final ResidualAddKernel RESIDUAL_ADD;
    static final NormsKernel NORMS;
    static final ElementwiseKernel ELEMENTWISE;
    static final OptimizerKernel OPTIMIZER;

    static {
        String reason = null;
        boolean simd = false;
        Optional<Module> vector = ModuleLayer.boot().findModule("jdk.incubator.vector");
        if (!"true".equalsIgnoreCase(System.getProperty("lanes.simd", "true"))) {
            reason = "system property lanes.simd=" + System.getProperty("lanes.simd") + " selects the scalar kernels";
        } else if (vector.isEmpty()) {
            reason = "module jdk.incubator.vector is not in the boot layer; start the JVM with " + FLAG
                    + " to enable the SIMD kernels";
        } else {
            try {
                int lanes = dev.lanes.kernels.simd.SimdInfo.floatLanes();
                if (lanes < 4) {
                    reason = "the preferred float vector has only " + lanes + " lane(s); SIMD would not pay";
                } else {
                    simd = true;
                }
            } catch (LinkageError | RuntimeException e) {
                reason = "the Vector API failed to initialise (" + e + ")";
            }
        }
        SIMD = simd;
        REASON = reason;
        if (simd) {
            GEMM = SimdKernels.gemm();
            SOFTMAX = SimdKernels.softmax();
            RESIDUAL_ADD = SimdKernels.residualAdd();
            NORMS = SimdKernels.norms();
            ELEMENTWISE = SimdKernels.elementwise();
            OPTIMIZER = SimdKernels.optimizer();
        } else {
            GEMM = ScalarKernels.GEMM;
            SOFTMAX = ScalarKernels.SOFTMAX;
            RESIDUAL_ADD = ScalarKernels.RESIDUAL_ADD;
            NORMS = ScalarKernels.NORMS;
            ELEMENTWISE = ScalarKernels.ELEMENTWISE;
            OPTIMIZER = ScalarKernels.OPTIMIZER;
        }
        if (!simd) {
            System.getLogger("dev.lanes.kernels").log(Level.WARNING,
                    "Lanes runs its scalar kernels: " + reason);
        }
    }

    private Backend() {}

    /** Whether the vectorised kernels are in use in this JVM. */
    public static boolean simdEnabled() {
        return SIMD;
    }

    /** A one-line description of the active implementation, for reports and logs. */
    public static String describe() {
        if (SIMD) {
            return "SIMD (" + dev.lanes.kernels.simd.SimdInfo.describe() + ")";
        }
        return "scalar (" + REASON + ")";
    }
}
