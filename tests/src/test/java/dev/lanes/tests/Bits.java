package dev.lanes.tests;

import java.util.Arrays;

/**
 * The one bit-equality assertion of the suite: two float arrays hold the same bits, NaN payloads and the
 * sign of zero included ({@link Float#floatToRawIntBits}), so "same bits for any team", "the same bits
 * as the scalar twin" and "an input left untouched" all mean exactly that. Argument order as JUnit's:
 * what, then expected, then actual. The failure names the first differing index and both values, NaNs
 * shown with their payload.
 */
public final class Bits {
    private Bits() {}

    public static void assertSameBits(String what, float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + "[" + i + "] = " + show(actual[i]) + ", expected exactly "
                        + show(expected[i]) + (Arrays.equals(expected, actual) ? " (equal but for NaN payloads)" : ""));
            }
        }
    }

    /** A float as the failure messages print it: NaNs with their bits. */
    public static String show(float v) {
        return Float.isNaN(v) ? "NaN(0x" + Integer.toHexString(Float.floatToRawIntBits(v)) + ")" : Float.toString(v);
    }
}
