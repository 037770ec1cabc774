package dev.lanes.bench;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * {@link Gpt}'s architecture written with libtorch's functional C++ API through the JavaCPP preset, with
 * a Lanes model's parameters copied in: what a Java user would write to train the same model on
 * PyTorch 2.x in-process.
 *
 * <pre>
 * legend: B batch, T seqLen, V vocab, C dim, Hq/Hkv heads, D headDim, A = Hq D, F mlpDim
 *   x = embedding(wte, idx) + wpe[:T]                              (B, T, C)
 *   per block: h = layer_norm(x; ln1)                              (B, T, C)
 *              qkv = linear(h, Wqkv, bqkv)                         (B, T, (Hq + 2 Hkv) D)
 *              q, k, v = column blocks viewed [B, H, T, D]
 *              o = scaled_dot_product_attention(q, k, v, is_causal, enable_gqa)   [B, Hq, T, D]
 *              x = x + linear(o as (B, T, A), Wo, bo)
 *              x = x + linear(gelu_tanh(linear(layer_norm(x; ln2), W1, b1)), W2, b2)
 *   loss = cross_entropy(linear(layer_norm(x; lnf), wte) as (BT, V), targets)   tied head
 * </pre>
 *
 * Weights are held as {@code nn::Linear} holds them, (out, in): Lanes stores (in, out), so each matrix
 * is transposed once when copied. {@code torch::optim::AdamW} gets two parameter groups, weight decay on
 * the matrices and embeddings and none on biases and norm gains, as {@link ParamLayout.Entry#decay()}
 * marks and as nanoGPT trains.
 */
final class TorchGpt implements AutoCloseable {
    private final GptConfig cfg;
    private final int batch, seqLen;
    private final boolean expandKv;
    /** Every parameter by Lanes' name, as a leaf tensor requiring gradients. */
    final Map<String, Tensor> params = new LinkedHashMap<>();
    private final TensorVector all = new TensorVector();
    final AdamW opt;
    private final Tensor idx, targets;

    /**
     * The model of {@code gpt}'s configuration with its current parameters, for tokens {@code x} and
     * targets {@code y} ([B, T] row-major). {@code expandKv}: attention on K/V expanded to Hq heads by views
     * instead of {@code enable_gqa}.
     */
    TorchGpt(Gpt gpt, int[] x, int[] y, float lr, float beta1, float beta2, float eps, float weightDecay,
             boolean expandKv) {
        GptConfig cfg = gpt.config();
        if (cfg.norm() != NormKind.LAYER) {
            throw new IllegalArgumentException("pytorch peer: only LayerNorm models, not " + cfg.norm());
        }
        this.cfg = cfg;
        batch = gpt.batch();
        seqLen = gpt.seqLen();
        this.expandKv = expandKv;
        float[] p = gpt.params();
        TensorVector decay = new TensorVector(), noDecay = new TensorVector();
        for (ParamLayout.Entry e : gpt.layout().entries()) {
            float[] values = java.util.Arrays.copyOfRange(p, e.offset(), e.offset() + e.size());
            Tensor t;
            if (e.rows() == 1) {
                t = TorchPeer.tensor(values, e.cols());
            } else if (e.name().equals("wte") || e.name().equals("wpe")) {
                t = TorchPeer.tensor(values, e.rows(), e.cols()); // embedding tables: (rows, C) in both
            } else {
                t = TorchPeer.tensor(values, e.rows(), e.cols()).t().contiguous(); // (in, out) -> (out, in)
            }
            t.requires_grad_(true);
            params.put(e.name(), t);
            all.push_back(t);
            (e.decay() ? decay : noDecay).push_back(t);
        }
        opt = new AdamW(decay, options(lr, beta1, beta2, eps, weightDecay));
        opt.add_param_group(new OptimizerParamGroup(noDecay, options(lr, beta1, beta2, eps, 0)));
        idx = TorchPeer.longs(x, batch, seqLen);
        targets = TorchPeer.longs(y, (long) batch * seqLen);
    }

    private static AdamWOptions options(double lr, double beta1, double beta2, double eps, double weightDecay) {
        AdamWOptions o = new AdamWOptions(lr);
        // std::tuple<double, double>: libstdc++ lays get<1> out first, so beta2 sits at index 0
        o.betas().put(0, beta2).put(1, beta1);
        o.eps().put(eps);
        o.weight_decay().put(weightDecay);
        return o;
    }

    private Tensor p(String name) {
        return params.get(name);
    }

    private Tensor layerNorm(Tensor x, String prefix) {
        return torch.layer_norm(x, new long[] {cfg.dim()}, new TensorOptional(p(prefix + ".g")),
                new TensorOptional(p(prefix + ".b")), cfg.normEps(), false);
    }

    private static Tensor linear(Tensor x, Tensor w, Tensor b) {
        return torch.linear(x, w, new TensorOptional(b));
    }

    /** The mean cross-entropy of the batch, with its autograd graph. */
    Tensor loss() {
        int B = batch, T = seqLen, V = cfg.vocab(), Hq = cfg.heads(), Hkv = cfg.kvHeads(), D = cfg.headDim(),
                A = cfg.attnDim();
        Tensor x = torch.embedding(p("wte"), idx).add(p("wpe").narrow(0, 0, T)); // (B, T, C)
        for (int l = 0; l < cfg.layers(); l++) {
            String h = "h." + l + ".";
            Tensor qkv = linear(layerNorm(x, h + "ln1"), p(h + "attn.wqkv"), p(h + "attn.bqkv")); // (B, T, W)
            Tensor q = qkv.narrow(2, 0, A).view(B, T, Hq, D).transpose(1, 2);                  // [B, Hq, T, D]
            Tensor k = qkv.narrow(2, A, (long) Hkv * D).view(B, T, Hkv, D).transpose(1, 2);     // [B, Hkv, T, D]
            Tensor v = qkv.narrow(2, A + (long) Hkv * D, (long) Hkv * D).view(B, T, Hkv, D).transpose(1, 2);
            if (expandKv && Hq != Hkv) {
                k = k.unsqueeze(2).expand(B, Hkv, Hq / Hkv, T, D).reshape(B, Hq, T, D);
                v = v.unsqueeze(2).expand(B, Hkv, Hq / Hkv, T, D).reshape(B, Hq, T, D);
            }
            Tensor o = torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, true,
                    new DoubleOptional(1.0 / Math.sqrt(D)), !expandKv && Hq != Hkv);
            x = x.add(linear(o.transpose(1, 2).reshape(B, T, A), p(h + "attn.wo"), p(h + "attn.bo")));
            Tensor u = linear(layerNorm(x, h + "ln2"), p(h + "mlp.w1"), p(h + "mlp.b1"));
            x = x.add(linear(torch.gelu(u, "tanh"), p(h + "mlp.w2"), p(h + "mlp.b2")));
        }
        Tensor logits = torch.linear(layerNorm(x, "lnf"), p("wte")); // (B, T, V), tied head
        return torch.cross_entropy(logits.view((long) B * T, V), targets);
    }

    /** Forward and backward from gradients set to none ({@code zero_grad()}); returns the loss. */
    double forwardBackward() {
        opt.zero_grad();
        Tensor loss = loss();
        loss.backward();
        return loss.item_double();
    }

    /** A whole training step: forward, backward, global-norm clipping to {@code maxNorm}, AdamW. */
    double step(double maxNorm) {
        double loss = forwardBackward();
        torch.clip_grad_norm_(all, maxNorm);
        opt.step();
        return loss;
    }

    /** The current value of parameter {@code name} in Lanes' layout ((in, out) for the linear weights). */
    float[] param(String name) {
        Tensor t = p(name);
        boolean linearWeight = t.dim() == 2 && !name.equals("wte") && !name.equals("wpe");
        return TorchPeer.toArray(linearWeight ? t.t() : t);
    }

    @Override
    public void close() {
        opt.close();
        params.values().forEach(Tensor::close);
        all.close();
        idx.close();
        targets.close();
    }
}
