"""Greedy continuation without a KV cache: the reference for rose-run
--generate. Every step recomputes the whole sequence (prompt + tokens so
far) with the model's own forward pass, so a cache, position-offset or
masking bug in rose cannot be mirrored here."""
import numpy as np


def greedy(forward, prompts, steps):
    """forward: int64 [batch, seq] -> float [batch, seq, vocab].
    Returns the [batch, steps] continuation and the smallest gap between the
    best and the second-best logit over all choices (how far from a tie)."""
    ids = np.asarray(prompts, dtype=np.int64)
    out, margin = [], float("inf")
    for _ in range(steps):
        last = np.asarray(forward(ids))[:, -1, :]
        top2 = np.sort(last, axis=-1)[:, -2:]
        margin = min(margin, float((top2[:, 1] - top2[:, 0]).min()))
        nxt = last.argmax(axis=-1).astype(np.int64)
        out.append(nxt)
        ids = np.concatenate([ids, nxt[:, None]], axis=1)
    return np.stack(out, axis=1), margin


def save(path, tokens, margin):
    np.save(path, tokens.astype(np.int64))
    print(f"greedy reference: {tokens.shape[1]} tokens per sequence, "
          f"smallest top-2 logit gap {margin:.3g}")
