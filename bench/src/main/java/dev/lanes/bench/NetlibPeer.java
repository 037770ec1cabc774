package dev.lanes.bench;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import java.lang.reflect.Method;

/**
 * {@code dev.ludovic.netlib:blas}: its Vector API implementation ({@code VectorBLAS}, what
 * {@link JavaBLAS#getInstance()} returns on JDK 16+ with {@code jdk.incubator.vector}) and its plain-Java
 * one ({@code Java11BLAS}, the fallback it would otherwise use).
 */
final class NetlibPeer {
    private NetlibPeer() {}

    static BLAS vector() {
        BLAS blas = JavaBLAS.getInstance();
        if (!blas.getClass().getSimpleName().equals("VectorBLAS")) {
            throw new IllegalStateException("netlib chose " + blas.getClass().getName()
                    + " instead of VectorBLAS (is jdk.incubator.vector in the boot layer?)");
        }
        return blas;
    }

    /** Java11BLAS is package-private; its public getInstance() is reached reflectively from the class path. */
    static BLAS plainJava() {
        try {
            Method m = Class.forName("dev.ludovic.netlib.blas.Java11BLAS").getMethod("getInstance");
            m.setAccessible(true);
            return (BLAS) m.invoke(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot reach netlib's plain-Java BLAS (Java11BLAS)", e);
        }
    }
}
