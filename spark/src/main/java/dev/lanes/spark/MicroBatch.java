package dev.lanes.spark;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Micro-batch {@code index} of a step: {@code b} sequences of T tokens ([b, T] row-major) and their
 * next-token targets (-1: not counted). Micro-batch i of a global batch of B sequences is sequences
 * [i b, (i + 1) b): cut by position, so it is the same whatever the number of partitions.
 */
public record MicroBatch(int index, int[] tokens, int[] targets) implements Serializable {

    /**
     * Cuts a global batch ({@code tokens}, {@code targets}: [B, T]) into {@code count} micro-batches of
     * B / count sequences each, in position order. B must be a multiple of {@code count}.
     */
    public static MicroBatch[] cut(int[] tokens, int[] targets, int seqLen, int count) {
        if (tokens == null || targets == null) {
            throw new IllegalArgumentException("tokens or targets is null");
        }
        if (seqLen < 1 || count < 1 || tokens.length != targets.length || tokens.length % seqLen != 0
                || tokens.length / seqLen % count != 0) {
            throw new IllegalArgumentException("tokens.length=" + tokens.length + ", targets.length=" + targets.length
                    + ", seqLen=" + seqLen + ", count=" + count + ": need equal lengths, a whole number of sequences"
                    + " and sequences a multiple of count");
        }
        int per = tokens.length / count;
        MicroBatch[] out = new MicroBatch[count];
        for (int i = 0; i < count; i++) {
            out[i] = new MicroBatch(i, Arrays.copyOfRange(tokens, i * per, (i + 1) * per),
                    Arrays.copyOfRange(targets, i * per, (i + 1) * per));
        }
        return out;
    }
}
