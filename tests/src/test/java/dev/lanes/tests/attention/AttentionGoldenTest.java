package dev.lanes.tests.attention;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Forward and backward against tensors computed by PyTorch autograd (float64, K and V expanded with
 * repeat_interleave, masks applied with masked_fill) and committed under
 * {@code src/test/resources/golden/attention}; {@code tests/golden/gen_attention.py} writes them and
 * documents the format. No Python is needed to run this test.
 */
class AttentionGoldenTest {
    static final String DIR = "/golden/attention/";

    static List<String> cases() {
        return Arrays.stream(new String(read("cases.txt"), StandardCharsets.UTF_8).split("\n"))
                .map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesPyTorch(String name) {
        Map<String, String> h = new LinkedHashMap<>();
        for (String line : new String(read(name + ".txt"), StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                h.put(line.substring(0, eq), line.substring(eq + 1).trim());
            }
        }
        int B = Integer.parseInt(h.get("B")), Hq = Integer.parseInt(h.get("Hq")), Hkv = Integer.parseInt(h.get("Hkv"));
        int T = Integer.parseInt(h.get("T")), S = Integer.parseInt(h.get("S")), D = Integer.parseInt(h.get("D"));
        AttentionConfig.Builder cb = AttentionConfig.builder(B, Hq, Hkv, T, S, D)
                .scale((float) Double.parseDouble(h.get("scale")))
                .causal(CausalMask.valueOf(h.get("causal")))
                .bias(BiasShape.valueOf(h.get("bias")));
        if (!h.get("keyLengths").equals("none")) {
            cb.keyLengths(Arrays.stream(h.get("keyLengths").split(",")).mapToInt(Integer::parseInt).toArray());
        }
        AttentionConfig cfg = cb.build();
        Map<String, float[]> t = tensors(h.get("tensors"), read(name + ".bin"));

        HeadLayout qs = HeadLayout.contiguous(Hq, T, D), ks = HeadLayout.contiguous(Hkv, S, D);
        float[] q = t.get("q"), k = t.get("k"), v = t.get("v"), bias = t.get("bias"), dO = t.get("dO");
        for (boolean fast : new boolean[] {true, false}) {
            String who = (fast ? "Attention " : "AttentionScalar ") + name + " ";
            float[] o = new float[q.length], lse = new float[B * Hq * T];
            float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
            if (fast) {
                Attention.forward(cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                        AttentionView.of(v, 0, ks), bias == null ? null : AttentionView.flat(bias, 0),
                        AttentionView.of(o, 0, qs), AttentionView.flat(lse, 0));
                Attention.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                        AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks),
                        bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, qs),
                        AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                        AttentionView.of(dv, 0, ks));
            } else {
                AttentionScalar.forward(cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                        AttentionView.of(v, 0, ks), bias == null ? null : AttentionView.flat(bias, 0),
                        AttentionView.of(o, 0, qs), AttentionView.flat(lse, 0));
                AttentionScalar.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                        AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks),
                        bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, qs),
                        AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                        AttentionView.of(dv, 0, ks));
            }
            double tol = fast ? 2e-5 : 1e-6;
            Close.assertClose(who + "o", t.get("o"), o, tol, tol);
            Close.assertClose(who + "lse", t.get("lse"), lse, tol, tol);
            Close.assertClose(who + "dq", t.get("dq"), dq, 2 * tol, 10 * tol);
            Close.assertClose(who + "dk", t.get("dk"), dk, 2 * tol, 10 * tol);
            Close.assertClose(who + "dv", t.get("dv"), dv, 2 * tol, 10 * tol);
        }
    }

    /** Splits the little-endian float32 payload by the header's {@code name:AxBxC} list. */
    static Map<String, float[]> tensors(String spec, byte[] bin) {
        ByteBuffer buf = ByteBuffer.wrap(bin).order(ByteOrder.LITTLE_ENDIAN);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String item : spec.split(" ")) {
            String[] parts = item.split(":");
            int n = Arrays.stream(parts[1].split("x")).mapToInt(Integer::parseInt).reduce(1, (a, b) -> a * b);
            float[] x = new float[n];
            buf.asFloatBuffer().get(x);
            buf.position(buf.position() + 4 * n);
            out.put(parts[0], x);
        }
        if (buf.hasRemaining()) {
            throw new IllegalStateException(buf.remaining() + " bytes left after " + spec);
        }
        return out;
    }

    static byte[] read(String file) {
        try (InputStream in = AttentionGoldenTest.class.getResourceAsStream(DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + DIR + file
                        + " (regenerate with tests/golden/gen_attention.py)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
