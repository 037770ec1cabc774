#!/usr/bin/env python3
"""PyTorch on the shapes of the Lanes benchmark report, written as report.json rows.

Optional. Uses Debian's python3-torch and python3-numpy when importable; otherwise prints how to install
them and exits 0. Call Debian's interpreter explicitly (a pyenv `python3` on PATH lacks Debian packages):

    apt-get install python3-torch python3-numpy libopenblas0-pthread
    /usr/bin/python3 bench/pytorch_bench.py --out bench/results/pytorch.json
    mvn -q -pl bench -am -Preport compile -Dreport.args="--merge-python results/pytorch.json"

or let the report run it: -Dreport.args="--pytorch".

Rows (same shape as the report's own): GemmBench/pytorch (torch.matmul into a preallocated C, threads
set with torch.set_num_threads), SoftmaxBench/pytorch (torch.softmax over the last dim), ResidualAddBench/
pytorch (y = x + 0.5 * (f + bias) as two out= adds), AttentionBench/pytorch (multi-query attention as
eager matmul + softmax + matmul, forward and forward+backward, the attention issue's shape).

Debian's torch does its float GEMMs through the system libblas.so.3 (BLAS_INFO=generic). With only
libblas3 installed that is the netlib reference BLAS, tens of times slower than OpenBLAS (3 GFLOP/s; the
training rows alone would take many minutes): the script then stops at once with the install hint.
Installing libopenblas0-pthread switches the alternative, which is PyTorch's best configuration here.
OpenBLAS picks its kernels for the CPU when it loads; an OpenBLAS release older than the CPU falls back to
a generic core (Debian's 0.3.21 ran its Prescott kernels on an AVX-512 Xeon, 5x slower than SkylakeX).
When the core it picked leaves AVX-512 or AVX2 unused, the script starts itself again with
OPENBLAS_CORETYPE set to the best core the CPU supports and says so. The BLAS and its core are recorded.
Times are medians of timed batches after a warm-up (time.perf_counter; not JMH, so compare ratios with
care). Each GEMM and softmax result is checked against a float64 NumPy reference before it is timed.

PyTorch is measured at its best, with glibc's malloc keeping freed pages (see PEER_MALLOC); the script
starts itself again with that environment. --default-malloc measures it as a default process runs it.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None, help="output JSON file (default: bench/results/pytorch.json)")
    p.add_argument("--sizes", default="256,512", help="square GEMM sizes N")
    p.add_argument("--shapes", default="", help="further GEMM shapes MxNxK[:NT], comma separated")
    p.add_argument("--memory", default="512x512,4096x4096", help="softmax / residual-add shapes ROWSxCOLS")
    p.add_argument("--threads", default="1,2", help="GEMM thread counts")
    p.add_argument("--full", action="store_true", help="the report's --full grid")
    p.add_argument("--no-attention", action="store_true", help="skip the attention rows")
    p.add_argument("--no-stack", action="store_true", help="skip the residual-stack training rows")
    p.add_argument("--seconds", type=float, default=0.4, help="time per timed batch")
    p.add_argument("--batches", type=int, default=5, help="timed batches per row (the median is kept)")
    p.add_argument("--default-malloc", action="store_true",
                   help="keep glibc's default malloc (fresh pages for large tensors on every call)")
    return p.parse_args()


def blas_thread_setter(blas_path):
    """torch.set_num_threads does not reach the system OpenBLAS, which starts one thread per core: set
    its count through the library torch loaded (dlopen of the same path returns the same handle)."""
    import ctypes
    try:
        lib = ctypes.CDLL(blas_path)
        setter = lib.openblas_set_num_threads
        getter = lib.openblas_get_num_threads
    except (OSError, AttributeError):
        return lambda t: None

    def set_threads(t):
        setter(ctypes.c_int(t))
        if getter() != t:
            raise SystemExit(f"OpenBLAS runs {getter()} threads after asking for {t}")

    return set_threads


# Eager attention allocates its [B, Hq, T, S] scores, scaled scores and probabilities afresh on every call:
# 32 MiB each at the shape. glibc serves blocks that large with mmap and unmaps them on free, so
# each forward page-faulted all three: 24,579 minor faults and 87 ms per call, measured here, against 0
# faults and 39-49 ms with the pages kept (runs of this script gave 84-91 ms, one 37.6 ms). With mmap and
# trimming off, every call reuses the same heap pages: the peer at its best, and the same in every run.
PEER_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}

SYSTEM_BLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"


def openblas_core(path):
    """openblas_get_corename() of the library at path, or None when it is not OpenBLAS."""
    import ctypes
    try:
        fn = ctypes.CDLL(path).openblas_get_corename
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode().strip()


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def better_core(core, flags):
    """The core to force when `core` leaves the CPU's vector units idle (the policy of the report's
    OpenBlasPeer.betterCore): Cooperlake or SkylakeX on AVX-512, Haswell on AVX2; else None."""
    c = (core or "").lower()
    if "avx512f" in flags:
        if c in ("skylakex", "cooperlake", "sapphirerapids"):
            return None
        return "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return None if c in ("haswell", "zen", "skylakex", "cooperlake", "sapphirerapids") else "Haswell"
    return None


def main():
    args = parse_args()
    env = {} if args.default_malloc else dict(PEER_MALLOC)
    blas = os.path.realpath(SYSTEM_BLAS)
    if "OPENBLAS_CORETYPE" not in os.environ:
        core = openblas_core(blas)
        forced = better_core(core, cpu_flags()) if core else None
        if forced:
            print(f"pytorch_bench: {blas} chose its {core} core on a CPU with "
                  f"{'AVX-512' if 'avx512f' in cpu_flags() else 'AVX2'}: running with OPENBLAS_CORETYPE={forced}",
                  flush=True)
            env.update({"OPENBLAS_CORETYPE": forced, "LANES_CORETYPE_BY_SCRIPT": forced})
    if any(os.environ.get(k) != v for k, v in env.items()):
        # glibc reads the malloc variables and OpenBLAS its core once, when the process starts
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **env})
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f"pytorch_bench: PyTorch or NumPy is not importable ({e}).")
        print("Install Debian's packages and run this script with Debian's interpreter:")
        print("  apt-get install python3-torch python3-numpy libopenblas0-pthread")
        print(f"  /usr/bin/python3 {os.path.relpath(__file__)}")
        return 0

    if args.full:
        args.sizes = "256,512,1024,2048"
        args.shapes = args.shapes or "512x512x64:NT,512x64x512,2048x64x64,64x2048x64"
        args.memory = "512x512,2048x2048,4096x4096"
    here = os.path.dirname(os.path.abspath(__file__))
    out = args.out or os.path.join(here, "results", "pytorch.json")

    if not any(name in blas for name in ("openblas", "blis", "mkl")):
        # the netlib reference BLAS: ~3 GFLOP/s, rows that would say nothing about PyTorch
        print(f"pytorch_bench: torch's BLAS is {blas}, the reference implementation; no rows written.")
        print("Give PyTorch its best configuration and run again:")
        print("  apt-get install libopenblas0-pthread")
        return 0
    blas_core = openblas_core(blas)

    set_blas_threads = blas_thread_setter(blas)

    torch.manual_seed(0x1A4E5)
    rows = []
    threads = [int(t) for t in args.threads.split(",") if t]
    shapes = []
    for s in [x for x in args.sizes.split(",") if x] + [x for x in args.shapes.split(",") if x]:
        dims, _, trans = s.partition(":")
        trans = (trans or "NN").upper()
        d = [int(v) for v in dims.split("x")]
        m, n, k = (d[0], d[0], d[0]) if len(d) == 1 else d
        shapes.append((m, n, k, trans))

    def timed(fn):
        """Median microseconds per call over timed batches, after a warm-up of about one batch."""
        fn()
        t0 = time.perf_counter()
        calls = 0
        while time.perf_counter() - t0 < args.seconds:
            fn()
            calls += 1
        per_batch = max(1, calls)
        samples = []
        for _ in range(args.batches):
            t0 = time.perf_counter()
            for _ in range(per_batch):
                fn()
            samples.append((time.perf_counter() - t0) / per_batch * 1e6)
        med = statistics.median(samples)
        spread = (max(samples) - min(samples)) / 2 if len(samples) > 1 else float("nan")
        return med, spread

    def row(bench, params, us, err, gflops=None, gbps=None, message=None):
        r = {"benchmark": bench, "impl": impl_name, "params": params, "source": "python", "status": "ok",
             "score": us, "scoreError": err, "unit": "us/op", "gflops": gflops, "gbps": gbps}
        if message:
            r["message"] = message
        rows.append(r)
        rate = f"{gflops:.1f} GFLOP/s" if gflops else f"{gbps:.1f} GB/s" if gbps else ""
        print(f"  {bench:17s} {json.dumps(params):60s} {us:12.1f} us/op  {rate}", flush=True)

    # "pytorch1.13": apart from the report's own libtorch 2.x rows, named "pytorch"
    impl_name = "pytorch" + ".".join(torch.__version__.split(".")[:2])
    print(f"PyTorch {torch.__version__} (BLAS {blas}, core {blas_core}) on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; writing {out}", flush=True)

    for (m, n, k, trans) in shapes:
        a = torch.rand(m, k) * 2 - 1 if trans[0] == "N" else torch.rand(k, m) * 2 - 1
        b = torch.rand(k, n) * 2 - 1 if trans[1] == "N" else torch.rand(n, k) * 2 - 1
        opa = a if trans[0] == "N" else a.t()
        opb = b if trans[1] == "N" else b.t()
        c = torch.empty(m, n)
        ref = opa.double().numpy() @ opb.double().numpy()
        for t in threads:
            torch.set_num_threads(t)
            set_blas_threads(t)
            torch.matmul(opa, opb, out=c)
            bound = 2 * k * 2.0 ** -24 * (np.abs(opa.double().numpy()) @ np.abs(opb.double().numpy())) * 1.01
            if not np.all(np.abs(c.double().numpy() - ref) <= bound + 1e-30):
                raise SystemExit(f"torch.matmul disagrees with the float64 reference on {m}x{n}x{k} {trans}")
            us, err = timed(lambda: torch.matmul(opa, opb, out=c))
            row("GemmBench", {"m": m, "n": n, "k": k, "trans": trans, "threads": t}, us, err,
                gflops=2.0 * m * n * k / (us * 1e3))

    torch.set_num_threads(1)
    set_blas_threads(1)
    for spec in [x for x in args.memory.split(",") if x]:
        r_, c_ = (int(v) for v in spec.split("x"))
        x = (torch.rand(r_, c_) * 2 - 1) * 4
        y = torch.softmax(x, dim=-1)
        xd = x.double().numpy()
        e = np.exp(xd - xd.max(axis=1, keepdims=True))
        ref = e / e.sum(axis=1, keepdims=True)
        if not np.allclose(y.double().numpy(), ref, rtol=1e-4, atol=1e-30):
            raise SystemExit(f"torch.softmax disagrees with the float64 reference on {r_}x{c_}")
        us, err = timed(lambda: torch.softmax(x, dim=-1))
        row("SoftmaxBench", {"rows": r_, "cols": c_}, us, err, gbps=2.0 * r_ * c_ * 4 / (us * 1e3),
            message="torch.softmax allocates its output")

        f = torch.rand(r_, c_) * 2 - 1
        bias = torch.rand(c_) * 2 - 1
        tmp = torch.empty(r_, c_)
        out_y = torch.empty(r_, c_)

        def residual():
            torch.add(f, bias, out=tmp)
            torch.add(x, tmp, alpha=0.5, out=out_y)

        us, err = timed(residual)
        row("ResidualAddBench", {"rows": r_, "cols": c_}, us, err, gbps=(3.0 * r_ * c_ + c_) * 4 / (us * 1e3),
            message="two out= adds: f + bias, then x + 0.5 * tmp")

    if not args.no_attention:
        # The attention issue's shape: MQA, B=4, Hq=8, Hkv=1, T=S=512, D=64, eager composition, K/V expanded.
        B, Hq, Hkv, T, S, D = 4, 8, 1, 512, 512, 64
        for t in [1]:
            torch.set_num_threads(t)
            set_blas_threads(t)
            q = torch.randn(B, Hq, T, D, requires_grad=True)
            kk = torch.randn(B, Hkv, S, D, requires_grad=True)
            v = torch.randn(B, Hkv, S, D, requires_grad=True)
            scale = D ** -0.5

            def forward():
                ke = kk.expand(B, Hq, S, D)
                ve = v.expand(B, Hq, S, D)
                p = torch.softmax(torch.matmul(q, ke.transpose(-1, -2)) * scale, dim=-1)
                return torch.matmul(p, ve)

            def forward_backward():
                o = forward()
                o.backward(torch.ones_like(o))

            flops_fwd = 4.0 * B * Hq * T * S * D
            with torch.no_grad():
                us, err = timed(forward)
            # the keys and values of AttentionBench's JMH parameters, so the report puts the rows side by side
            params = {"B": B, "Hq": Hq, "Hkv": Hkv, "T": T, "D": D, "causal": "NONE", "pass": "fwd", "threads": t}
            row("AttentionBench", params, us, err, gflops=flops_fwd / (us * 1e3), message="eager matmul+softmax+matmul")
            us, err = timed(forward_backward)
            params = dict(params, **{"pass": "fwdbwd"})
            row("AttentionBench", params, us, err, gflops=3.5 * flops_fwd / (us * 1e3),
                message="eager; GFLOP/s counts 3.5x the forward FLOPs")

    if not args.no_stack:
        # The residual-stack issue's shape, the architecture of dev.lanes.core.nn.Gpt: L=4 pre-norm blocks,
        # C=512, Hq=8, Hkv=1 (MQA, K/V expanded), D=64, MLP 4C with tanh GELU, B=4, T=256, causal, tied head.
        L, C, Hq, Hkv, B, T, V = 4, 512, 8, 1, 4, 256, 256
        D, F = C // Hq, 4 * C
        nn = torch.nn
        F_ = torch.nn.functional

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
                self.qkv = nn.Linear(C, (Hq + 2 * Hkv) * D)
                self.wo = nn.Linear(Hq * D, C)
                self.w1, self.w2 = nn.Linear(C, F), nn.Linear(F, C)

            def forward(self, x, mask):
                h = self.qkv(self.ln1(x))
                q, k, v = h.split([Hq * D, Hkv * D, Hkv * D], dim=-1)
                q = q.view(B, T, Hq, D).transpose(1, 2)
                k = k.view(B, T, Hkv, D).transpose(1, 2).expand(B, Hq, T, D)
                v = v.view(B, T, Hkv, D).transpose(1, 2).expand(B, Hq, T, D)
                s = torch.matmul(q, k.transpose(-1, -2)) * D ** -0.5
                p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
                o = torch.matmul(p, v).transpose(1, 2).reshape(B, T, Hq * D)
                x = x + self.wo(o)
                return x + self.w2(F_.gelu(self.w1(self.ln2(x)), approximate="tanh"))

        class Stack(nn.Module):
            def __init__(self):
                super().__init__()
                self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
                self.blocks = nn.ModuleList([Block() for _ in range(L)])
                self.lnf = nn.LayerNorm(C)
                for prm in self.parameters():
                    if prm.dim() == 2:
                        nn.init.normal_(prm, std=0.02)

            def forward(self, idx, targets, mask):
                x = self.wte(idx) + self.wpe(torch.arange(T))
                for blk in self.blocks:
                    x = blk(x, mask)
                logits = self.lnf(x) @ self.wte.weight.t()
                return F_.cross_entropy(logits.view(-1, V), targets.view(-1))

        model = Stack()
        idx = torch.randint(0, V, (B, T))
        tgt = torch.randint(0, V, (B, T))
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
        loss0 = model(idx, tgt, mask).item()
        if abs(loss0 - math.log(V)) > 0.5:
            raise SystemExit(f"stack: initial loss {loss0} is far from ln(V) = {math.log(V)}")
        n_params = sum(p.numel() for p in model.parameters()) - T * C
        flops = 6.0 * n_params * B * T + L * 4.0 * B * Hq * T * T * D * 0.5 * 3.5

        def fwdbwd():
            model.zero_grad(set_to_none=False)
            model(idx, tgt, mask).backward()

        def step():
            fwdbwd()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        for t in threads:
            torch.set_num_threads(t)
            set_blas_threads(t)
            for name, fn in (("fwdbwd", fwdbwd), ("step", step)):
                us, err = timed(fn)
                params = {"L": L, "C": C, "Hq": Hq, "Hkv": Hkv, "B": B, "T": T, "V": V, "pass": name, "threads": t}
                row("StackTrainBench", params, us, err, gflops=flops / (us * 1e3),
                    message="eager modules, K/V expanded; GFLOP/s counts 6 per parameter per token + attention")

    doc = {
        "schema": "lanes-bench-report/1",
        "source": "python",
        "machine": {
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "torchParallel": torch.__config__.parallel_info().splitlines()[0:3],
            "blas": blas,
            "blasCore": blas_core,
            "openblasCoretype": os.environ.get("LANES_CORETYPE_BY_SCRIPT"),
            "malloc": "glibc default" if args.default_malloc else " ".join(f"{k}={v}" for k, v in PEER_MALLOC.items()),
        },
        "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=2)
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
