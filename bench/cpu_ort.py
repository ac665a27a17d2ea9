"""CPU forward: rose against ONNX Runtime and PyTorch on the same model and
tokens, in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/cpu_ort.py --build build

GPT-2 124M shapes with random weights (test/lib/gpt2ref.py), or with --model
llama a Llama of about 125M parameters (d 768, 12 layers, 12 heads / 4 kv
heads, ff 2048, vocab 32000; test/lib/llamaref.py's weights, exported from
test/lib/llamastyles.py's Hugging Face-style forward): rose runs the
Hugging Face directory compiled by rose-compile, ONNX Runtime 1.30 (npm
onnxruntime-node, installed on first use into --ort-dir) runs the model's
torch.onnx export (opset 17), PyTorch runs the model itself; all with the
same thread count. Each round runs each contender --repeats times after a
warm-up, contenders alternating, for --rounds rounds; the table gives the min
and median over all runs (rose: the median of each round's median) and the
ratios of the medians. The
logits of all three must agree (max abs diff printed; above 1e-3 x max(1,
max |logit|) fails).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gpt2ref  # noqa: E402
import llamaref  # noqa: E402
import llamastyles  # noqa: E402

ORT_VERSION = "1.30.0"


def ensure_ort(directory):
    if not os.path.isdir(os.path.join(directory, "node_modules", "onnxruntime-node")):
        os.makedirs(directory, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--ignore-scripts",
                        f"onnxruntime-node@{ORT_VERSION}"], cwd=directory, check=True)
    return os.path.join(directory, "node_modules")


def run_rose(rose_run, program, tokens, threads, repeats, out):
    r = subprocess.run([rose_run, program, "--tokens", tokens, "--threads", str(threads),
                        "--repeat", str(repeats), "--out", out],
                       check=True, capture_output=True, text=True)
    # rose-run prints the median and min of its repeats (after its checked run).
    m = re.search(r"repeat: \d+ runs, median ([0-9.e+-]+) ms, min ([0-9.e+-]+) ms", r.stdout)
    return float(m.group(1)), float(m.group(2))


def run_ort(node_modules, model, tokens_bin, batch, seq, threads, repeats, out):
    env = dict(os.environ, NODE_PATH=node_modules)
    r = subprocess.run(["node", os.path.join(HERE, "ort_run.js"), model, tokens_bin,
                        str(batch), str(seq), str(threads), str(repeats), out],
                       check=True, capture_output=True, text=True, env=env)
    return json.loads(r.stdout)["ms"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--shapes", default="1x256,1x64,4x256")
    p.add_argument("--tp", default="1")
    p.add_argument("--model", choices=["gpt2", "llama"], default="gpt2")
    p.add_argument("--config", default=None,
                   help="gpt2ref config (default gpt2-124m) or llamaref config (bench-125m)")
    p.add_argument("--ort-dir", default=os.path.expanduser("~/.cache/rose-bench-ort"))
    p.add_argument("--no-torch", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    bin_dir = os.path.join(a.build, "bin")
    node_modules = ensure_ort(a.ort_dir)

    rows = []
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, "model.onnx")
        if a.model == "gpt2":
            cfg = gpt2ref.make_config(a.config or "gpt2-124m")
            model = gpt2ref.make_model(cfg, seed=0)
            gpt2ref.save_hf(model, cfg, os.path.join(work, "hf"))
            gpt2ref.export_onnx(model, cfg, onnx_path)
        else:
            cfg = llamaref.config_dict(a.config or "bench-125m")
            stored = {k: v.float() for k, v in llamaref.weights(cfg, 0).items()}
            llamaref.write_checkpoint(cfg, stored, os.path.join(work, "hf"))
            model = llamastyles.make_model(cfg, 0)
            llamastyles.export(model, onnx_path)
        programs = {}
        for tp in [int(t) for t in a.tp.split(",")]:
            out = os.path.join(work, f"tp{tp}.rose")
            subprocess.run([os.path.join(bin_dir, "rose-compile"), os.path.join(work, "hf"),
                            "--tp", str(tp), "--no-dense", "-o", out], check=True,
                           stdout=subprocess.DEVNULL)
            programs[tp] = out
        for shape in a.shapes.split(","):
            batch, seq = (int(x) for x in shape.split("x"))
            ids = torch.randint(0, cfg["vocab_size"], (batch, seq),
                                generator=torch.Generator().manual_seed(seq))
            tokens = os.path.join(work, "t.npy")
            np.save(tokens, ids.numpy())
            tokens_bin = os.path.join(work, "t.bin")
            ids.numpy().astype(np.int64).tofile(tokens_bin)
            times = {"ort": [], "torch": []}
            rose_stats = {tp: [] for tp in programs}
            for _ in range(a.rounds):
                for tp, program in programs.items():
                    rose_stats[tp].append(run_rose(os.path.join(bin_dir, "rose-run"), program,
                                                   tokens, a.threads, a.repeats,
                                                   os.path.join(work, f"rose{tp}.npy")))
                times["ort"] += run_ort(node_modules, onnx_path, tokens_bin, batch, seq,
                                        a.threads, a.repeats, os.path.join(work, "ort.bin"))
                if not a.no_torch:
                    with torch.no_grad():
                        ref = model(ids)
                        for _ in range(a.repeats):
                            t0 = time.perf_counter()
                            ref = model(ids)
                            times["torch"].append((time.perf_counter() - t0) * 1e3)
            with torch.no_grad():
                ref = model(ids).numpy()
            ort_logits = np.fromfile(os.path.join(work, "ort.bin"), dtype=np.float32).reshape(ref.shape)
            ort_med = statistics.median(times["ort"])
            torch_med = statistics.median(times["torch"]) if times["torch"] else float("nan")
            for tp in programs:
                rose_logits = np.load(os.path.join(work, f"rose{tp}.npy"))
                diff = max(float(np.abs(rose_logits - ref).max()),
                           float(np.abs(rose_logits - ort_logits).max()))
                # Per-round medians and mins; the table pools them.
                med = statistics.median(m for m, _ in rose_stats[tp])
                low = min(mn for _, mn in rose_stats[tp])
                rows.append((shape, tp, low, med, min(times["ort"]), ort_med,
                             min(times["torch"]) if times["torch"] else float("nan"),
                             torch_med, diff))
                if diff > 1e-3 * max(1.0, float(np.abs(ref).max())):
                    print(f"logits disagree for {shape} tp={tp}: {diff}", file=sys.stderr)
                    sys.exit(1)
    print(f"threads={a.threads}, {a.rounds} rounds x {a.repeats} runs, ONNX Runtime "
          f"{ORT_VERSION} (onnxruntime-node), PyTorch {torch.__version__}")
    print("| batch x seq | rose tp | rose min/median ms | ORT min/median ms | PyTorch min/median ms "
          "| rose / ORT | rose / PyTorch | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    for shape, tp, rl, rm, ol, om, tl, tm, d in rows:
        print(f"| {shape} | {tp} | {rl:.1f} / {rm:.1f} | {ol:.1f} / {om:.1f} | {tl:.1f} / {tm:.1f} "
              f"| {rm / om:.2f} | {rm / tm:.2f} | {d:.1e} |")


if __name__ == "__main__":
    main()
