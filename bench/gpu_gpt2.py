"""GPU forward benchmark: GPT-2 124M shapes (random weights), batch 8 x seq
1024, rose's CUDA backend vs PyTorch eager with SDPA attention, in the same
run on the same GPU. Runs on the GPU machine (no MLIR there): the programs
come from scripts/gpu-prepare.sh, the weights are made here.

    python3 bench/gpu_gpt2.py --build build-gpu --bundle gpu-bundle

rose's time is `rose-run --repeat N`'s mean per run (a CUDA graph replayed
where the communicator allows), PyTorch's the mean of N timed forwards after
warm-up, both measured with CUDA events around the forward only. tp=2 runs
both ranks on the one GPU (--comm shared), to show the cost of sharding when
it cannot buy parallelism. Prints a markdown table for docs/benchmarks.md.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gpt2ref  # noqa: E402


def torch_ms(model, ids, repeats):
    with torch.no_grad():
        for _ in range(3):
            model(ids)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        for _ in range(repeats):
            model(ids)
        stop.record()
        torch.cuda.synchronize()
    return start.elapsed_time(stop) / repeats


def rose_ms(run, program, weights, tokens, dtype, repeats, extra=()):
    r = subprocess.run([run, program, "--backend", "cuda", "--dtype", dtype, "--weights", weights,
                        "--tokens", tokens, "--repeat", str(repeats), *extra],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"rose-run failed: {r.stderr.strip()}")
    m = re.search(r"repeat: \d+ runs, ([0-9.]+) ms per run( \(CUDA graph\))?", r.stdout)
    return float(m.group(1)), bool(m.group(2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build-gpu")
    p.add_argument("--bundle", default="gpu-bundle")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    run = os.path.join(a.build, "bin", "rose-run")
    mdir = os.path.join(a.bundle, "models", "gpt2-124m")
    hf = os.path.join(mdir, "hf")
    cfg = gpt2ref.make_config("gpt2-124m")
    model = gpt2ref.make_model(cfg, seed=0)
    if not os.path.exists(os.path.join(hf, "model.safetensors")):
        gpt2ref.save_hf(model, cfg, hf)
    weights = os.path.join(hf, "model.safetensors")
    ids = torch.randint(0, cfg["vocab_size"], (a.batch, a.seq), generator=torch.Generator().manual_seed(0))
    tokens = os.path.join(mdir, "bench-tokens.npy")
    np.save(tokens, ids.numpy())

    gpt2ref.USE_SDPA = True
    model = model.cuda().eval()
    ids_gpu = ids.cuda()
    rows = []
    for dtype in ["fp32", "bf16"]:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        m = model if dtype == "fp32" else model.to(torch.bfloat16)
        t = torch_ms(m, ids_gpu, a.repeats)
        r1, graph1 = rose_ms(run, os.path.join(mdir, "tp1.rose"), weights, tokens, dtype, a.repeats)
        r2, _ = rose_ms(run, os.path.join(mdir, "tp2.rose"), weights, tokens, dtype, a.repeats,
                        ("--comm", "shared"))
        rows.append((dtype, r1, graph1, r2, t))
        model = model.float()

    name = torch.cuda.get_device_name()
    print(f"{name}, {datetime.date.today()}, PyTorch {torch.__version__} eager (SDPA), "
          f"batch {a.batch} x seq {a.seq}, mean of {a.repeats}")
    print("| dtype | rose tp=1 ms | PyTorch ms | PyTorch / rose | rose tp=2 on one GPU ms | tp=2 / tp=1 |")
    print("|---|---|---|---|---|---|")
    for dtype, r1, graph1, r2, t in rows:
        note = " (graph)" if graph1 else ""
        print(f"| {dtype} (no TF32) | {r1:.2f}{note} | {t:.2f} | {t / r1:.2f} | {r2:.2f} | {r2 / r1:.2f} |"
              if dtype == "fp32" else
              f"| {dtype} | {r1:.2f}{note} | {t:.2f} | {t / r1:.2f} | {r2:.2f} | {r2 / r1:.2f} |")


if __name__ == "__main__":
    main()
