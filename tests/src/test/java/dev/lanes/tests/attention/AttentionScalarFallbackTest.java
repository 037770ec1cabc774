package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.kernels.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs only in the surefire execution without {@code jdk.incubator.vector}: attention must work on the
 * scalar tile kernels there, and still agree with the double-precision twin.
 */
@Tag("no-vector-module")
class AttentionScalarFallbackTest {

    @Test
    void attentionRunsOnTheScalarTiles() {
        assertThat(Backend.simdEnabled()).isFalse();
        AttentionTest test = new AttentionTest();
        AttentionTest.two = dev.lanes.kernels.Parallelism.fixed(2);
        try {
            test.forwardAndBackwardMatchTheScalarTwin(AttentionConfig.builder(2, 4, 2, 21, 70, 40)
                    .causal(CausalMask.BOTTOM_RIGHT).keyLengths(70, 33).bias(BiasShape.SHARED).build(), true);
        } finally {
            AttentionTest.two.close();
        }
    }
}
