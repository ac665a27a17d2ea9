"""greedy_forward.py ROSE_RUN PROGRAM PROMPT_IDS STEPS OUT.npy: greedy
continuation by the program's forward entry, recomputing the whole sequence
every step (rose-run --out, no KV cache): the reference for models only rose
can run (hand-written IR), whose forward entry the NumPy interpreter checks
elsewhere."""
import os
import subprocess
import sys
import tempfile

import numpy as np

rose_run, program, prompt, steps, out = sys.argv[1:6]
ids = [int(t) for t in prompt.split(",")]
with tempfile.TemporaryDirectory() as d:
    tokens, logits = os.path.join(d, "t.npy"), os.path.join(d, "l.npy")
    generated = []
    for _ in range(int(steps)):
        np.save(tokens, np.array([ids], dtype=np.int64))
        subprocess.run([rose_run, program, "--tokens", tokens, "--out", logits, "--quiet"],
                       check=True)
        nxt = int(np.load(logits)[0, -1].argmax())
        generated.append(nxt)
        ids.append(nxt)
np.save(out, np.array([generated], dtype=np.int64))
print(f"greedy by the forward entry: {len(generated)} tokens")
