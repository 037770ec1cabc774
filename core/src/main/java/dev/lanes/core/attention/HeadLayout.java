package dev.lanes.core.attention;

/**
 * Where the rows of a 4-D attention tensor {@code [B, H, N, D]} live in a flat {@code float[]}: element
 * {@code (b, h, n, d)} is at {@code off + b*batchStride + h*headStride + n*rowStride + d}.
 *
 * <pre>
 *   contiguous(H, N, D):      [B, H, N, D] row-major          (H*N*D, N*D, D)
 *   fused(N, width, D):       a head's D columns inside rows   (N*width, D, width)
 *                             of a [B, N, width] buffer, e.g. the fused projection
 *                             [B, T, (Hq + 2*Hkv)*D] with Q, K, V at offsets 0, Hq*D, (Hq+Hkv)*D
 * </pre>
 *
 * The attention entry points require {@code rowStride >= D} and non-negative strides, and apply the
 * overlap rule of {@link dev.lanes.kernels.Overlap}: no output (o, lse, dq, dk, dv) may share an
 * element with an input or another output, nor cover an element twice (a head stride of 0 in an
 * output is refused); inputs may share storage, as Q, K and V do in a fused projection. Output column
 * blocks of one fused buffer (dq, dk, dv side by side) are disjoint and allowed.
 */
public record HeadLayout(int batchStride, int headStride, int rowStride) {

    /** {@code [B, heads, rows, d]} row-major. */
    public static HeadLayout contiguous(int heads, int rows, int d) {
        return new HeadLayout(Math.multiplyExact(Math.multiplyExact(heads, rows), d), Math.multiplyExact(rows, d), d);
    }

    /** Head h's {@code d} columns at {@code h*d} within each row of a {@code [B, rows, width]} buffer. */
    public static HeadLayout fused(int rows, int width, int d) {
        return new HeadLayout(Math.multiplyExact(rows, width), d, width);
    }

    /** Offset of element {@code (b, h, n, 0)} relative to the view's start. */
    long at(int b, int h, int n) {
        return (long) b * batchStride + (long) h * headStride + (long) n * rowStride;
    }
}
