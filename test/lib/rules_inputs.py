"""Random weights and inputs for test/Inputs/sharding-rules.mlir.

    python3 rules_inputs.py --seed 1 --weights w.safetensors --ids ids.npy --x x.npy
"""
import argparse

import numpy as np

import gpt2ref

SHAPES = {"wte": (7, 8), "lw": (8,), "lb": (8,), "wqkv": (8, 24), "bqkv": (24,),
          "wo": (8, 8), "bo": (8,), "wf": (8, 12), "wp": (12, 8), "rw": (8,),
          "wq": (8, 8), "wk": (8, 4), "wv": (8, 4), "wo2": (8, 8)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--weights", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--x", required=True)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    gpt2ref.write_safetensors(a.weights, {
        name: rng.standard_normal(shape).astype(np.float32) for name, shape in SHAPES.items()})
    np.save(a.ids, rng.integers(0, 7, size=(2, 5)).astype(np.int64))
    np.save(a.x, rng.standard_normal((2, 5, 8)).astype(np.float32))


if __name__ == "__main__":
    main()
