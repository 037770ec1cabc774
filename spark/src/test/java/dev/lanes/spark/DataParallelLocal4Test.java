package dev.lanes.spark;

import org.junit.jupiter.api.BeforeAll;

/** {@link DataParallelTrainerChecks} on {@code local[4,3]}: 4 task slots, 3 attempts per task. */
class DataParallelLocal4Test extends DataParallelTrainerChecks {
    @BeforeAll
    static void start() {
        startSpark("local[4,3]");
    }
}
