package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.io.Json;
import dev.lanes.core.io.Safetensors;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.Gpt2Checkpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.tests.io.StFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2 checkpoints in the Hugging Face layout: bit-exact round trips through safetensors, other
 * exports' variants (prefix, mask buffers, a stored tied head, BF16), and every broken checkpoint
 * refused with a {@link Gpt}'s parameters left bit for bit as they were.
 */
class Gpt2CheckpointTest {
    static final GptConfig CFG = GptConfig.of(11, 6, 2, 8, 2, 2);  // V, Tmax, L, C, H, Hkv: C=8, F=32

    @TempDir
    Path dir;
    Path ckpt;
    float[] saved;

    static float[] randomParams(GptConfig cfg, long seed) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Random r = new Random(seed);
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) r.nextGaussian();
        }
        p[0] = Float.MIN_VALUE;  // bits a lossy path would change
        p[1] = -0f;
        p[2] = Math.nextUp(1f);
        return p;
    }

    @BeforeEach
    void save() throws IOException {
        ckpt = dir.resolve("gpt2");
        saved = randomParams(CFG, 5);
        Gpt2Checkpoint.save(ckpt, CFG, saved);
    }

    @Test
    void roundTripIsBitExact() throws IOException {
        try (var files = Files.list(ckpt)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("config.json", "model.safetensors");
        }
        Gpt2Checkpoint.Loaded l = Gpt2Checkpoint.load(ckpt);
        assertThat(l.config()).isEqualTo(CFG);
        assertBitsEqual(l.params(), saved);

        Gpt gpt = new Gpt(CFG, 1, 4);
        Gpt2Checkpoint.load(ckpt, CFG, gpt.params());
        assertBitsEqual(gpt.params(), saved);

        // the file speaks Hugging Face's names and shapes, with Transformers' format marker
        try (Safetensors st = Safetensors.open(ckpt.resolve("model.safetensors"))) {
            assertThat(st.metadata()).containsEntry("format", "pt");
            assertThat(st.tensors()).hasSize(4 + 12 * CFG.layers());
            assertThat(st.tensor("h.1.attn.c_attn.weight").shape()).containsExactly(8, 24);
            assertThat(st.tensor("h.1.mlp.c_proj.weight").shape()).containsExactly(32, 8);
            assertThat(st.tensor("ln_f.bias").shape()).containsExactly(8);
            float[] x = new float[8 * 24];
            st.readFloats("h.1.attn.c_attn.weight", x, 0);
            int at = ParamLayout.of(CFG).get("h.1.attn.wqkv").offset();
            assertThat(x).isEqualTo(Arrays.copyOfRange(saved, at, at + x.length));
        }
        Map<String, Object> json = Json.parseObject(Files.readString(ckpt.resolve("config.json")));
        assertThat(json).containsEntry("n_embd", 8L).containsEntry("n_head", 2L).containsEntry("n_layer", 2L)
                .containsEntry("n_positions", 6L).containsEntry("vocab_size", 11L).containsEntry("n_inner", 32L)
                .containsEntry("activation_function", "gelu_new");
    }

    @Test
    void resavingTheGoldenCheckpointReproducesPythonsTensors() throws IOException {
        // the fixture was written by tests/golden/gen_gpt2.py's own safetensors code, not by Lanes
        Path fixture = Gpt2GoldenTest.fixture();
        Gpt2Checkpoint.Loaded l = Gpt2Checkpoint.load(fixture);
        Path out = dir.resolve("resaved");
        Gpt2Checkpoint.save(out, l.config(), l.params());
        assertThat(Gpt2Checkpoint.readConfig(out.resolve("config.json"))).isEqualTo(l.config());
        try (Safetensors py = Safetensors.open(fixture.resolve("model.safetensors"));
             Safetensors lanes = Safetensors.open(out.resolve("model.safetensors"))) {
            int compared = 0;
            for (Safetensors.Tensor t : py.tensors()) {
                if (t.name().endsWith(".attn.bias")) {
                    continue;  // the mask buffers Lanes skips and does not write
                }
                Safetensors.Tensor u = lanes.require(t.name());
                assertThat(u.shape()).as(t.name()).containsExactly(t.shape());
                float[] a = new float[(int) t.elements()], b = new float[a.length];
                py.readFloats(t.name(), a, 0);
                lanes.readFloats(t.name(), b, 0);
                assertBitsEqual(b, a);
                compared++;
            }
            assertThat(lanes.tensors()).hasSize(compared);
            assertThat(compared).isEqualTo(4 + 12 * l.config().layers());
        }
    }

    @Test
    void saveRefusesWhatGpt2CannotHold() {
        float[] p = new float[ParamLayout.of(CFG.withNorm(NormKind.RMS)).size()];
        assertThatThrownBy(() -> Gpt2Checkpoint.save(dir.resolve("x"), CFG.withNorm(NormKind.RMS), p))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("LAYER");
        GptConfig gqa = GptConfig.of(11, 6, 2, 8, 2, 1);
        assertThatThrownBy(() -> Gpt2Checkpoint.save(dir.resolve("x"), gqa, new float[ParamLayout.of(gqa).size()]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kvHeads == heads");
        assertThat(Files.exists(dir.resolve("x"))).isFalse();
    }

    @Test
    void acceptsOtherExportsVariants() throws IOException {
        StFiles.Parts parts = StFiles.read(weights());
        // GPT2LMHeadModel's names: every tensor under "transformer."
        String prefixed = parts.header().replaceAll("\"(wte|wpe|h\\.|ln_f)", "\"transformer.$1");
        StFiles.write(weights(), prefixed, parts.data());
        assertBitsEqual(Gpt2Checkpoint.load(ckpt).params(), saved);

        // a stored head equal to wte, and the causal-mask buffers of old exports
        int wteBytes = 4 * CFG.vocab() * CFG.dim();
        byte[] mask = StFiles.floats(1, 0, 1, 1);
        long end = parts.data().length;
        String extra = ",\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[11,8],\"data_offsets\":[" + end + "," + (end + wteBytes) + "]}"
                + ",\"h.1.attn.bias\":{\"dtype\":\"F32\",\"shape\":[1,1,2,2],\"data_offsets\":[" + (end + wteBytes) + ","
                + (end + wteBytes + 16) + "]}}";
        String header = parts.header().trim();
        header = header.substring(0, header.length() - 1) + extra;
        StFiles.write(weights(), header, StFiles.concat(parts.data(), Arrays.copyOf(parts.data(), wteBytes), mask));
        assertBitsEqual(Gpt2Checkpoint.load(ckpt).params(), saved);
    }

    @Test
    void bfloat16WeightsWidenToFloat32() throws IOException {
        ParamLayout layout = ParamLayout.of(CFG);
        StringBuilder h = new StringBuilder("{");
        ByteBuffer data = ByteBuffer.allocate(2 * layout.size()).order(ByteOrder.LITTLE_ENDIAN);
        float[] want = new float[layout.size()];
        for (ParamLayout.Entry e : layout.entries()) {
            String shape = e.decay() ? "[" + e.rows() + "," + e.cols() + "]" : "[" + e.cols() + "]";
            h.append(h.length() > 1 ? "," : "").append('"').append(Gpt2Checkpoint.hfName(e.name())).append("\":{\"dtype\":\"BF16\",")
                    .append("\"shape\":").append(shape).append(",\"data_offsets\":[").append(data.position()).append(',')
                    .append(data.position() + 2 * e.size()).append("]}");
            for (int i = e.offset(); i < e.offset() + e.size(); i++) {
                int top = Float.floatToRawIntBits(saved[i]) >>> 16;  // truncated to bfloat16
                data.putShort((short) top);
                want[i] = Float.intBitsToFloat(top << 16);
            }
        }
        StFiles.write(weights(), h.append('}').toString(), data.array());
        assertBitsEqual(Gpt2Checkpoint.load(ckpt).params(), want);
    }

    /** A broken checkpoint must throw an IOException containing {@code message} and leave the model alone. */
    private void assertRefusedUntouched(String message) throws IOException {
        Gpt gpt = new Gpt(CFG, 1, 4);
        gpt.init(99);
        float[] before = gpt.params().clone();
        assertThatThrownBy(() -> Gpt2Checkpoint.load(ckpt, CFG, gpt.params())).isInstanceOf(IOException.class)
                .hasMessageContaining(message);
        assertBitsEqual(gpt.params(), before);
    }

    private Path weights() {
        return ckpt.resolve("model.safetensors");
    }

    private void editHeader(UnaryOperator<String> edit) throws IOException {
        StFiles.Parts p = StFiles.read(weights());
        String h = edit.apply(p.header());
        assertThat(h).as("the edit changed the header").isNotEqualTo(p.header());
        StFiles.write(weights(), h, p.data());
    }

    /** The header entry of one tensor, e.g. {"dtype":"F32","shape":[8],"data_offsets":[a,b]}. */
    private static String entry(String header, String name) {
        int at = header.indexOf("\"" + name + "\":");
        return header.substring(header.indexOf('{', at), header.indexOf('}', at) + 1);
    }

    @Test
    void truncatedFilesAreRefused() throws IOException {
        byte[] all = Files.readAllBytes(weights());
        for (int cut : new int[] {0, 7, 8, 20, all.length / 2, all.length - 1}) {
            Files.write(weights(), Arrays.copyOf(all, cut));
            assertRefusedUntouched(weights().toString());
        }
    }

    @Test
    void headerLengthPastTheFileIsRefused() throws IOException {
        byte[] all = Files.readAllBytes(weights());
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, all.length);
        Files.write(weights(), all);
        assertRefusedUntouched("runs past the end of the " + all.length + "-byte file");
    }

    @Test
    void offsetsOutsideTheDataAreRefused() throws IOException {
        StFiles.Parts p = StFiles.read(weights());
        StFiles.write(weights(), p.header(), Arrays.copyOf(p.data(), p.data().length - 4));
        assertRefusedUntouched("tensor 'ln_f.bias': data_offsets");
    }

    @Test
    void overlappingTensorsAreRefused() throws IOException {
        editHeader(h -> {
            String w = entry(h, "h.0.ln_1.weight"), b = entry(h, "h.0.ln_1.bias");
            return h.replace(b, w);  // the bias now claims the gain's bytes
        });
        assertRefusedUntouched("overlap tensor");
    }

    @Test
    void wrongDtypeIsRefused() throws IOException {
        editHeader(h -> h.replace(entry(h, "h.1.attn.c_attn.bias"), entry(h, "h.1.attn.c_attn.bias").replace("F32", "I32")));
        assertRefusedUntouched("tensor 'h.1.attn.c_attn.bias' has dtype I32, expected F32, F16 or BF16");
    }

    @Test
    void wrongShapeIsRefused() throws IOException {
        editHeader(h -> h.replace(entry(h, "h.0.attn.c_attn.weight"),
                entry(h, "h.0.attn.c_attn.weight").replace("[8,24]", "[24,8]")));  // an nn.Linear-style [out, in]
        assertRefusedUntouched("tensor 'h.0.attn.c_attn.weight' has shape [24, 8], the config (config.json) needs [8, 24]");
    }

    @Test
    void missingTensorIsRefused() throws IOException {
        editHeader(h -> h.replace("\"ln_f.bias\"", "\"ln_f.bais\""));
        assertRefusedUntouched("no tensor 'ln_f.bias'");
    }

    @Test
    void extraTensorsAreRefused() throws IOException {
        // a mask buffer is skipped only for a layer the config has
        for (String name : new String[] {"h.0.attn.rotary", "h.7.attn.bias", "h.01.attn.bias", "lm_head.bias"}) {
            Gpt2Checkpoint.save(ckpt, CFG, saved);
            StFiles.Parts p = StFiles.read(weights());
            long end = p.data().length;
            String h = p.header().trim();
            h = h.substring(0, h.length() - 1) + ",\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + end
                    + "," + (end + 8) + "]}}";
            StFiles.write(weights(), h, StFiles.concat(p.data(), new byte[8]));
            assertRefusedUntouched("unexpected tensor '" + name + "'");
        }
    }

    @Test
    void untiedHeadIsRefused() throws IOException {
        StFiles.Parts p = StFiles.read(weights());
        int wteBytes = 4 * CFG.vocab() * CFG.dim();
        long end = p.data().length;
        byte[] head = Arrays.copyOf(p.data(), wteBytes);
        head[17] ^= 1;  // one bit of one element differs
        String h = p.header().trim();
        h = h.substring(0, h.length() - 1) + ",\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[11,8],\"data_offsets\":[" + end + ","
                + (end + wteBytes) + "]}}";
        StFiles.write(weights(), h, StFiles.concat(p.data(), head));
        assertRefusedUntouched("tensor 'lm_head.weight' differs from wte at element 4");
    }

    @Test
    void bothPrefixesAreRefused() throws IOException {
        editHeader(h -> h.replace("\"wpe.weight\"", "\"transformer.wte.weight\"").replace("\"h.0.ln_1.weight\"", "\"wpe.weight\"")
                .replace("\"h.0.ln_1.bias\"", "\"h.0.ln_1.weight\""));
        assertRefusedUntouched("holds both 'wte.weight' and 'transformer.wte.weight'");
    }

    @Test
    void configsThatAreNotThisGpt2AreRefused() throws IOException {
        Path cfg = ckpt.resolve("config.json");
        String good = Files.readString(cfg);
        String[][] cases = {
            {"\"n_layer\": 2", "\"n_layer\": 3", "describes GptConfig[vocab=11, maxSeq=6, layers=3"},
            {"\"activation_function\": \"gelu_new\"", "\"activation_function\": \"gelu\"", "activation_function 'gelu'"},
            {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", "'tie_word_embeddings' is false"},
            {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": true, \"scale_attn_by_inverse_layer_idx\": true",
                "'scale_attn_by_inverse_layer_idx' is true"},
            {"\"n_head\": 2,", "", "'n_head' is missing"},
            {"\"n_head\": 2", "\"n_head\": 3", "n_embd=8 is not a positive multiple of n_head=3"},
            {"\"n_embd\": 8", "\"n_embd\": 8.0", "'n_embd' is 8.0, expected a positive integer"},
            {"\"model_type\": \"gpt2\"", "\"model_type\": \"llama\"", "model_type is 'llama'"},
            {"\"n_layer\": 2,", "\"n_layer\": 2,,", "JSON error"},
        };
        for (String[] c : cases) {
            assertThat(good).as(c[0]).contains(c[0]);
            Files.writeString(cfg, good.replace(c[0], c[1]));
            assertRefusedUntouched(c[2]);
        }
        Files.writeString(cfg, good.replace("\"n_inner\": 32", "\"n_inner\": null").replace("1.0E-5", "1e-6"));
        assertThat(Gpt2Checkpoint.readConfig(cfg)).isEqualTo(new GptConfig(11, 6, 2, 8, 2, 2, 4, 32, NormKind.LAYER, 1e-6f));
    }

    static void assertBitsEqual(float[] got, float[] want) {
        assertThat(got.length).isGreaterThanOrEqualTo(want.length);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                throw new AssertionError("param " + i + ": got " + got[i] + ", want " + want[i]);
            }
        }
    }
}
