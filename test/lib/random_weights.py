"""Random float32 weights for every rose.param of an .mlir file.

    python3 random_weights.py model.mlir --out w.safetensors [--seed 1] [--std 0.5]
"""
import argparse
import re

import numpy as np

import gpt2ref

PARAM = re.compile(r'rose\.param "([^"]+)"[^:]*: tensor<([0-9x]+)xf32>')


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--std", type=float, default=0.5)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    tensors = {}
    for name, dims in PARAM.findall(open(a.model).read()):
        if name not in tensors:
            shape = [int(d) for d in dims.split("x")]
            tensors[name] = (rng.standard_normal(shape) * a.std).astype(np.float32)
    gpt2ref.write_safetensors(a.out, tensors)


if __name__ == "__main__":
    main()
