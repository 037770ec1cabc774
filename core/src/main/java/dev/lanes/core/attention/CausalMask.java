package dev.lanes.core.attention;

/** Which keys a query may see beyond the padding and bias masks; S keys, T queries. */
public enum CausalMask {
    /** Every query sees every key. */
    NONE,
    /** Query {@code i} sees keys {@code j <= i}: PyTorch's {@code is_causal}. */
    TOP_LEFT,
    /** Query {@code i} sees keys {@code j <= i + S - T}: the T newest positions after S - T cached ones. */
    BOTTOM_RIGHT;

    /** The last visible key of query 0 ({@code j <= i + offset}), or unused for {@link #NONE}. */
    int offset(int t, int s) {
        return this == BOTTOM_RIGHT ? s - t : 0;
    }
}
