package dev.lanes.core.nn;

import dev.lanes.kernels.Parallelism;

/**
 * The offsets of a {@link ParamLayout}'s tensors by role, looked up once by name so the forward and
 * backward index flat arrays directly. A norm bias is -1 under {@link NormKind#RMS}.
 */
final class ParamOffsets {
    final int wte, wpe, lnfG, lnfB;
    /** Per layer. */
    final int[] ln1G, ln1B, wqkv, bqkv, wo, bo, ln2G, ln2B, w1, b1, w2, b2;

    ParamOffsets(ParamLayout layout, int layers) {
        wte = layout.get("wte").offset();
        wpe = layout.get("wpe").offset();
        lnfG = layout.get("lnf.g").offset();
        lnfB = layout.offsetOrMinus1("lnf.b");
        ln1G = perLayer(layout, layers, "ln1.g");
        ln1B = perLayer(layout, layers, "ln1.b");
        wqkv = perLayer(layout, layers, "attn.wqkv");
        bqkv = perLayer(layout, layers, "attn.bqkv");
        wo = perLayer(layout, layers, "attn.wo");
        bo = perLayer(layout, layers, "attn.bo");
        ln2G = perLayer(layout, layers, "ln2.g");
        ln2B = perLayer(layout, layers, "ln2.b");
        w1 = perLayer(layout, layers, "mlp.w1");
        b1 = perLayer(layout, layers, "mlp.b1");
        w2 = perLayer(layout, layers, "mlp.w2");
        b2 = perLayer(layout, layers, "mlp.b2");
    }

    private static int[] perLayer(ParamLayout layout, int layers, String name) {
        int[] at = new int[layers];
        for (int l = 0; l < layers; l++) {
            String full = "h." + l + "." + name;
            // norm biases are absent under RMS; everything else must exist
            at[l] = name.endsWith(".b") ? layout.offsetOrMinus1(full) : layout.get(full).offset();
        }
        return at;
    }

    /** {@code y = Norm(x)} over {@code rows} rows of width C (row stride C), saving mean (LAYER) and rstd. */
    static void normForward(Parallelism par, GptConfig cfg, int rows, float[] params, int gain, int bias, float[] x, int xOff,
                            float[] y, int yOff, float[] stats, int meanOff, int rstdOff) {
        int C = cfg.dim();
        if (cfg.norm() == NormKind.LAYER) {
            LayerNorm.forward(par, rows, C, cfg.normEps(), x, xOff, C, params, gain, params, bias, y, yOff, C,
                    stats, meanOff, stats, rstdOff);
        } else {
            RmsNorm.forward(par, rows, C, cfg.normEps(), x, xOff, C, params, gain, y, yOff, C, stats, rstdOff);
        }
    }

    /**
     * The first half of block l, shared by the training forward and the decoder:
     * {@code h = Norm1(x); qkv = h Wqkv + bqkv}, rows of width C in, rows of width (Hq + 2 Hkv) D out.
     */
    void attentionIn(Parallelism par, GptConfig cfg, int l, float[] params, int rows, float[] x, int xOff,
                     float[] h, int hOff, float[] stats, int meanOff, int rstdOff, float[] qkv, int qkvOff) {
        int C = cfg.dim(), W = cfg.qkvDim();
        normForward(par, cfg, rows, params, ln1G[l], ln1B[l], x, xOff, h, hOff, stats, meanOff, rstdOff);
        Linear.forward(par, rows, C, W, h, hOff, C, params, wqkv[l], W, params, bqkv[l], null, 0, 0, qkv, qkvOff, W);
    }

    /**
     * The second half of block l, after the attention output o:
     * {@code xm = x + o Wo + bo; h2 = Norm2(xm); u = h2 W1 + b1; g = GELU(u); y = xm + g W2 + b2}, both
     * residual adds in the GEMM store. g may be u itself (the decoder keeps no pre-activation).
     */
    void attentionOut(Parallelism par, GptConfig cfg, int l, float[] params, int rows, float[] x, int xOff,
                      float[] o, int oOff, float[] xm, int xmOff, float[] h2, int h2Off, float[] stats, int meanOff,
                      int rstdOff, float[] u, int uOff, float[] g, int gOff, float[] y, int yOff) {
        int C = cfg.dim(), A = cfg.attnDim(), F = cfg.mlpDim();
        Linear.forward(par, rows, A, C, o, oOff, A, params, wo[l], C, params, bo[l], x, xOff, C, xm, xmOff, C);
        normForward(par, cfg, rows, params, ln2G[l], ln2B[l], xm, xmOff, h2, h2Off, stats, meanOff, rstdOff);
        Linear.forward(par, rows, C, F, h2, h2Off, C, params, w1[l], F, params, b1[l], null, 0, 0, u, uOff, F);
        Gelu.forward(par, rows * F, u, uOff, g, gOff);
        Linear.forward(par, rows, F, C, g, gOff, F, params, w2[l], C, params, b2[l], xm, xmOff, C, y, yOff, C);
    }
}
