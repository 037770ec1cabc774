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
 * The attention entry points require {@code rowStride >= D} and non-negative strides; views of an
 * output must not overlap one another (they would be written twice).
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
