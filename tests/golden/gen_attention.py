#!/usr/bin/python3
"""Golden tensors for dev.lanes.tests.attention.AttentionGoldenTest, from PyTorch autograd.

Run with Debian's python3-torch (1.13) and python3-numpy:

    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 tests/golden/gen_attention.py

It rewrites tests/src/test/resources/golden/attention/: cases.txt lists the case names; for each case
NAME.txt is a header of `key=value` lines (B, Hq, Hkv, T, S, D, scale, causal NONE|TOP_LEFT|BOTTOM_RIGHT,
keyLengths comma-separated or `none`, bias NONE|SHARED|PER_HEAD) followed by `tensors=` naming the
tensors stored, in order, with their shapes; NAME.bin holds those tensors as consecutive row-major
little-endian float32 arrays. q [B,Hq,T,D], k and v [B,Hkv,S,D], bias [T,S] or [B,Hq,T,S] (if any),
dO [B,Hq,T,D] are inputs; o, lse [B,Hq,T], dq, dk, dv are the expected outputs.

The reference is the textbook composition in float64: K and V expanded to Hq heads with
repeat_interleave (query head h reads kv head h // G), logits = scale * q k^T + bias, masked_fill with
-inf where a key is past the batch entry's key length or above the causal diagonal, softmax, @ v.
Rows that see no key give zeros (torch would give NaN): their softmax is taken on zeros and
multiplied by 0, so the gradients stay finite and zero.
"""
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "golden", "attention")

CASES = [
    # name, B, Hq, Hkv, T, S, D, scale (None = 1/sqrt(D)), causal, key lengths, bias
    ("mqa_plain", 2, 4, 1, 5, 7, 8, None, "NONE", None, "NONE"),
    ("gqa_bottom_right_padding", 2, 4, 2, 6, 9, 40, None, "BOTTOM_RIGHT", [9, 4], "NONE"),
    ("mha_top_left_shared_bias", 1, 3, 3, 7, 7, 16, None, "TOP_LEFT", None, "SHARED"),
    ("gqa_per_head_bias_empty_row", 2, 4, 2, 4, 20, 80, 0.2, "NONE", [0, 13], "PER_HEAD"),
    ("mqa_causal_two_key_tiles", 1, 4, 1, 67, 67, 24, None, "TOP_LEFT", None, "NONE"),
]


def reference(q, k, v, bias, causal, key_lengths, scale, B, Hq, Hkv, T, S):
    G = Hq // Hkv
    ke = k.repeat_interleave(G, dim=1)  # [B, Hq, S, D]
    ve = v.repeat_interleave(G, dim=1)
    logits = scale * (q @ ke.transpose(-1, -2))  # [B, Hq, T, S]
    if bias is not None:
        logits = logits + bias
    i = torch.arange(T).view(T, 1)
    j = torch.arange(S).view(1, S)
    visible = torch.ones(B, 1, T, S, dtype=torch.bool)
    if causal == "TOP_LEFT":
        visible = visible & (j <= i)
    elif causal == "BOTTOM_RIGHT":
        visible = visible & (j <= i + S - T)
    if key_lengths is not None:
        lens = torch.tensor(key_lengths).view(B, 1, 1, 1)
        visible = visible & (j.view(1, 1, 1, S) < lens)
    logits = logits.masked_fill(~visible, float("-inf"))
    lse = torch.logsumexp(logits, dim=-1)  # -inf where nothing is visible
    alive = torch.isfinite(logits).any(dim=-1, keepdim=True)  # [B, Hq, T, 1]
    safe = torch.where(alive, logits, torch.zeros_like(logits))
    p = torch.softmax(safe, dim=-1) * alive
    return p @ ve, lse


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20250205)
    names = []
    for name, B, Hq, Hkv, T, S, D, scale, causal, key_lengths, bias_shape in CASES:
        scale = 1.0 / D ** 0.5 if scale is None else scale
        scale = float(np.float32(scale))  # the float the Java side holds
        u = lambda *shape: (torch.rand(*shape, generator=gen) * 2 - 1).to(torch.float32)
        q, k, v = u(B, Hq, T, D), u(B, Hkv, S, D), u(B, Hkv, S, D)
        bias = None
        if bias_shape != "NONE":
            bias = u(T, S) if bias_shape == "SHARED" else u(B, Hq, T, S)
            holes = torch.rand(*bias.shape, generator=gen) < 0.15
            bias = bias.masked_fill(holes, float("-inf"))
        dO = u(B, Hq, T, D)
        qd, kd, vd = (x.double().requires_grad_(True) for x in (q, k, v))
        o, lse = reference(qd, kd, vd, None if bias is None else bias.double(), causal, key_lengths, scale,
                           B, Hq, Hkv, T, S)
        (o * dO.double()).sum().backward()
        tensors = [("q", q), ("k", k), ("v", v)]
        if bias is not None:
            tensors.append(("bias", bias))
        tensors += [("dO", dO), ("o", o.detach()), ("lse", lse.detach()), ("dq", qd.grad), ("dk", kd.grad),
                    ("dv", vd.grad)]
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write(f"B={B}\nHq={Hq}\nHkv={Hkv}\nT={T}\nS={S}\nD={D}\nscale={scale!r}\ncausal={causal}\n")
            f.write("keyLengths=" + ("none" if key_lengths is None else ",".join(map(str, key_lengths))) + "\n")
            f.write(f"bias={bias_shape}\n")
            f.write("tensors=" + " ".join(f"{n}:{'x'.join(map(str, t.shape))}" for n, t in tensors) + "\n")
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            for _, t in tensors:
                f.write(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())
        names.append(name)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
