"""Compares logits files.

    python3 check_logits.py ref.npy other.npy --atol A [--rel R]
        [--noise noisy.npy --factor K] [--argmax P] [--topk K]

Passes when max |ref - other| <= atol + R * max |ref| (+ K * max |ref - noisy|
with --noise: a tolerance set from a measured noise level, e.g. PyTorch's own
error at the same precision). --argmax P additionally requires the argmax to
agree at a fraction >= P of positions; --topk K requires the reference's argmax
to be among other's top K everywhere. Prints the measured error, so test logs
record it next to the tolerance."""
import argparse
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("other")
    p.add_argument("--atol", type=float, required=True)
    p.add_argument("--rel", type=float, default=0.0)
    p.add_argument("--noise", help="logits carrying the measured noise to scale the tolerance by")
    p.add_argument("--factor", type=float, default=3.0, help="multiple of the --noise error allowed")
    p.add_argument("--argmax", type=float, help="minimum argmax agreement (fraction)")
    p.add_argument("--topk", type=int, help="ref's argmax must be in other's top K")
    p.add_argument("--label", default="")
    a = p.parse_args()
    ref, other = np.load(a.ref), np.load(a.other)
    if ref.shape != other.shape:
        sys.exit(f"shape {other.shape} != reference {ref.shape}")
    ref64 = ref.astype(np.float64)
    diff = float(np.abs(ref64 - other.astype(np.float64)).max())
    tol = a.atol + a.rel * float(np.abs(ref).max())
    noise_note = ""
    if a.noise:
        noisy = np.load(a.noise)
        if noisy.shape != ref.shape:
            sys.exit(f"noise shape {noisy.shape} != reference {ref.shape}")
        noise = float(np.abs(ref64 - noisy.astype(np.float64)).max())
        tol += a.factor * noise
        noise_note = f" (noise {noise:.3g} x {a.factor:g})"
    agree = float((ref.argmax(-1) == other.argmax(-1)).mean())
    label = f"{a.label}: " if a.label else ""
    problems = []
    if not diff <= tol:
        problems.append(f"max abs diff {diff:.3g} exceeds {tol:.3g}{noise_note}")
    if a.argmax is not None and agree < a.argmax:
        problems.append(f"argmax agreement {agree:.1%} below {a.argmax:.1%}")
    if a.topk:
        top = np.argsort(-other, axis=-1)[..., :a.topk]
        inside = float((top == ref.argmax(-1)[..., None]).any(-1).mean())
        if inside < 1.0:
            problems.append(f"reference argmax outside top-{a.topk} at {1 - inside:.1%} of positions")
    if problems:
        sys.exit(f"{label}" + "; ".join(problems) + f" (max abs diff {diff:.3g}, argmax agreement {agree:.1%})")
    print(f"{label}max abs diff {diff:.3g} <= {tol:.3g}{noise_note}, argmax agreement {agree:.1%}")


if __name__ == "__main__":
    main()
