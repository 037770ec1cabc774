package dev.lanes.core.nn;

/**
 * The normalisation of a pre-norm block, run by {@link dev.lanes.kernels.Norms}: layer norm (gain and bias) or
 * RMS norm (gain only).
 */
public enum NormKind {
    LAYER,
    RMS
}
