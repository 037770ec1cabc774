package dev.lanes.core.nn;

/**
 * Offsets of consecutive slots in one flat array, counted in long so an oversized model is refused.
 * The blocks take their slots in their constructors; the owner allocates the array once they all have.
 */
final class Arena {
    private final String what;
    private long next;

    Arena(String what) {
        this.what = what;
    }

    int slot(long size) {
        long at = next;
        next += size;
        if (next > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException(what + " need " + next + " floats, more than one Java array holds;"
                    + " use a smaller batch or seqLen");
        }
        return (int) at;
    }

    float[] allocate() {
        return new float[(int) next];
    }
}
