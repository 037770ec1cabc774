package dev.lanes.core.nn;

/** The normalisation of a pre-norm block: {@link LayerNorm} (gain and bias) or {@link RmsNorm} (gain only). */
public enum NormKind {
    LAYER,
    RMS
}
