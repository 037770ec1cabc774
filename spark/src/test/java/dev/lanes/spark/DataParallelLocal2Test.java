package dev.lanes.spark;

import org.junit.jupiter.api.BeforeAll;

/** {@link DataParallelTrainerChecks} on {@code local[2,3]}: 2 task slots, 3 attempts per task. */
class DataParallelLocal2Test extends DataParallelTrainerChecks {
    @BeforeAll
    static void start() {
        startSpark("local[2,3]");
    }
}
