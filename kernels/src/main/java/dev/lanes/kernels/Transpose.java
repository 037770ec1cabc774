package dev.lanes.kernels;

/** Whether a GEMM operand is used as stored ({@link #N}) or transposed ({@link #T}). */
public enum Transpose {
    /** op(X) = X. */
    N,
    /** op(X) = X^T. */
    T
}
