"""CPU forward benchmark: GPT-2 124M shapes with random weights, rose vs
PyTorch in the same run, batch 1 x seq {64, 256}.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= /usr/bin/python3 bench/cpu_gpt2.py --build build [--threads 2]

Prints a markdown table of median times over --repeats runs and the ratio.
rose's time is its own `run` figure (weights already loaded, as PyTorch's
model is); both use the same number of threads.
"""
import argparse
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


def blas_of_torch():
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=(\w+)", cfg)
    lib = "unknown"
    try:
        maps = open(f"/proc/{os.getpid()}/maps").read()
        for name in ("openblas", "mkl", "blis", "libblas"):
            if name in maps:
                lib = name
                break
    except OSError:
        pass
    return f"{m.group(1) if m else '?'} (loaded: {lib})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seqs", default="64,256")
    p.add_argument("--tp", default="1,2")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    bin_dir = os.path.join(a.build, "bin")

    cfg = gpt2ref.make_config("gpt2-124m")
    model = gpt2ref.make_model(cfg, seed=0)
    with tempfile.TemporaryDirectory() as work:
        gpt2ref.save_hf(model, cfg, os.path.join(work, "hf"))
        programs = {}
        for tp in [int(t) for t in a.tp.split(",")]:
            out = os.path.join(work, f"tp{tp}.rose")
            subprocess.run([os.path.join(bin_dir, "rose-compile"), os.path.join(work, "hf"),
                            "--tp", str(tp), "--no-dense", "-o", out], check=True,
                           stdout=subprocess.DEVNULL)
            programs[tp] = out
        rows = []
        for seq in [int(s) for s in a.seqs.split(",")]:
            ids = torch.randint(0, cfg["vocab_size"], (1, seq))
            np.save(os.path.join(work, "t.npy"), ids.numpy())
            torch_times = []
            with torch.no_grad():
                model(ids)  # warm up
                for _ in range(a.repeats):
                    t0 = time.perf_counter()
                    ref = model(ids)
                    torch_times.append((time.perf_counter() - t0) * 1e3)
            torch_ms = statistics.median(torch_times)
            for tp, program in programs.items():
                rose_times = []
                for _ in range(a.repeats + 1):
                    r = subprocess.run([os.path.join(bin_dir, "rose-run"), program, "--tokens",
                                        os.path.join(work, "t.npy"), "--threads", str(a.threads),
                                        "--out", os.path.join(work, "l.npy")],
                                       check=True, capture_output=True, text=True)
                    rose_times.append(float(re.search(r"run ([0-9.]+) ms", r.stdout).group(1)))
                rose_ms = statistics.median(rose_times[1:])
                diff = float(np.abs(np.load(os.path.join(work, "l.npy")) - ref.numpy()).max())
                rows.append((seq, tp, rose_ms, torch_ms, diff))
    print(f"threads={a.threads}, PyTorch {torch.__version__} BLAS {blas_of_torch()}, rose: OpenBLAS sgemm")
    print("| batch x seq | rose tp | rose ms | PyTorch ms | PyTorch / rose | max abs diff |")
    print("|---|---|---|---|---|---|")
    for seq, tp, r, t, d in rows:
        print(f"| 1 x {seq} | {tp} | {r:.1f} | {t:.1f} | {t / r:.2f} | {d:.1e} |")


if __name__ == "__main__":
    main()
