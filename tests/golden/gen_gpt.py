#!/usr/bin/python3
"""Golden tensors for dev.lanes.tests.nn.GptGoldenTest: a whole GPT forward, backward and ten AdamW
steps, from PyTorch autograd in float64.

Run with Debian's python3-torch (1.13) and python3-numpy:

    apt-get install -y python3-torch python3-numpy libopenblas0-pthread
    /usr/bin/python3 tests/golden/gen_gpt.py

It rewrites tests/src/test/resources/golden/gpt/: cases.txt lists the case names; for each case NAME.txt
is a header of `key=value` lines (vocab, maxSeq, layers, dim, heads, kvHeads, headDim, mlpDim,
norm LAYER|RMS, normEps, batch, seqLen, the AdamW settings lr, beta1, beta2, eps, weightDecay, clip,
steps) followed by `tensors=` naming the arrays stored, in order, as name:count; NAME.bin holds them as
consecutive little-endian float32 arrays:

    params      the flat parameter arena in dev.lanes.core.nn.ParamLayout's storage order
    tokens      [B, T] token ids as float32 integers
    targets     [B, T] target ids as float32 integers, -1 for a row that does not count
    logits      [B, T, V]
    loss        1 value: mean cross-entropy over counted rows
    grads       d(loss)/d(params), flat, same order as params
    losses      [steps] loss at the start of each training step
    gradNorms   [steps] global gradient L2 norm before clipping, each step
    final       the parameters after the steps, flat

The model is written out by hand (pre-norm GPT-2 with grouped-query attention, tied head): x = wte[tok]
+ wpe[t]; per block x += Attn(Norm1(x)) Wo + bo, x += GELU_tanh(Norm2(x) W1 + b1) W2 + b2; logits =
Normf(x) wte^T. Attention expands K and V to Hq heads with repeat_interleave (query head h reads kv head
h // (Hq / Hkv)), causal top-left, scale 1/sqrt(D). LayerNorm uses the biased variance; RMSNorm (absent
from torch 1.13) is x / sqrt(mean(x^2) + eps) * g. Matrices are stored (in, out): y = x W.

Parameters are drawn once, rounded to float32 (the file holds what Lanes starts from) and then used in
float64: matrices N(0, 0.02), norm gains 1 + 0.1 N(0, 1), biases (linear and norm) 0.02 N(0, 1), so no
gradient path is trivially zero or one.

Training: each step zeroes the gradients, runs forward and backward, clips with clip_grad_norm_ and
steps torch.optim.AdamW with two parameter groups, decay (the 2-D tensors, wte and wpe included) and no
decay (biases and gains). The training runs in float64 too: it is then the exact trajectory, and the
Java test's tolerance is all float32 drift on Lanes' side, not a mixture of two float32 roundings. The
script also replays everything in float32 (torch's own float32 arithmetic) and prints the worst
float32-vs-float64 deviation per stored quantity: that is the honest scale for the Java tolerances.
"""
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "golden", "gpt")

LR, BETA1, BETA2, EPS, WEIGHT_DECAY, CLIP, STEPS = 1e-2, 0.9, 0.95, 1e-8, 0.1, 1.0, 10

CASES = [
    # name, V, maxSeq, L, C, Hq, Hkv, D, F, norm, B, T, fraction of ignored targets
    ("layer_gqa", 32, 8, 2, 16, 4, 2, 4, 64, "LAYER", 2, 8, 0.25),
    ("rms_mqa", 24, 12, 2, 16, 4, 1, 4, 48, "RMS", 2, 7, 0.0),
]
NORM_EPS = 1e-5


def layout(V, maxSeq, L, C, Hq, Hkv, D, F, norm):
    """(name, shape) in ParamLayout's storage order; 1-D tensors are vectors."""
    W = (Hq + 2 * Hkv) * D
    out = [("wte", (V, C)), ("wpe", (maxSeq, C))]
    for l in range(L):
        p = f"h.{l}."
        out.append((p + "ln1.g", (C,)))
        if norm == "LAYER":
            out.append((p + "ln1.b", (C,)))
        out += [(p + "attn.wqkv", (C, W)), (p + "attn.bqkv", (W,)), (p + "attn.wo", (Hq * D, C)),
                (p + "attn.bo", (C,)), (p + "ln2.g", (C,))]
        if norm == "LAYER":
            out.append((p + "ln2.b", (C,)))
        out += [(p + "mlp.w1", (C, F)), (p + "mlp.b1", (F,)), (p + "mlp.w2", (F, C)), (p + "mlp.b2", (C,))]
    out.append(("lnf.g", (C,)))
    if norm == "LAYER":
        out.append(("lnf.b", (C,)))
    return out


def normalize(x, g, b, norm):
    if norm == "LAYER":
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased, as torch.nn.LayerNorm
        return (x - mean) / torch.sqrt(var + NORM_EPS) * g + b
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + NORM_EPS) * g


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(P, tokens, targets, V, L, C, Hq, Hkv, D, norm):
    """Returns (logits [B, T, V], mean loss over targets != -1)."""
    B, T = tokens.shape
    G = Hq // Hkv
    x = P["wte"][tokens] + P["wpe"][:T]  # [B, T, C]
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # query i sees keys j <= i
    for l in range(L):
        p = f"h.{l}."
        h = normalize(x, P[p + "ln1.g"], P.get(p + "ln1.b"), norm)
        qkv = h @ P[p + "attn.wqkv"] + P[p + "attn.bqkv"]  # [B, T, (Hq + 2 Hkv) D]
        q = qkv[..., :Hq * D].view(B, T, Hq, D).transpose(1, 2)  # [B, Hq, T, D]
        k = qkv[..., Hq * D:(Hq + Hkv) * D].view(B, T, Hkv, D).transpose(1, 2)  # [B, Hkv, T, D]
        v = qkv[..., (Hq + Hkv) * D:].view(B, T, Hkv, D).transpose(1, 2)
        k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        a = torch.softmax(s.masked_fill(~causal, float("-inf")), dim=-1)
        o = (a @ v).transpose(1, 2).reshape(B, T, Hq * D)
        x = x + o @ P[p + "attn.wo"] + P[p + "attn.bo"]
        h2 = normalize(x, P[p + "ln2.g"], P.get(p + "ln2.b"), norm)
        x = x + gelu_tanh(h2 @ P[p + "mlp.w1"] + P[p + "mlp.b1"]) @ P[p + "mlp.w2"] + P[p + "mlp.b2"]
    logits = normalize(x, P["lnf.g"], P.get("lnf.b"), norm) @ P["wte"].T  # tied head
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def run(init, names, tokens, targets, dims, dtype):
    """Forward + backward, then STEPS training steps, from the float32 params `init`, in `dtype`."""
    P = {n: t.to(dtype).clone().requires_grad_(True) for n, t in init.items()}
    logits, loss = forward(P, tokens, targets, *dims)
    loss.backward()
    grads = torch.cat([P[n].grad.reshape(-1) for n in names]).detach()
    out = {"logits": logits.detach().reshape(-1), "loss": loss.detach().reshape(1), "grads": grads}

    P = {n: t.to(dtype).clone().requires_grad_(True) for n, t in init.items()}
    groups = [{"params": [P[n] for n in names if P[n].dim() == 2], "weight_decay": WEIGHT_DECAY},
              {"params": [P[n] for n in names if P[n].dim() == 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=False)
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=False)
        _, loss = forward(P, tokens, targets, *dims)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([P[n] for n in names], CLIP)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    out["gradNorms"] = torch.tensor(norms, dtype=torch.float64)
    out["final"] = torch.cat([P[n].detach().reshape(-1) for n in names])
    return out


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20250611)
    names_out = []
    for name, V, maxSeq, L, C, Hq, Hkv, D, F, norm, B, T, ignored in CASES:
        shapes = layout(V, maxSeq, L, C, Hq, Hkv, D, F, norm)
        names = [n for n, _ in shapes]
        init = {}
        for n, shape in shapes:
            z = torch.randn(*shape, generator=gen, dtype=torch.float64)
            if len(shape) == 2:
                t = 0.02 * z
            elif n.endswith(".g"):
                t = 1 + 0.1 * z
            else:
                t = 0.02 * z
            init[n] = t.to(torch.float32)  # what the file holds and Lanes starts from
        tokens = torch.randint(0, V, (B, T), generator=gen)
        targets = torch.randint(0, V, (B, T), generator=gen)
        targets[torch.rand(B, T, generator=gen) < ignored] = -1
        dims = (V, L, C, Hq, Hkv, D, norm)

        ref = run(init, names, tokens, targets, dims, torch.float64)
        f32 = run(init, names, tokens, targets, dims, torch.float32)

        params = torch.cat([init[n].reshape(-1) for n in names])
        tensors = [("params", params), ("tokens", tokens.reshape(-1).float()),
                   ("targets", targets.reshape(-1).float())]
        tensors += [(k, ref[k]) for k in ("logits", "loss", "grads", "losses", "gradNorms", "final")]
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write(f"vocab={V}\nmaxSeq={maxSeq}\nlayers={L}\ndim={C}\nheads={Hq}\nkvHeads={Hkv}\nheadDim={D}\n")
            f.write(f"mlpDim={F}\nnorm={norm}\nnormEps={NORM_EPS!r}\nbatch={B}\nseqLen={T}\n")
            f.write(f"lr={LR!r}\nbeta1={BETA1!r}\nbeta2={BETA2!r}\neps={EPS!r}\nweightDecay={WEIGHT_DECAY!r}\n")
            f.write(f"clip={CLIP!r}\nsteps={STEPS}\n")
            f.write("tensors=" + " ".join(f"{n}:{t.numel()}" for n, t in tensors) + "\n")
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            for _, t in tensors:
                f.write(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())
        names_out.append(name)

        # The float32 replay: the deviations a correct float32 implementation can be expected to show.
        print(f"{name}: {params.numel()} params, {os.path.getsize(os.path.join(OUT, name + '.bin'))} bytes,"
              f" loss {ref['loss'].item():.6f}, ignored {(targets < 0).sum().item()}/{B * T}")
        print("  losses   ", " ".join(f"{x:.5f}" for x in ref["losses"].tolist()))
        print("  gradNorms", " ".join(f"{x:.4f}" for x in ref["gradNorms"].tolist()))
        for k in ("logits", "loss", "losses", "gradNorms"):
            d = (f32[k].double() - ref[k]).abs()
            print(f"  f32 {k:9s} max|diff| {d.max().item():.3e}  rel to max|ref| "
                  f"{(d.max() / ref[k].abs().max()).item():.3e}")
        for k in ("grads", "final"):
            worst, off = 0.0, 0
            for n, shape in shapes:
                size = int(np.prod(shape))
                r, a = ref[k][off:off + size], f32[k][off:off + size].double()
                rel = ((a - r).abs().max() / r.abs().max().clamp_min(1e-30)).item()
                absd = (a - r).abs().max().item()
                worst = max(worst, rel)
                print(f"  f32 {k:6s} {n:16s} max|ref| {r.abs().max().item():.3e} max|diff| {absd:.3e} rel {rel:.3e}")
                off += size
            print(f"  f32 {k} worst rel-to-tensor-max {worst:.3e}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(names_out) + "\n")


if __name__ == "__main__":
    main()
