"""Compares logits files: python3 check_logits.py ref.npy other.npy --atol 1e-4"""
import argparse
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("other")
    p.add_argument("--atol", type=float, required=True)
    a = p.parse_args()
    ref, other = np.load(a.ref), np.load(a.other)
    if ref.shape != other.shape:
        sys.exit(f"shape {other.shape} != reference {ref.shape}")
    diff = float(np.abs(ref.astype(np.float64) - other.astype(np.float64)).max())
    if not diff <= a.atol:
        sys.exit(f"max abs diff {diff:.3g} exceeds {a.atol:g}")
    print(f"max abs diff {diff:.3g} <= {a.atol:g}")


if __name__ == "__main__":
    main()
