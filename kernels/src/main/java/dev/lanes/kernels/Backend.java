package dev.lanes.kernels;

import java.lang.System.Logger.Level;
import java.util.Optional;

/**
 * Chooses, once per JVM, whether the kernels run their Vector API bodies or their scalar twins.
 *
 * <p>The SIMD path needs the incubating module {@code jdk.incubator.vector} in the boot layer (it is
 * only resolved when the JVM is started with {@value #FLAG}). Without it, or when the system property
 * {@code lanes.simd=false} asks for it, every facade delegates to its scalar twin and one warning says
 * why. The choice is a {@code static final} boolean, so C2 folds the branch away in the facades.
 */
public final class Backend {
    /** The JVM flag that makes the SIMD path available. */
    public static final String FLAG = "--add-modules=jdk.incubator.vector";

    static final boolean SIMD;
    private static final String REASON;

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
