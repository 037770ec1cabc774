package dev.lanes.spark;

import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import java.io.Serializable;

/** A {@link GptConfig} as tasks carry it (core's record is not {@link Serializable}, and stays Spark-free). */
record ShippedConfig(int vocab, int maxSeq, int layers, int dim, int heads, int kvHeads, int headDim, int mlpDim,
                     NormKind norm, float normEps) implements Serializable {

    static ShippedConfig of(GptConfig c) {
        return new ShippedConfig(c.vocab(), c.maxSeq(), c.layers(), c.dim(), c.heads(), c.kvHeads(), c.headDim(), c.mlpDim(),
                c.norm(), c.normEps());
    }

    GptConfig config() {
        return new GptConfig(vocab, maxSeq, layers, dim, heads, kvHeads, headDim, mlpDim, norm, normEps);
    }
}
