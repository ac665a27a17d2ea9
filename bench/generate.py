"""Decode speed: rose-run --generate against a PyTorch KV-cache loop on the
same GPT-2 and the same prompts, in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/generate.py --build build

GPT-2 124M shapes with random weights (test/lib/gpt2ref.py), a 128-token
prompt, 128 new tokens (--ignore-eos), greedy, 2 threads. rose compiles the
Hugging Face directory (tp=1 and tp=2 on the same cores) and reports its
decode tokens/s; the PyTorch loop is what a user writes without a serving
stack: the prompt through the model once, then one token at a time with
each layer's past keys and values concatenated (torch.cat) per step, float32,
torch.set_num_threads(threads). Decode time is from the first generated
token to the last (prefill excluded), for both. Both must generate the same
tokens (greedy on the same weights), or the run fails.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gpt2ref  # noqa: E402


def torch_generate(model, prompts, steps):
    """Greedy with a KV cache: past k, v per layer concatenated each step."""
    cfg = model.cfg
    heads, d = cfg["n_head"], cfg["n_embd"]
    hd = d // heads
    past = [None] * cfg["n_layer"]

    def step(ids, start):
        b, s = ids.shape
        x = model.wte(ids) + model.wpe(torch.arange(start, start + s))
        for i, block in enumerate(model.h):
            h = block.ln_1(x)
            q, k, v = block.attn.c_attn(h).split(d, dim=2)
            q = q.view(b, s, heads, hd).transpose(1, 2)
            k = k.view(b, s, heads, hd).transpose(1, 2)
            v = v.view(b, s, heads, hd).transpose(1, 2)
            if past[i] is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            past[i] = (k, v)
            att = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(hd)
            if s > 1:
                mask = torch.ones(s, k.shape[2], dtype=torch.bool).triu(k.shape[2] - s + 1)
                att = att.masked_fill(mask, float("-inf"))
            y = torch.matmul(torch.softmax(att, dim=-1), v)
            x = x + block.attn.c_proj(y.transpose(1, 2).contiguous().view(b, s, d))
            x = x + block.mlp(block.ln_2(x))
        x = model.ln_f(x[:, -1:, :])
        return torch.matmul(x, model.wte.weight.t())[:, -1, :]

    out = []
    with torch.no_grad():
        t0 = time.perf_counter()
        nxt = step(torch.from_numpy(prompts), 0).argmax(-1)
        prefill = time.perf_counter() - t0
        out.append(nxt)
        t1 = time.perf_counter()
        for i in range(steps - 1):
            nxt = step(nxt[:, None], prompts.shape[1] + i).argmax(-1)
            out.append(nxt)
        decode = time.perf_counter() - t1
    return np.stack([o.numpy() for o in out], axis=1), prefill, decode


def rose_generate(build, program, prompts_path, steps, threads, out):
    r = subprocess.run([os.path.join(build, "bin", "rose-run"), program, "--tokens", prompts_path,
                        "--generate", str(steps), "--ignore-eos", "--threads", str(threads),
                        "--out-tokens", out], capture_output=True, text=True, check=True)
    m = re.search(r"prefill \d+ tokens in ([0-9.]+) ms; decode (\d+) steps in ([0-9.]+) ms", r.stdout)
    return np.load(out), float(m.group(1)) / 1e3, float(m.group(3)) / 1e3, int(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tp", default="1,2")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "rose-bench-generate"))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    torch.set_num_threads(a.threads)
    cfg = gpt2ref.make_config("gpt2-124m")
    model = gpt2ref.make_model(cfg, 1).eval()
    hf = os.path.join(a.dir, "gpt2-124m")
    if not os.path.exists(os.path.join(hf, "config.json")):
        gpt2ref.save_hf(model, cfg, hf)
    programs = {}
    for tp in [int(t) for t in a.tp.split(",")]:
        programs[tp] = os.path.join(a.dir, f"tp{tp}.rose")
        subprocess.run([os.path.join(a.build, "bin", "rose-compile"), hf, "--tp", str(tp),
                        "--no-dense", "-o", programs[tp]], check=True, capture_output=True)
    print(f"GPT-2 124M, prompt {a.prompt}, {a.steps} new tokens, greedy, {a.threads} threads")
    print("| batch | contender | prefill ms | decode tokens/s per sequence | decode tokens/s overall |")
    print("|---|---|---|---|---|")
    for batch in [int(b) for b in a.batches.split(",")]:
        rng = np.random.default_rng(batch)
        prompts = rng.integers(0, cfg["vocab_size"], (batch, a.prompt)).astype(np.int64)
        path = os.path.join(a.dir, f"prompts{batch}.npy")
        np.save(path, prompts)
        want, prefill, decode = torch_generate(model, prompts, a.steps)
        rate = (a.steps - 1) / decode
        print(f"| {batch} | PyTorch {torch.__version__} KV-cache loop | {prefill * 1e3:.0f} | "
              f"{rate:.1f} | {rate * batch:.1f} |")
        for tp, program in programs.items():
            got, prefill, decode, n = rose_generate(a.build, program, path, a.steps, a.threads,
                                                    os.path.join(a.dir, "out.npy"))
            agree = int((got == want).all(axis=1).sum())
            r = n / decode
            print(f"| {batch} | rose tp={tp} | {prefill * 1e3:.0f} | {r:.1f} | {r * batch:.1f} |"
                  + ("" if agree == batch else f" ({batch - agree} sequences differ from PyTorch)"))
            if agree != batch:
                # float32 rounding may flip a near-tie after many steps; the
                # first token must agree.
                if not (got[:, 0] == want[:, 0]).all():
                    sys.exit("rose and PyTorch disagree on the first token")


if __name__ == "__main__":
    main()
