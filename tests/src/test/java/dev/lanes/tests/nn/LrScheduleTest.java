package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.lanes.core.nn.LrSchedule;
import org.junit.jupiter.api.Test;

/**
 * {@link LrSchedule} against the schedule written independently: the warmup as a straight line through
 * (step -1, 0) and (warmup - 1, maxLr), the decay through the identity {@code (1 + cos(pi p)) / 2 =
 * cos^2(pi p / 2)} in double, plus the values the contract names exactly (the peak, the midpoint, the
 * floor) and the shape (rising in the warmup, never rising after it).
 */
class LrScheduleTest {

    /** The schedule as the class comment states it, computed another way. */
    private static double reference(double maxLr, double minLr, int warmup, int total, int step) {
        if (step < warmup) {
            double slope = maxLr / warmup; // per step, reaching maxLr at step warmup - 1
            return slope * (step - (-1));
        }
        if (step >= total) {
            return minLr;
        }
        double p = (step - warmup) / (double) (total - warmup);
        double c = Math.cos(Math.PI * p / 2);
        return minLr + (maxLr - minLr) * c * c;
    }

    @Test
    void matchesTheIndependentFormulaAtEveryStep() {
        int[][] shapes = {{10, 100}, {1, 7}, {0, 50}, {37, 1000}, {5, 5}, {0, 0}};
        float[][] rates = {{6e-4f, 6e-5f}, {1f, 0f}, {3e-3f, 3e-3f}};
        for (int[] wt : shapes) {
            for (float[] r : rates) {
                LrSchedule s = new LrSchedule(r[0], r[1], wt[0], wt[1]);
                for (int step = 0; step < wt[1] + 20; step++) {
                    double want = reference(r[0], r[1], wt[0], wt[1], step);
                    assertThat((double) s.at(step)).as("%s at step %d", s, step)
                            .isCloseTo(want, within(2e-7 * r[0] + 1e-12));
                }
            }
        }
    }

    @Test
    void theNamedPointsAndTheShape() {
        float max = 6e-4f, min = 6e-5f;
        int warmup = 20, total = 220;
        LrSchedule s = new LrSchedule(max, min, warmup, total);
        assertThat(s.at(0)).isEqualTo(max / warmup);
        assertThat(s.at(warmup - 1)).isEqualTo(max);           // the end of the warmup is the peak
        assertThat(s.at(warmup)).isEqualTo(max);               // cos(0) = 1: the decay starts at the peak
        assertThat((double) s.at(warmup + (total - warmup) / 2)).isCloseTo((max + min) / 2.0, within(1e-10));
        assertThat(s.at(total)).isEqualTo(min);
        assertThat(s.at(Integer.MAX_VALUE)).isEqualTo(min);
        for (int step = 1; step < warmup; step++) {
            assertThat(s.at(step)).as("warmup rises at %d", step).isGreaterThan(s.at(step - 1));
        }
        for (int step = warmup + 1; step < total + 5; step++) {
            assertThat(s.at(step)).as("never rises after the warmup, at %d", step).isLessThanOrEqualTo(s.at(step - 1));
            assertThat(s.at(step)).isBetween(min, max);
        }
    }

    @Test
    void constantIsConstant() {
        LrSchedule s = LrSchedule.constant(3e-4f);
        for (int step : new int[] {0, 1, 2, 1000, Integer.MAX_VALUE}) {
            assertThat(s.at(step)).isEqualTo(3e-4f);
        }
    }

    @Test
    void refusesRatesAndStepsOutOfOrder() {
        assertThatThrownBy(() -> new LrSchedule(1e-4f, 1e-3f, 0, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("minLr=0.001");
        assertThatThrownBy(() -> new LrSchedule(Float.NaN, 0f, 0, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxLr=NaN");
        assertThatThrownBy(() -> new LrSchedule(1e-3f, 0f, 11, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("warmup=11, total=10");
        assertThatThrownBy(() -> new LrSchedule(1e-3f, 0f, -1, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("warmup=-1");
    }
}
