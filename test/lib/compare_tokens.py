"""compare_tokens.py WANT.npy GOT.npy: two int64 [batch, n] token arrays
must be equal; prints the first difference otherwise (exit 1)."""
import sys

import numpy as np

want, got = np.load(sys.argv[1]), np.load(sys.argv[2])
if want.shape != got.shape:
    sys.exit(f"shapes differ: {want.shape} vs {got.shape}")
diff = np.argwhere(want != got)
if len(diff):
    b, i = diff[0]
    sys.exit(f"sequence {b} differs first at token {i}: {want[b, i]} vs {got[b, i]} "
             f"({len(diff)} tokens differ)")
print(f"{want.shape[0]} x {want.shape[1]} tokens equal")
