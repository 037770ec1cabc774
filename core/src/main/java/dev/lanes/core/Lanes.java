package dev.lanes.core;

import dev.lanes.kernels.Backend;

/** Facts about this Lanes build and the kernels it runs on, for logs and benchmark reports. */
public final class Lanes {
    private Lanes() {}

    /** The implementation version from the jar manifest, or "dev" when run from classes. */
    public static String version() {
        String v = Lanes.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Which kernel implementation is active (SIMD with its species, or scalar and why). */
    public static String backend() {
        return Backend.describe();
    }
}
