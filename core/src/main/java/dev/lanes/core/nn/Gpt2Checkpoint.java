package dev.lanes.core.nn;

import dev.lanes.core.io.AtomicFiles;
import dev.lanes.core.io.Json;
import dev.lanes.core.io.Safetensors;
import dev.lanes.kernels.internal.Checks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * GPT-2 checkpoints in the Hugging Face layout: a directory holding {@code config.json} and
 * {@code model.safetensors}, read into and written from a {@link Gpt}'s {@link ParamLayout}.
 *
 * <pre>
 *   Hugging Face tensor (optional "transformer." prefix)      shape       Lanes tensor
 *   wte.weight                                              [V, C]      wte
 *   wpe.weight                                              [Tmax, C]   wpe
 *   h.{l}.ln_1.weight, h.{l}.ln_1.bias                      [C]         h.l.ln1.g, h.l.ln1.b
 *   h.{l}.attn.c_attn.weight, .bias    Conv1D, y = x W + b  [C, 3C]     h.l.attn.wqkv, h.l.attn.bqkv
 *   h.{l}.attn.c_proj.weight, .bias                         [C, C]      h.l.attn.wo, h.l.attn.bo
 *   h.{l}.ln_2.weight, h.{l}.ln_2.bias                      [C]         h.l.ln2.g, h.l.ln2.b
 *   h.{l}.mlp.c_fc.weight, .bias                            [C, F]      h.l.mlp.w1, h.l.mlp.b1
 *   h.{l}.mlp.c_proj.weight, .bias                          [F, C]      h.l.mlp.w2, h.l.mlp.b2
 *   ln_f.weight, ln_f.bias                                  [C]         lnf.g, lnf.b
 *   lm_head.weight (optional; must equal wte: the head is tied)
 *   h.{l}.attn.bias, h.{l}.attn.masked_bias (optional causal-mask buffers of old exports; ignored)
 * </pre>
 *
 * Conv1D stores its weight (in, out), which is Lanes' orientation, and c_attn's 3C columns are the Q,
 * K and V heads side by side, which is Lanes' fused layout with Hkv = Hq: every tensor is copied as
 * is. {@code config.json} gives {@code n_embd, n_head, n_layer, n_positions, vocab_size} and, when
 * present, {@code n_inner} (default 4C) and {@code layer_norm_epsilon} (default 1e-5); settings that
 * change the arithmetic away from GPT-2's (another activation, per-layer attention scaling, cross
 * attention, an untied head) are refused rather than silently ignored. F16 and BF16 weights are
 * widened to float32. A load that fails leaves the target parameters untouched.
 */
public final class Gpt2Checkpoint {
    public static final String WEIGHTS = "model.safetensors", CONFIG = "config.json";
    private static final String PREFIX = "transformer.";

    private Gpt2Checkpoint() {}

    /** A loaded checkpoint: its config and parameters in {@link ParamLayout} order. */
    public record Loaded(GptConfig config, float[] params) {}

    /** The GPT-2 shape described by {@code config.json}; IOException naming the file and the key otherwise. */
    public static GptConfig readConfig(Path configJson) throws IOException {
        Map<String, Object> m;
        try {
            m = Json.parseObject(Files.readString(configJson, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException(configJson + ": " + e.getMessage(), e);
        }
        String modelType = optional(configJson, m, "model_type", String.class, "gpt2");
        if (!modelType.equals("gpt2")) {
            throw new IOException(configJson + ": model_type is '" + modelType + "', expected 'gpt2'");
        }
        int C = integer(configJson, m, "n_embd"), H = integer(configJson, m, "n_head"), L = integer(configJson, m, "n_layer");
        int Tmax = integer(configJson, m, "n_positions"), V = integer(configJson, m, "vocab_size");
        Object inner = m.get("n_inner");
        int F = inner == null ? 4 * C : integer(configJson, m, "n_inner");
        Number eps = optional(configJson, m, "layer_norm_epsilon", Number.class, 1e-5);
        String act = optional(configJson, m, "activation_function", String.class, "gelu_new");
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
            throw new IOException(configJson + ": activation_function '" + act + "' is not GPT-2's tanh GELU (gelu_new)");
        }
        requireFlag(configJson, m, "scale_attn_weights", true);
        requireFlag(configJson, m, "scale_attn_by_inverse_layer_idx", false);
        requireFlag(configJson, m, "add_cross_attention", false);
        requireFlag(configJson, m, "tie_word_embeddings", true);
        if (H < 1 || C % H != 0) {
            throw new IOException(configJson + ": n_embd=" + C + " is not a positive multiple of n_head=" + H);
        }
        try {
            return new GptConfig(V, Tmax, L, C, H, H, C / H, F, NormKind.LAYER, eps.floatValue());
        } catch (IllegalArgumentException e) {
            throw new IOException(configJson + ": " + e.getMessage(), e);
        }
    }

    /** Loads {@code dir/config.json} and {@code dir/model.safetensors}. */
    public static Loaded load(Path dir) throws IOException {
        GptConfig cfg = readConfig(dir.resolve(CONFIG));
        float[] params = new float[ParamLayout.of(cfg).size()];
        readWeights(dir.resolve(WEIGHTS), cfg, params);
        return new Loaded(cfg, params);
    }

    /**
     * Loads the checkpoint in {@code dir} into {@code params}; its config.json must describe
     * {@code expected}. On any error {@code params} is unchanged (the weights are staged first).
     */
    public static void load(Path dir, GptConfig expected, float[] params) throws IOException {
        if (expected == null || dir == null) {
            throw new NullPointerException(dir == null ? "dir" : "expected");
        }
        int size = ParamLayout.of(expected).size();
        Checks.vector("params", params, 0, size);
        GptConfig cfg = readConfig(dir.resolve(CONFIG));
        if (!cfg.equals(expected)) {
            throw new IOException(dir.resolve(CONFIG) + ": describes " + cfg + ", expected " + expected);
        }
        float[] staged = new float[size];
        readWeights(dir.resolve(WEIGHTS), cfg, staged);
        System.arraycopy(staged, 0, params, 0, size);
    }

    /** Reads the GPT-2 tensors of {@code file} into a whole {@link ParamLayout} of {@code cfg}. */
    static void readWeights(Path file, GptConfig cfg, float[] params) throws IOException {
        ParamLayout layout = ParamLayout.of(cfg);
        try (Safetensors st = Safetensors.open(file)) {
            String prefix = prefix(st);
            // every name, shape and dtype first, so a wrong file is refused before a byte of data is read
            Set<String> expected = new HashSet<>();
            List<String[]> plan = new ArrayList<>();
            for (ParamLayout.Entry e : layout.entries()) {
                String hf = prefix + hfName(e.name());
                Safetensors.Tensor t = st.require(hf);
                long[] want = e.rows() == 1 && !e.decay() ? new long[] {e.cols()} : new long[] {e.rows(), e.cols()};
                if (!Arrays.equals(t.shape(), want)) {
                    throw new IOException(file + ": tensor '" + hf + "' has shape " + t.shapeString() + ", the config ("
                            + CONFIG + ") needs " + Arrays.toString(want));
                }
                if (t.dtype() != Safetensors.DType.F32 && t.dtype() != Safetensors.DType.F16 && t.dtype() != Safetensors.DType.BF16) {
                    throw new IOException(file + ": tensor '" + hf + "' has dtype " + t.dtype() + ", expected F32, F16 or BF16");
                }
                expected.add(hf);
                plan.add(new String[] {hf, e.name()});
            }
            Safetensors.Tensor head = null;
            for (Safetensors.Tensor t : st.tensors()) {
                if (expected.contains(t.name()) || isMaskBuffer(t.name(), prefix, cfg.layers())) {
                    continue;
                }
                if (t.name().equals("lm_head.weight") || t.name().equals(prefix + "lm_head.weight")) {
                    head = t;
                    continue;
                }
                throw new IOException(file + ": unexpected tensor '" + t.name() + "' " + t.shapeString() + " for a " + cfg.layers()
                        + "-layer GPT-2");
            }
            for (String[] p : plan) {
                st.readFloats(p[0], params, layout.get(p[1]).offset());
            }
            if (head != null) {
                checkTied(file, st, head, layout.get("wte"), params);
            }
        }
    }

    /** "transformer." when the file uses GPT2LMHeadModel's names, "" for GPT2Model's; both at once is refused. */
    private static String prefix(Safetensors st) throws IOException {
        boolean bare = st.tensor("wte.weight") != null, prefixed = st.tensor(PREFIX + "wte.weight") != null;
        if (bare && prefixed) {
            throw new IOException(st.file() + ": holds both 'wte.weight' and '" + PREFIX + "wte.weight'");
        }
        return prefixed ? PREFIX : "";
    }

    private static boolean isMaskBuffer(String name, String prefix, int layers) {
        if (!name.startsWith(prefix + "h.") || !(name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias"))) {
            return false;
        }
        String mid = name.substring(prefix.length() + 2, name.indexOf(".attn."));
        try {
            int l = Integer.parseInt(mid);
            return l >= 0 && l < layers && mid.equals(Integer.toString(l));
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static void checkTied(Path file, Safetensors st, Safetensors.Tensor head, ParamLayout.Entry wte, float[] params)
            throws IOException {
        if (head.shape().length != 2 || head.shape()[0] != wte.rows() || head.shape()[1] != wte.cols()) {
            throw new IOException(file + ": tensor '" + head.name() + "' has shape " + head.shapeString() + ", wte is ["
                    + wte.rows() + ", " + wte.cols() + "]");
        }
        float[] h = new float[wte.size()];
        st.readFloats(head.name(), h, 0);
        for (int i = 0; i < h.length; i++) {
            if (Float.floatToRawIntBits(h[i]) != Float.floatToRawIntBits(params[wte.offset() + i])) {
                throw new IOException(file + ": tensor '" + head.name() + "' differs from wte at element " + i + " ("
                        + h[i] + " vs " + params[wte.offset() + i] + "); Lanes' GPT ties the output head to wte");
            }
        }
    }

    /** The Hugging Face name (without prefix) of a Lanes tensor. */
    public static String hfName(String lanes) {
        int dot = lanes.indexOf('.');
        if (!lanes.startsWith("h.")) {
            return switch (lanes) {
                case "wte", "wpe" -> lanes + ".weight";
                case "lnf.g" -> "ln_f.weight";
                case "lnf.b" -> "ln_f.bias";
                default -> throw new IllegalArgumentException("no GPT-2 name for '" + lanes + "'");
            };
        }
        int second = lanes.indexOf('.', dot + 1);
        String layer = lanes.substring(0, second + 1), rest = lanes.substring(second + 1);
        String hf = switch (rest) {
            case "ln1.g" -> "ln_1.weight";
            case "ln1.b" -> "ln_1.bias";
            case "attn.wqkv" -> "attn.c_attn.weight";
            case "attn.bqkv" -> "attn.c_attn.bias";
            case "attn.wo" -> "attn.c_proj.weight";
            case "attn.bo" -> "attn.c_proj.bias";
            case "ln2.g" -> "ln_2.weight";
            case "ln2.b" -> "ln_2.bias";
            case "mlp.w1" -> "mlp.c_fc.weight";
            case "mlp.b1" -> "mlp.c_fc.bias";
            case "mlp.w2" -> "mlp.c_proj.weight";
            case "mlp.b2" -> "mlp.c_proj.bias";
            default -> throw new IllegalArgumentException("no GPT-2 name for '" + lanes + "'");
        };
        return layer + hf;
    }

    /**
     * Writes {@code params} (laid out by {@code cfg}) to {@code dir} as {@code model.safetensors} (float32,
     * names without prefix, metadata format=pt) and {@code config.json}, each through a temporary file.
     * The config must be GPT-2 shaped: LayerNorm, Hkv = Hq, Hq D = C.
     */
    public static void save(Path dir, GptConfig cfg, float[] params) throws IOException {
        if (dir == null || cfg == null) {
            throw new NullPointerException(dir == null ? "dir" : "cfg");
        }
        if (cfg.norm() != NormKind.LAYER || cfg.kvHeads() != cfg.heads() || cfg.heads() * cfg.headDim() != cfg.dim()) {
            throw new IllegalArgumentException("GPT-2 layout needs LAYER norm, kvHeads == heads and heads*headDim == dim: " + cfg);
        }
        ParamLayout layout = ParamLayout.of(cfg);
        Checks.vector("params", params, 0, layout.size());
        List<Safetensors.Entry> tensors = new ArrayList<>();
        for (ParamLayout.Entry e : layout.entries()) {
            long[] shape = e.rows() == 1 && !e.decay() ? new long[] {e.cols()} : new long[] {e.rows(), e.cols()};
            tensors.add(new Safetensors.Entry(hfName(e.name()), shape, params, e.offset()));
        }
        Files.createDirectories(dir);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        Safetensors.write(dir.resolve(WEIGHTS), meta, tensors);
        String json = "{\n"
                + "  \"model_type\": \"gpt2\",\n"
                + "  \"architectures\": [\"GPT2LMHeadModel\"],\n"
                + "  \"vocab_size\": " + cfg.vocab() + ",\n"
                + "  \"n_positions\": " + cfg.maxSeq() + ",\n"
                + "  \"n_ctx\": " + cfg.maxSeq() + ",\n"
                + "  \"n_embd\": " + cfg.dim() + ",\n"
                + "  \"n_layer\": " + cfg.layers() + ",\n"
                + "  \"n_head\": " + cfg.heads() + ",\n"
                + "  \"n_inner\": " + cfg.mlpDim() + ",\n"
                + "  \"activation_function\": \"gelu_new\",\n"
                + "  \"layer_norm_epsilon\": " + Float.toString(cfg.normEps()) + ",\n"
                + "  \"tie_word_embeddings\": true\n"
                + "}\n";
        AtomicFiles.writeString(dir.resolve(CONFIG), json);
    }

    private static int integer(Path file, Map<String, Object> m, String key) throws IOException {
        Object v = m.get(key);
        if (!(v instanceof Long n) || n < 1 || n > Integer.MAX_VALUE) {
            throw new IOException(file + ": '" + key + "' is " + (m.containsKey(key) ? v : "missing")
                    + ", expected a positive integer");
        }
        return (int) (long) n;
    }

    private static <T> T optional(Path file, Map<String, Object> m, String key, Class<T> type, T fallback) throws IOException {
        if (!m.containsKey(key)) {
            return fallback;
        }
        Object v = m.get(key);
        if (!type.isInstance(v)) {
            throw new IOException(file + ": '" + key + "' is " + Json.typeName(v) + " " + v + ", expected " + type.getSimpleName());
        }
        return type.cast(v);
    }

    private static void requireFlag(Path file, Map<String, Object> m, String key, boolean want) throws IOException {
        Boolean v = optional(file, m, key, Boolean.class, want);
        if (v != want) {
            throw new IOException(file + ": '" + key + "' is " + v + "; Lanes' GPT-2 supports only " + want);
        }
    }
}
