package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;

/**
 * One argument-validation rule: a call that must throw {@code type} with a message containing every
 * fragment (the argument's name and the numbers), leaving every watched array exactly as it was.
 * The arrays are created by the case itself, so each rule starts from fresh data.
 */
record Rejection(Class<? extends RuntimeException> type, List<String> fragments, Consumer<float[][]> call,
                 float[][] arrays) {

    /** {@code call} receives {@code arrays}; all of them are watched (outputs and inputs alike). */
    static Arguments of(String name, Class<? extends RuntimeException> type, List<String> fragments,
                        float[][] arrays, Consumer<float[][]> call) {
        return Arguments.of(Named.of(name, new Rejection(type, fragments, call, arrays)));
    }

    static Arguments iae(String name, String fragment, float[][] arrays, Consumer<float[][]> call) {
        return of(name, IllegalArgumentException.class, List.of(fragment), arrays, call);
    }

    static Arguments npe(String name, String fragment, float[][] arrays, Consumer<float[][]> call) {
        return of(name, NullPointerException.class, List.of(fragment), arrays, call);
    }

    /** Arrays filled with distinct values, so any write shows. */
    static float[][] arrays(int... lengths) {
        float[][] xs = new float[lengths.length][];
        for (int a = 0; a < lengths.length; a++) {
            xs[a] = new float[lengths[a]];
            for (int i = 0; i < lengths[a]; i++) {
                xs[a][i] = (i % 3 == 0) ? TestSupport.SENTINEL_NAN : 0.25f * (a + 1) + i;
            }
        }
        return xs;
    }

    void verify() {
        float[][] before = new float[arrays.length][];
        for (int i = 0; i < arrays.length; i++) {
            before[i] = arrays[i] == null ? null : arrays[i].clone();
        }
        Throwable t = catchThrowable(() -> call.accept(arrays));
        assertThat(t).as("expected %s", type.getSimpleName()).isInstanceOf(type);
        for (String f : fragments) {
            assertThat(t.getMessage()).as("message of %s", t).contains(f);
        }
        for (int i = 0; i < arrays.length; i++) {
            if (arrays[i] != null) {
                Bits.assertSameBits("array #" + i + " after the rejected call", before[i], arrays[i]);
            }
        }
    }
}
