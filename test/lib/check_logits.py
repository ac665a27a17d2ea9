"""Compares logits files: python3 check_logits.py ref.npy other.npy --atol 1e-4 [--rel R]

Passes when max |ref - other| <= atol + R * max |ref|: --rel scales the
tolerance to the logits' magnitude for 16-bit and TF32 runs."""
import argparse
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("other")
    p.add_argument("--atol", type=float, required=True)
    p.add_argument("--rel", type=float, default=0.0)
    p.add_argument("--label", default="")
    a = p.parse_args()
    ref, other = np.load(a.ref), np.load(a.other)
    if ref.shape != other.shape:
        sys.exit(f"shape {other.shape} != reference {ref.shape}")
    diff = float(np.abs(ref.astype(np.float64) - other.astype(np.float64)).max())
    tol = a.atol + a.rel * float(np.abs(ref).max())
    agree = float((ref.argmax(-1) == other.argmax(-1)).mean())
    label = f"{a.label}: " if a.label else ""
    if not diff <= tol:
        sys.exit(f"{label}max abs diff {diff:.3g} exceeds {tol:.3g} (argmax agreement {agree:.1%})")
    print(f"{label}max abs diff {diff:.3g} <= {tol:.3g}, argmax agreement {agree:.1%}")


if __name__ == "__main__":
    main()
