package dev.lanes.tests.adversarial;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.attention.KVCache;
import dev.lanes.core.nn.CrossEntropy;
import dev.lanes.core.nn.Linear;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.kernels.Activations;
import dev.lanes.kernels.ActivationsScalar;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.NormsScalar;
import dev.lanes.kernels.OptimizersScalar;
import dev.lanes.kernels.ResidualAddScalar;
import dev.lanes.kernels.SoftmaxScalar;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The table of public entry points (facades, core layers and the public scalar twins) the adversarial
 * suite attacks: each with its float operands in
 * order (name, input or output, length of its contiguous view) and a call that takes one array and
 * one offset per operand. The outputs that may be exactly an input (in place) are listed as
 * {@code "out=in"}, as each entry point's javadoc states them.
 */
final class EntryPoints {
    private EntryPoints() {}

    /** Small awkward shapes: R rows of C columns, GEMM (R x C) = (R x K)(K x C). */
    static final int R = 3, C = 5, K = 4;
    /** Attention: B=1, Hq=2, Hkv=1, T=3, S=4, D=4, contiguous views. */
    static final int B = 1, HQ = 2, HKV = 1, T = 3, S = 4, D = 4;
    static final int QLEN = B * HQ * T * D, KLEN = B * HKV * S * D, LSE = B * HQ * T;

    record Operand(String name, boolean output, int length) {}

    interface Call {
        void run(float[][] a, int[] off);
    }

    record Entry(String name, List<Operand> operands, Set<String> aliases, Call call) {
        int index(String operand) {
            for (int i = 0; i < operands.size(); i++) {
                if (operands.get(i).name().equals(operand)) {
                    return i;
                }
            }
            throw new IllegalArgumentException(operand);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Operand in(String name, int length) {
        return new Operand(name, false, length);
    }

    static Operand out(String name, int length) {
        return new Operand(name, true, length);
    }

    static AttentionConfig attention(BiasShape bias) {
        return AttentionConfig.builder(B, HQ, HKV, T, S, D).bias(bias).build();
    }

    static final HeadLayout QL = HeadLayout.contiguous(HQ, T, D), KL = HeadLayout.contiguous(HKV, S, D);

    static List<Entry> all() {
        Parallelism par = Parallelism.serial();
        List<Entry> e = new ArrayList<>();
        e.add(new Entry("Gemm.sgemm", List.of(in("a", R * K), in("b", K * C), out("c", R * C)), Set.of(),
                (a, o) -> Gemm.sgemm(par, Transpose.N, Transpose.N, R, C, K, 1f, a[0], o[0], K, a[1], o[1], C, 0.5f,
                        a[2], o[2], C)));
        e.add(new Entry("Gemm.sgemmFused", List.of(in("a", R * K), in("b", K * C), in("bias", C), in("res", R * C),
                out("c", R * C)), Set.of(),
                (a, o) -> Gemm.sgemmFused(par, Transpose.N, Transpose.T, R, C, K, 1f, a[0], o[0], K, a[1], o[1], K, 0.5f,
                        a[2], o[2], a[3], o[3], C, a[4], o[4], C)));
        e.add(new Entry("Gemm.sgemmStridedBatched", List.of(in("a", 2 * R * K), in("b", 2 * K * C),
                out("c", 2 * R * C)), Set.of(),
                (a, o) -> Gemm.sgemmStridedBatched(par, 2, Transpose.T, Transpose.N, R, C, K, 1f, a[0], o[0], R, R * K,
                        a[1], o[1], C, K * C, 0f, a[2], o[2], C, R * C)));
        e.add(new Entry("Softmax.forward", List.of(in("mask", R * C), in("x", R * C), out("y", R * C)), Set.of("y=x"),
                (a, o) -> Softmax.forward(R, C, 0.5f, true, 1, a[0], o[0], C, a[1], o[1], C, a[2], o[2], C)));
        e.add(new Entry("Softmax.backward", List.of(in("dy", R * C), in("y", R * C), out("dx", R * C)),
                Set.of("dx=dy", "dx=y"),
                (a, o) -> Softmax.backward(R, C, 0.5f, a[0], o[0], C, a[1], o[1], C, a[2], o[2], C)));
        e.add(new Entry("ResidualAdd.forward", List.of(in("x", R * C), in("f", R * C), in("bias", C), out("y", R * C)),
                Set.of("y=x", "y=f"),
                (a, o) -> ResidualAdd.forward(R, C, 0.5f, a[0], o[0], C, a[1], o[1], C, a[2], o[2], a[3], o[3], C)));
        e.add(new Entry("ResidualAdd.backward", List.of(in("dy", R * C), out("dx", R * C), out("df", R * C),
                out("dbias", C)), Set.of("dx=dy", "df=dy"),
                (a, o) -> ResidualAdd.backward(R, C, 0.5f, a[0], o[0], C, a[1], o[1], C, a[2], o[2], C, a[3], o[3])));
        e.add(new Entry("Activations.geluForward", List.of(in("x", R * C), out("y", R * C)), Set.of("y=x"),
                (a, o) -> Activations.geluForward(par, R * C, a[0], o[0], a[1], o[1])));
        e.add(new Entry("Activations.geluBackward", List.of(in("dy", R * C), in("x", R * C), out("dx", R * C)),
                Set.of("dx=dy", "dx=x"),
                (a, o) -> Activations.geluBackward(par, R * C, a[0], o[0], a[1], o[1], a[2], o[2])));
        e.add(new Entry("Activations.geluBackwardInPlace", List.of(in("x", R * C), out("d", R * C)), Set.of(),
                (a, o) -> Activations.geluBackwardInPlace(par, R * C, a[0], o[0], a[1], o[1])));
        e.add(new Entry("Norms.layerNormForward", List.of(in("x", R * C), in("gamma", C), in("beta", C),
                out("y", R * C), out("mean", R), out("rstd", R)), Set.of("y=x"),
                (a, o) -> Norms.layerNormForward(par, R, C, 1e-5f, a[0], o[0], C, a[1], o[1], a[2], o[2], a[3], o[3], C,
                        a[4], o[4], a[5], o[5])));
        e.add(new Entry("Norms.layerNormBackward", List.of(in("dy", R * C), in("x", R * C), in("gamma", C),
                in("mean", R), in("rstd", R), out("dx", R * C), out("dgamma", C), out("dbeta", C)),
                Set.of("dx=dy", "dx=x"),
                (a, o) -> Norms.layerNormBackward(par, R, C, a[0], o[0], C, a[1], o[1], C, a[2], o[2], a[3], o[3],
                        a[4], o[4], a[5], o[5], C, a[6], o[6], a[7], o[7])));
        e.add(new Entry("Norms.rmsNormForward", List.of(in("x", R * C), in("gamma", C), out("y", R * C),
                out("rstd", R)), Set.of("y=x"),
                (a, o) -> Norms.rmsNormForward(par, R, C, 1e-5f, a[0], o[0], C, a[1], o[1], a[2], o[2], C, a[3], o[3])));
        e.add(new Entry("Norms.rmsNormBackward", List.of(in("dy", R * C), in("x", R * C), in("gamma", C),
                in("rstd", R), out("dx", R * C), out("dgamma", C)), Set.of("dx=dy", "dx=x"),
                (a, o) -> Norms.rmsNormBackward(par, R, C, a[0], o[0], C, a[1], o[1], C, a[2], o[2], a[3], o[3],
                        a[4], o[4], C, a[5], o[5])));
        e.add(new Entry("Optimizers.adamW", List.of(in("grads", R * C), out("params", R * C), out("m", R * C),
                out("v", R * C)), Set.of(),
                (a, o) -> Optimizers.adamW(par, R * C, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, a[0], o[0], a[1], o[1],
                        a[2], o[2], a[3], o[3])));
        e.add(new Entry("Attention.forward", List.of(in("q", QLEN), in("k", KLEN), in("v", KLEN), in("bias", T * S),
                out("o", QLEN), out("lse", LSE)), Set.of(),
                (a, o) -> Attention.forward(par, attention(BiasShape.SHARED), AttentionView.of(a[0], o[0], QL),
                        AttentionView.of(a[1], o[1], KL), AttentionView.of(a[2], o[2], KL),
                        AttentionView.flat(a[3], o[3]), AttentionView.of(a[4], o[4], QL),
                        AttentionView.flat(a[5], o[5]))));
        e.add(new Entry("Attention.backward", List.of(in("dO", QLEN), in("q", QLEN), in("k", KLEN), in("v", KLEN),
                in("o", QLEN), in("lse", LSE), out("dq", QLEN), out("dk", KLEN), out("dv", KLEN)), Set.of(),
                (a, o) -> Attention.backward(par, attention(BiasShape.NONE), AttentionView.of(a[0], o[0], QL),
                        AttentionView.of(a[1], o[1], QL), AttentionView.of(a[2], o[2], KL),
                        AttentionView.of(a[3], o[3], KL), null, AttentionView.of(a[4], o[4], QL),
                        AttentionView.flat(a[5], o[5]), AttentionView.of(a[6], o[6], QL),
                        AttentionView.of(a[7], o[7], KL), AttentionView.of(a[8], o[8], KL))));
        e.add(new Entry("KVCache.attend", List.of(in("q", QLEN), out("o", QLEN), out("lse", LSE)), Set.of(),
                (a, o) -> {
                    KVCache cache = new KVCache(B, HKV, D, 8);
                    float[] kv = new float[KLEN];
                    cache.append(S, kv, 0, KL, kv, 0, KL);
                    cache.attend(par, HQ, T, 0.5f, a[0], o[0], QL, a[1], o[1], QL, a[2], o[2]);
                }));
        e.add(new Entry("CrossEntropy.forward", List.of(in("logits", R * C), out("losses", R), out("lse", R)),
                Set.of(),
                (a, o) -> CrossEntropy.forward(R, C, a[0], o[0], new int[] {0, 1, 4}, 0, a[1], o[1], a[2], o[2])));
        e.add(new Entry("CrossEntropy.backward", List.of(in("dloss", R), in("logits", R * C), in("lse", R),
                out("dlogits", R * C)), Set.of(),
                (a, o) -> CrossEntropy.backward(R, C, a[0], o[0], a[1], o[1], new int[] {0, 1, 4}, 0, a[2], o[2],
                        a[3], o[3])));
        // Linear: w (K, C) at the start of the parameter operand, the bias right after it
        e.add(new Entry("Linear.forward", List.of(in("x", R * K), in("params", K * C + C), in("res", R * C),
                out("y", R * C)), Set.of(),
                (a, o) -> new Linear(K, C, 0, K * C).forward(par, R, a[1], o[1], a[0], o[0], a[2], o[2], a[3], o[3])));
        e.add(new Entry("Linear.backward", List.of(in("dy", R * C), in("x", R * K), in("params", K * C + C),
                out("dx", R * K), out("grads", K * C + C)), Set.of(),
                (a, o) -> new Linear(K, C, 0, K * C).backward(par, R, a[2], o[2], a[4], o[4], a[0], o[0], a[1], o[1],
                        a[3], o[3])));
        // The scalar twins are public too and share their facades' checks: attacked the same way.
        e.add(new Entry("GemmScalar.sgemmFused", List.of(in("a", R * K), in("b", K * C), in("bias", C),
                in("res", R * C), out("c", R * C)), Set.of(),
                (a, o) -> GemmScalar.sgemmFused(Transpose.N, Transpose.N, R, C, K, 1f, a[0], o[0], K, a[1], o[1], C, 0.5f,
                        a[2], o[2], a[3], o[3], C, a[4], o[4], C)));
        e.add(new Entry("GemmScalar.sgemmStridedBatched", List.of(in("a", 2 * R * K), in("b", 2 * K * C),
                out("c", 2 * R * C)), Set.of(),
                (a, o) -> GemmScalar.sgemmStridedBatched(2, Transpose.N, Transpose.N, R, C, K, 1f, a[0], o[0], K, R * K,
                        a[1], o[1], C, K * C, 0f, a[2], o[2], C, R * C)));
        e.add(new Entry("SoftmaxScalar.forward", List.of(in("mask", R * C), in("x", R * C), out("y", R * C)),
                Set.of("y=x"),
                (a, o) -> SoftmaxScalar.forward(R, C, 0.5f, false, 0, a[0], o[0], C, a[1], o[1], C, a[2], o[2], C)));
        e.add(new Entry("ResidualAddScalar.backward", List.of(in("dy", R * C), out("dx", R * C), out("df", R * C),
                out("dbias", C)), Set.of("dx=dy", "df=dy"),
                (a, o) -> ResidualAddScalar.backward(R, C, 0.5f, a[0], o[0], C, a[1], o[1], C, a[2], o[2], C, a[3],
                        o[3])));
        e.add(new Entry("ActivationsScalar.geluBackward", List.of(in("dy", R * C), in("x", R * C), out("dx", R * C)),
                Set.of("dx=dy", "dx=x"),
                (a, o) -> ActivationsScalar.geluBackward(R * C, a[0], o[0], a[1], o[1], a[2], o[2])));
        e.add(new Entry("ActivationsScalar.geluBackwardInPlace", List.of(in("x", R * C), out("d", R * C)), Set.of(),
                (a, o) -> ActivationsScalar.geluBackwardInPlace(R * C, a[0], o[0], a[1], o[1])));
        e.add(new Entry("NormsScalar.layerNormForward", List.of(in("x", R * C), in("gamma", C), in("beta", C),
                out("y", R * C), out("mean", R), out("rstd", R)), Set.of("y=x"),
                (a, o) -> NormsScalar.layerNormForward(R, C, 1e-5f, a[0], o[0], C, a[1], o[1], a[2], o[2], a[3], o[3], C,
                        a[4], o[4], a[5], o[5])));
        e.add(new Entry("NormsScalar.rmsNormBackward", List.of(in("dy", R * C), in("x", R * C), in("gamma", C),
                in("rstd", R), out("dx", R * C), out("dgamma", C)), Set.of("dx=dy", "dx=x"),
                (a, o) -> NormsScalar.rmsNormBackward(R, C, a[0], o[0], C, a[1], o[1], C, a[2], o[2], a[3], o[3],
                        a[4], o[4], C, a[5], o[5])));
        e.add(new Entry("OptimizersScalar.adamW", List.of(in("grads", R * C), out("params", R * C), out("m", R * C),
                out("v", R * C)), Set.of(),
                (a, o) -> OptimizersScalar.adamW(R * C, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, a[0], o[0], a[1], o[1],
                        a[2], o[2], a[3], o[3])));
        e.add(new Entry("AttentionScalar.forward", List.of(in("q", QLEN), in("k", KLEN), in("v", KLEN),
                in("bias", T * S), out("o", QLEN), out("lse", LSE)), Set.of(),
                (a, o) -> AttentionScalar.forward(attention(BiasShape.SHARED), AttentionView.of(a[0], o[0], QL),
                        AttentionView.of(a[1], o[1], KL), AttentionView.of(a[2], o[2], KL),
                        AttentionView.flat(a[3], o[3]), AttentionView.of(a[4], o[4], QL),
                        AttentionView.flat(a[5], o[5]))));
        e.add(new Entry("AttentionScalar.backward", List.of(in("dO", QLEN), in("q", QLEN), in("k", KLEN),
                in("v", KLEN), in("o", QLEN), in("lse", LSE), out("dq", QLEN), out("dk", KLEN), out("dv", KLEN)),
                Set.of(),
                (a, o) -> AttentionScalar.backward(attention(BiasShape.NONE), AttentionView.of(a[0], o[0], QL),
                        AttentionView.of(a[1], o[1], QL), AttentionView.of(a[2], o[2], KL),
                        AttentionView.of(a[3], o[3], KL), null, AttentionView.of(a[4], o[4], QL),
                        AttentionView.flat(a[5], o[5]), AttentionView.of(a[6], o[6], QL),
                        AttentionView.of(a[7], o[7], KL), AttentionView.of(a[8], o[8], KL))));
        return e;
    }
}
