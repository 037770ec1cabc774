package dev.lanes.tests.attention;

/** Element-wise closeness with NaN sentinels that must survive exactly where they were. */
final class Close {
    private Close() {}

    /** |actual - expected| <= abs + rel * |expected|; NaN only where expected is NaN; -inf must match. */
    static void assertClose(String what, float[] expected, float[] actual, double abs, double rel) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": length " + actual.length + " != " + expected.length);
        }
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(e) || Float.isNaN(a)) {
                if (Float.isNaN(e) != Float.isNaN(a)) {
                    throw new AssertionError(what + "[" + i + "]: expected " + e + ", got " + a
                            + (Float.isNaN(e) ? " (a sentinel outside every view was overwritten)" : ""));
                }
                continue;
            }
            if (Float.isInfinite(e) || Float.isInfinite(a)) {
                if (e != a) {
                    throw new AssertionError(what + "[" + i + "]: expected " + e + ", got " + a);
                }
                continue;
            }
            double err = Math.abs((double) a - e) / (abs + rel * Math.abs(e));
            if (err > worst) {
                worst = err;
                worstAt = i;
            }
        }
        if (worst > 1) {
            throw new AssertionError(what + "[" + worstAt + "]: expected " + expected[worstAt] + ", got "
                    + actual[worstAt] + " (|diff| " + Math.abs(actual[worstAt] - expected[worstAt]) + " > "
                    + (abs + rel * Math.abs(expected[worstAt])) + ")");
        }
    }
}
