package dev.lanes.kernels.simd;

import jdk.incubator.vector.FloatVector;

/** Facts about the Vector API species the SIMD kernels use; loaded only when the module is present. */
public final class SimdInfo {
    private SimdInfo() {}

    public static int floatLanes() {
        return FloatVector.SPECIES_PREFERRED.length();
    }

    public static String describe() {
        return "FloatVector " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit, "
                + FloatVector.SPECIES_PREFERRED.length() + " lanes";
    }
}
