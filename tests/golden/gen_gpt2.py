#!/usr/bin/python3
"""Golden checkpoint for dev.lanes.tests.nn.Gpt2CheckpointGoldenTest and GenerateCommandTest: a small random
GPT-2 in the Hugging Face layout, its forward, backward and ten AdamW steps from PyTorch autograd in float64.

Run with Debian's python3-torch (1.13); no transformers or safetensors package is used:

    apt-get update && apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 tests/golden/gen_gpt2.py

It rewrites tests/src/test/resources/golden/gpt2/:

    config.json          GPT-2 config (n_embd, n_head, n_layer, n_positions, vocab_size, layer_norm_epsilon, ...)
    model.safetensors    float32 weights named as GPT2Model saves them (wte.weight, h.0.attn.c_attn.weight, ...),
                         plus the old exports' h.{i}.attn.bias causal-mask buffers, which a loader must skip
    reference.safetensors float64 / int64 references:
        tokens, targets          [B, T] int64 (target -1: the row does not count)
        logits                   [B, T, V]
        loss                     [] mean cross-entropy over counted rows
        grad.NAME                d(loss)/d(NAME) for every weight NAME of model.safetensors
        losses, gradNorms        [STEPS] loss and global gradient norm (before clipping) of each AdamW step
        generate.prompt, generate.greedy   int64: a prompt and the greedy (argmax) continuation in float64
      with __metadata__ holding the training settings (lr, beta1, beta2, eps, weight_decay, clip, steps)
    vocab.json, merges.txt   a toy byte-level BPE vocabulary of exactly vocab_size symbols, so that the
                         generate command can print text for this checkpoint

With --verify DIR it instead reads a checkpoint another program wrote (e.g. dev.lanes.core.nn.Gpt2Checkpoint.save
of this fixture) with the hand-written reader below, and prints how far its logits on the fixture's tokens land
from the stored float64 reference: the check that files Lanes writes are what PyTorch reads.

The safetensors files are written by hand below: 8-byte little-endian header length, a JSON header
padded with spaces to 8 bytes, then the tensors back to back.

The model follows transformers' GPT2LMHeadModel line by line, written out: x = wte[tok] + wpe[t]; per block
h = LayerNorm(x); qkv = h @ c_attn.weight + c_attn.bias (Conv1D: weight stored [in, out]); q, k, v = split
of the 3C columns, each [B, T, H, D]; causal softmax(q k^T / sqrt(D)); x += merge(a v) @ c_proj.weight +
c_proj.bias; x += gelu_tanh(LayerNorm(x) @ c_fc.weight + c_fc.bias) @ mlp.c_proj.weight + bias;
logits = LayerNorm_f(x) @ wte^T (tied head). Weights are drawn larger than GPT-2's init (matrices N(0, 0.2))
so that attention is far from uniform and every nonlinearity works; LayerNorm gains 1 + 0.1 N(0, 1),
biases 0.05 N(0, 1). They are rounded to float32 (what the file holds) and then used in float64.

Training matches dev.lanes.core.nn.AdamWOptimizer: torch.optim.AdamW with weight decay on the 2-D tensors
(wte and wpe included) and none on biases and gains, clip_grad_norm_ to CLIP before each step. The script
also replays everything in float32 and prints the worst deviation from float64 per quantity: the scale the
Java tolerances are set against.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "golden", "gpt2")

CONFIG = dict(vocab_size=80, n_positions=24, n_embd=32, n_layer=2, n_head=4, layer_norm_epsilon=1e-5)
B, T = 2, 16
LR, BETA1, BETA2, EPS, WEIGHT_DECAY, CLIP, STEPS = 1e-2, 0.9, 0.95, 1e-8, 0.1, 1.0, 10
GEN_PROMPT, GEN_TOKENS = [5, 17, 42, 9], 12


def names_and_shapes(cfg):
    V, P, C, L = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    out = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for l in range(L):
        p = f"h.{l}."
        out += [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
                (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
                (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
                (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
                (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
                (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,))]
    out += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return out


def conv1d(x, w, b):
    """transformers' Conv1D: y = x @ w + b with w stored [in, out]."""
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[1])


def gpt2(P, tokens, cfg):
    """Logits [B, T, V] of GPT2LMHeadModel (eval mode: no dropout)."""
    C, H, L, eps = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["layer_norm_epsilon"]
    D = C // H
    Bn, Tn = tokens.shape
    x = P["wte.weight"][tokens] + P["wpe.weight"][torch.arange(Tn)]
    causal = torch.ones(Tn, Tn, dtype=torch.bool).tril()
    for l in range(L):
        p = f"h.{l}."
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        q, k, v = conv1d(h, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"]).split(C, dim=2)
        q, k, v = (t.view(Bn, Tn, H, D).permute(0, 2, 1, 3) for t in (q, k, v))
        w = q @ k.transpose(-1, -2) / math.sqrt(D)
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        a = torch.softmax(w, dim=-1) @ v
        a = a.permute(0, 2, 1, 3).reshape(Bn, Tn, C)
        x = x + conv1d(a, P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"])
        h2 = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        m = F.gelu(conv1d(h2, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"]), approximate="tanh")
        x = x + conv1d(m, P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], eps)
    return x @ P["wte.weight"].T


def loss_of(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)


def run(init, names, tokens, targets, dtype):
    P = {n: t.to(dtype).clone().requires_grad_(True) for n, t in init.items()}
    logits = gpt2(P, tokens, CONFIG)
    loss = loss_of(logits, targets)
    loss.backward()
    out = {"logits": logits.detach(), "loss": loss.detach(), "grads": {n: P[n].grad.detach().clone() for n in names}}

    P = {n: t.to(dtype).clone().requires_grad_(True) for n, t in init.items()}
    groups = [{"params": [P[n] for n in names if P[n].dim() == 2], "weight_decay": WEIGHT_DECAY},
              {"params": [P[n] for n in names if P[n].dim() == 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=False)
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=False)
        loss = loss_of(gpt2(P, tokens, CONFIG), targets)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_([P[n] for n in names], CLIP).item())
        opt.step()
        losses.append(loss.item())
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    out["gradNorms"] = torch.tensor(norms, dtype=torch.float64)
    return out


def greedy(init, prompt, count):
    """Greedy continuation in float64, full forward per token; also the smallest top-1/top-2 logit gap."""
    P = {n: t.double() for n, t in init.items()}
    ids, gap = list(prompt), float("inf")
    for _ in range(count):
        last = gpt2(P, torch.tensor([ids]), CONFIG)[0, -1]
        top = torch.topk(last, 2).values
        gap = min(gap, (top[0] - top[1]).item())
        ids.append(int(last.argmax()))
    return ids[len(prompt):], gap


DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, torch tensor); written in that order, contiguous."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        dtype, np_type = DTYPES[t.dtype]
        data = t.detach().contiguous().numpy().astype(np_type).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


NUMPY_TYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}


def read_safetensors(path):
    """name -> torch tensor, for the dtypes this script writes; checks the offsets tile the data exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    header.pop("__metadata__", None)
    out, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        spans.append((begin, end))
        array = np.frombuffer(data[begin:end], dtype=NUMPY_TYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == len(data), "offsets do not cover the data"
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "gap or overlap"
    return out


def verify(directory):
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    cfg = {k: cfg[k] for k in CONFIG}
    P = {n: t.double() for n, t in read_safetensors(os.path.join(directory, "model.safetensors")).items()}
    ref = read_safetensors(os.path.join(OUT, "reference.safetensors"))
    logits = gpt2(P, ref["tokens"], cfg)
    d = ((logits - ref["logits"]).abs().max() / ref["logits"].abs().max()).item()
    print(f"{directory}: {len(P)} tensors, config {cfg}; logits max|diff|/max|ref| {d:.3e}")
    return d < 1e-6


def bytes_to_unicode():
    """GPT-2's byte -> printable character map."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in printable:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def write_toy_tokenizer(V):
    """vocab_size symbols: 'Ġ' (space), 'Ċ' (newline), letters, digits, punctuation, then merged pairs."""
    m = bytes_to_unicode()
    singles = [m[ord(" ")], m[ord("\n")]] + [chr(c) for c in range(ord("a"), ord("z") + 1)] \
        + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + list("0123456789") + list(".,!?'-")
    merges = [("t", "h"), ("Ġ", "t"), ("Ġt", "h"), ("e", "r"), ("i", "n"), ("Ġ", "a"), ("a", "n"), ("o", "n"),
              ("r", "e"), ("Ġ", "s")]
    symbols = singles + [a + b for a, b in merges]
    assert len(symbols) == V and len(set(symbols)) == V, (len(symbols), V)
    with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({s: i for i, s in enumerate(symbols)}, f, ensure_ascii=False)
    with open(os.path.join(OUT, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20261127)
    shapes = names_and_shapes(CONFIG)
    names = [n for n, _ in shapes]
    init = {}
    for n, shape in shapes:
        z = torch.randn(*shape, generator=gen, dtype=torch.float64)
        if len(shape) == 2:
            t = 0.2 * z
        elif n.endswith(".weight"):  # LayerNorm gains
            t = 1 + 0.1 * z
        else:
            t = 0.05 * z
        init[n] = t.to(torch.float32)
    V = CONFIG["vocab_size"]
    tokens = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    targets[0, 3] = -1
    targets[1, 10] = -1

    ref = run(init, names, tokens, targets, torch.float64)
    f32 = run(init, names, tokens, targets, torch.float32)
    greedy_ids, gap = greedy(init, GEN_PROMPT, GEN_TOKENS)

    config = dict(CONFIG, model_type="gpt2", architectures=["GPT2LMHeadModel"], activation_function="gelu_new",
                  n_ctx=CONFIG["n_positions"], n_inner=None, scale_attn_weights=True, tie_word_embeddings=True)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    P_ = CONFIG["n_positions"]
    weights = []
    for n in names:
        weights.append((n, init[n]))
        if n.endswith("attn.c_proj.bias"):  # the mask buffer old exports carry, after the layer's attention
            weights.append((n.replace("c_proj.bias", "bias"), torch.ones(P_, P_).tril().view(1, 1, P_, P_)))
    write_safetensors(os.path.join(OUT, "model.safetensors"), weights, {"format": "pt"})
    refs = [("tokens", tokens), ("targets", targets), ("logits", ref["logits"]), ("loss", ref["loss"])]
    refs += [("grad." + n, ref["grads"][n]) for n in names]
    refs += [("losses", ref["losses"]), ("gradNorms", ref["gradNorms"]),
             ("generate.prompt", torch.tensor(GEN_PROMPT)), ("generate.greedy", torch.tensor(greedy_ids))]
    meta = {"lr": repr(LR), "beta1": repr(BETA1), "beta2": repr(BETA2), "eps": repr(EPS),
            "weight_decay": repr(WEIGHT_DECAY), "clip": repr(CLIP), "steps": str(STEPS)}
    write_safetensors(os.path.join(OUT, "reference.safetensors"), refs, meta)
    write_toy_tokenizer(V)

    for f in sorted(os.listdir(OUT)):
        print(f"{f:24s} {os.path.getsize(os.path.join(OUT, f)):8d} bytes")
    print(f"loss {ref['loss'].item():.6f}; losses " + " ".join(f"{x:.5f}" for x in ref["losses"].tolist()))
    print(f"greedy {greedy_ids}, smallest top-1/top-2 logit gap {gap:.3e}")
    # float32 replay: the deviations a correct float32 implementation can be expected to show
    lmax = ref["logits"].abs().max()
    print(f"f32 logits max|diff|/max|ref| {((f32['logits'].double() - ref['logits']).abs().max() / lmax).item():.3e}")
    print(f"f32 loss rel {(abs(f32['loss'].item() - ref['loss'].item()) / ref['loss'].item()):.3e}")
    worst = 0.0
    for n in names:
        r, a = ref["grads"][n], f32["grads"][n].double()
        worst = max(worst, ((a - r).abs().max() / r.abs().max()).item())
    print(f"f32 grads worst max|diff|/max|ref| per tensor {worst:.3e}")
    for k in ("losses", "gradNorms"):
        d = ((f32[k].double() - ref[k]).abs() / ref[k].abs()).max().item()
        print(f"f32 {k} worst rel {d:.3e}")


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        sys.exit(0 if verify(sys.argv[2]) else 1)
    main()
