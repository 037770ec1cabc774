package dev.lanes.core.attention;

/** The broadcast shape of the optional additive attention bias (row-major, dense, row stride S). */
public enum BiasShape {
    /** No bias. */
    NONE,
    /** {@code [T, S]}: one bias shared by every batch entry and head. */
    SHARED,
    /** {@code [B, Hq, T, S]}: one bias per batch entry and query head. */
    PER_HEAD
}
