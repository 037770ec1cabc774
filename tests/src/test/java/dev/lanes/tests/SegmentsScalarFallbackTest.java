package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.kernels.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link SegmentsTest} again in the JVM without the vector module: the segment overloads stage their
 * operands through the scalar twins there (the residual add too) and must still give the array bits.
 */
@Tag("no-vector-module")
class SegmentsScalarFallbackTest extends SegmentsTest {

    @Test
    void thisJvmRunsTheScalarKernels() {
        assertThat(Backend.simdEnabled()).isFalse();
    }

    /** The staged-blocks case at a size the scalar twin does in seconds: 2 row and 3 column blocks. */
    @Override
    @Test
    void gemmHasTheArrayBitsAcrossStagedBlocksAndTeams() {
        stagedBlocks(250, 140);
    }
}
