package dev.lanes.core.attention;

import java.lang.foreign.MemorySegment;

/**
 * Where an attention operand lives: a {@code float[]} or a {@link MemorySegment} of floats (native byte
 * order, any alignment), the element its view starts at, and its head layout. Immutable.
 *
 * <pre>
 *   4-D views q, k, v, o, dO, dq, dk, dv: [B, H, N, D], element (b, h, n, d) at
 *       offset + b*batchStride + h*headStride + n*rowStride + d        (rowStride >= D, strides >= 0)
 *   flat views lse [B, Hq, T] and bias [T, S] or [B, Hq, T, S]: contiguous from offset
 * </pre>
 *
 * An array view is exactly the {@code (float[], offset, HeadLayout)} triple of the array entry points of
 * {@link Attention}; a segment view takes {@code long} offsets and strides, so it may reach past element
 * 2^31 of a large (for example memory-mapped) segment. Outputs must be writable segments.
 *
 * <p>The entry points apply the array rule of {@link dev.lanes.kernels.Overlap} to all of a call's views
 * together, arrays and segments alike: no output (o, lse, dq, dk, dv) may share an element with an input
 * or another output, checked before anything is staged or written.
 */
public final class AttentionView {
    final float[] array;
    final MemorySegment segment;
    final long offset, batchStride, headStride, rowStride;
    /** The array entry points' layout, for a 4-D array view; null otherwise. */
    final HeadLayout layout;

    private AttentionView(float[] array, MemorySegment segment, long offset, long batchStride, long headStride,
                          long rowStride, HeadLayout layout) {
        this.layout = layout;
        this.array = array;
        this.segment = segment;
        this.offset = offset;
        this.batchStride = batchStride;
        this.headStride = headStride;
        this.rowStride = rowStride;
    }

    /** A {@code [B, H, N, D]} view of an array: the array entry points' {@code (x, xOff, layout)}. */
    public static AttentionView of(float[] array, int offset, HeadLayout layout) {
        if (array == null) {
            throw new NullPointerException("array is null");
        }
        if (layout == null) {
            throw new NullPointerException("layout is null");
        }
        return new AttentionView(array, null, offset, layout.batchStride(), layout.headStride(), layout.rowStride(),
                layout);
    }

    /** A {@code [B, H, N, D]} view of a segment with {@code long} strides, all counting floats. */
    public static AttentionView of(MemorySegment segment, long offset, long batchStride, long headStride,
                                   long rowStride) {
        if (segment == null) {
            throw new NullPointerException("segment is null");
        }
        return new AttentionView(null, segment, offset, batchStride, headStride, rowStride, null);
    }

    /** A {@code [B, H, N, D]} view of a segment laid out as {@code layout} says. */
    public static AttentionView of(MemorySegment segment, long offset, HeadLayout layout) {
        if (layout == null) {
            throw new NullPointerException("layout is null");
        }
        return of(segment, offset, layout.batchStride(), layout.headStride(), layout.rowStride());
    }

    /** Contiguous data of an array from offset (lse, bias). */
    public static AttentionView flat(float[] array, int offset) {
        if (array == null) {
            throw new NullPointerException("array is null");
        }
        return new AttentionView(array, null, offset, 0, 0, 0, null);
    }

    /** Contiguous data of a segment from offset (lse, bias). */
    public static AttentionView flat(MemorySegment segment, long offset) {
        if (segment == null) {
            throw new NullPointerException("segment is null");
        }
        return new AttentionView(null, segment, offset, 0, 0, 0, null);
    }

    /** Whether the view is of a {@link MemorySegment} (else of a {@code float[]}). */
    public boolean isSegment() {
        return segment != null;
    }

    /** The element the view starts at. */
    public long offset() {
        return offset;
    }

    @Override
    public String toString() {
        return (segment != null ? "segment of " + segment.byteSize() + " bytes" : "float[" + array.length + "]")
                + " at " + offset + " strides (" + batchStride + ", " + headStride + ", " + rowStride + ")";
    }
}
