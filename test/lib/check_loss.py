"""check_loss.py TRAINING_JSON ROSE_OUTPUT [--rel R]: the mean next-token
cross entropy rose-run --loss printed equals the held-out loss that
scripts/train-demo-model.py measured in PyTorch (training.json), within a
relative tolerance (default 1e-4: both are float32 forwards of the same
bfloat16 weights, differing only in summation order)."""
import argparse
import json
import re
import sys

ap = argparse.ArgumentParser()
ap.add_argument("training")
ap.add_argument("output")
ap.add_argument("--rel", type=float, default=1e-4)
a = ap.parse_args()
want = json.load(open(a.training))["heldout_loss"]
m = re.search(r"mean next-token cross entropy: ([0-9.eE+-]+)", open(a.output).read())
if not m:
    sys.exit(f"{a.output}: no 'mean next-token cross entropy' line")
got = float(m.group(1))
if abs(got - want) > a.rel * abs(want):
    sys.exit(f"held-out loss {got:.6f} differs from training's {want:.6f} "
             f"by more than {a.rel:g} relative")
print(f"held-out loss {got:.6f}, training reported {want:.6f}")
