package dev.lanes.core;

import dev.lanes.kernels.Backend;

/** Facts about this Lanes build and the kernels it runs on, for logs and benchmark reports. */
public final class Lanes {
    private Lanes() {}

    /**
     * The version of this build: the module's version on the module path, the jar manifest's
     * Implementation-Version on the class path, or "dev" when run from classes.
     */
    public static String version() {
        Module module = Lanes.class.getModule();
        if (module.isNamed() && module.getDescriptor().rawVersion().isPresent()) {
            return module.getDescriptor().rawVersion().get();
        }
        String v = Lanes.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Which kernel implementation is active (SIMD with its species, or scalar and why). */
    public static String backend() {
        return Backend.describe();
    }
}
