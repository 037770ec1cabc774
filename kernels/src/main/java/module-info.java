/**
 * Lanes kernels: vectorised float32 GEMM, row-wise stable softmax and fused residual-add, each with a
 * plain scalar twin. The Vector API is optional at run time: without {@code jdk.incubator.vector} in
 * the boot layer every kernel runs its scalar twin and one warning names the missing flag.
 *
 * <p>{@code dev.lanes.kernels.internal} (the kernel-family interfaces, the attention tiles, the argument
 * checks) is for Lanes' own core only; {@code dev.lanes.kernels.simd} (the Vector API bodies) for no one.
 */
@SuppressWarnings("module") // the qualified export names dev.lanes.core, which is compiled after this module
module dev.lanes.kernels {
    requires static jdk.incubator.vector;

    exports dev.lanes.kernels;
    exports dev.lanes.kernels.internal to dev.lanes.core;
}
