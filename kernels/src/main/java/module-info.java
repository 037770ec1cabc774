/**
 * Lanes kernels: vectorised float32 GEMM, row-wise stable softmax and fused residual-add, each with a
 * plain scalar twin. The Vector API is optional at run time: without {@code jdk.incubator.vector} in
 * the boot layer every kernel runs its scalar twin and one warning names the missing flag.
 */
module dev.lanes.kernels {
    requires static jdk.incubator.vector;

    exports dev.lanes.kernels;
}
