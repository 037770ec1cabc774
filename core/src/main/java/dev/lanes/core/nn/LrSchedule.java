package dev.lanes.core.nn;

/**
 * Learning rate by step: linear warmup from {@code maxLr / warmup} to {@code maxLr} over the first
 * {@code warmup} steps, then half a cosine down to {@code minLr} at step {@code total}, and
 * {@code minLr} after that (the schedule of GPT-3 and nanoGPT). Steps count from 0.
 */
public record LrSchedule(float maxLr, float minLr, int warmup, int total) {

    public LrSchedule {
        if (!(maxLr >= 0f) || !(minLr >= 0f) || minLr > maxLr || !Float.isFinite(maxLr)) {
            throw new IllegalArgumentException("maxLr=" + maxLr + ", minLr=" + minLr + ": need 0 <= minLr <= maxLr, finite");
        }
        if (warmup < 0 || total < warmup) {
            throw new IllegalArgumentException("warmup=" + warmup + ", total=" + total + ": need 0 <= warmup <= total");
        }
    }

    /** A constant rate. */
    public static LrSchedule constant(float lr) {
        return new LrSchedule(lr, lr, 0, 0);
    }

    public float at(int step) {
        if (step < warmup) {
            return maxLr * (step + 1) / warmup;
        }
        if (step >= total) {
            return minLr;
        }
        double progress = (double) (step - warmup) / Math.max(1, total - warmup);
        return (float) (minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress)));
    }
}
