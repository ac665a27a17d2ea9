"""A NumPy interpreter of rose IR, written from the dialect's documented
semantics, that runs an SPMD function on N simulated TP ranks in lockstep.

It is the test suite's independent check of the importers and the sharding
passes: dense IR, sharded IR and the PyTorch reference must agree. It reads
the custom assembly rose-opt prints.

    python3 rose_interp.py model.mlir --tokens 1,2,3 [--weights file]
    python3 rose_interp.py f.mlir --inputs ids.npy,x.npy --weights w.safetensors
    python3 rose_interp.py f.mlir --function attention --inputs ids.npy,q.npy

With --inputs, the function's arguments are read from .npy files in order
(each rank gets the whole array: arguments are replicated over tp).
"""
import argparse
import json
import math
import re
import struct
import sys

import numpy as np

import gpt2ref

LINE = re.compile(r"^\s*(?P<res>%[\w]+)(?::(?P<n>\d+))? = (?P<op>rose\.\w+) (?P<rest>.*)$")
RET = re.compile(r"^\s*return (?P<vals>[^:]+) :")
ARG = re.compile(r"func\.func @\w+\((?P<args>[^)]*)\)")


def split_top(s):
    """Splits on commas outside <> [] () {}."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "<[({":
            depth += 1
        elif ch in ">])}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def ints(s):
    return [int(x) for x in re.findall(r"-?\d+", s)]


def attr(rest, name, default=None):
    m = re.search(name + r" = ([-\w.+]+)", rest)
    return m.group(1) if m else default


def slice_param(full, dim, parts, groups, rank):
    """rank's chunk per the #rose.slice semantics (zero padding past the end)."""
    size = full.shape[dim]
    if groups == 1:
        chunk = -(-size // parts)
        pad = [(0, 0)] * full.ndim
        pad[dim] = (0, chunk * parts - size)
        padded = np.pad(full, pad)
        return np.take(padded, range(rank * chunk, (rank + 1) * chunk), axis=dim)
    g = size // groups
    c = g // parts
    pieces = [np.take(full, range(k * g + rank * c, k * g + (rank + 1) * c), axis=dim)
              for k in range(groups)]
    return np.concatenate(pieces, axis=dim)


def rotary(x, pos, heads, inv_freq, interleaved):
    """Hugging Face's apply_rotary_pos_emb (rotate_half), or Meta's complex
    multiplication when interleaved, on the first 2 x len(inv_freq) dims of
    each head. Angles in float32, as both compute them."""
    b, s, d = x.shape
    hd, r = d // heads, 2 * len(inv_freq)
    xh = x.reshape(b, s, heads, hd)
    ang = (pos.astype(np.float32)[..., None] * np.asarray(inv_freq, np.float32)).astype(np.float64)
    rot, rest = xh[..., :r], xh[..., r:]
    if interleaved:
        z = rot[..., 0::2] + 1j * rot[..., 1::2]
        z = z * np.exp(1j * ang)[:, :, None, :]
        out = np.stack([z.real, z.imag], -1).reshape(rot.shape)
    else:
        cos = np.cos(np.concatenate([ang, ang], -1))[:, :, None, :]
        sin = np.sin(np.concatenate([ang, ang], -1))[:, :, None, :]
        half = r // 2
        rotated = np.concatenate([-rot[..., half:], rot[..., :half]], -1)
        out = rot * cos + rotated * sin
    return np.concatenate([out, rest], -1).reshape(b, s, d)


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x, approx):
    if approx == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def attention(q, k, v, heads, causal, scale, kv_heads=None):
    b, s, d = q.shape
    hd = d // heads
    kv_heads = kv_heads or heads
    scale = scale if scale is not None else 1.0 / math.sqrt(hd)
    q = q.reshape(b, s, heads, hd).transpose(0, 2, 1, 3)
    # Grouped-query: each kv head serves heads / kv_heads query heads.
    k = np.repeat(k.reshape(b, s, kv_heads, hd).transpose(0, 2, 1, 3), heads // kv_heads, axis=1)
    v = np.repeat(v.reshape(b, s, kv_heads, hd).transpose(0, 2, 1, 3), heads // kv_heads, axis=1)
    scores = q @ k.transpose(0, 1, 3, 2) * scale
    if causal:
        scores = np.where(np.triu(np.ones((s, s), bool), 1), -np.inf, scores)
    scores = scores - scores.max(-1, keepdims=True)
    p = np.exp(scores)
    p = p / p.sum(-1, keepdims=True)
    return (p @ v).transpose(0, 2, 1, 3).reshape(b, s, d)


# Elementwise ops, from their definitions (rose's booleans are 0/1 floats).
BINARY = {
    "rose.add": np.add, "rose.sub": np.subtract, "rose.mul": np.multiply,
    "rose.div": np.divide, "rose.pow": np.power, "rose.max": np.maximum,
    "rose.min": np.minimum,
    "rose.equal": lambda a, b: (a == b).astype(np.float64),
    "rose.less": lambda a, b: (a < b).astype(np.float64),
    "rose.greater": lambda a, b: (a > b).astype(np.float64),
}
UNARY = {
    "rose.relu": lambda x: np.maximum(x, 0.0),
    "rose.silu": lambda x: x / (1.0 + np.exp(-x)),
    "rose.neg": np.negative, "rose.exp": np.exp, "rose.sqrt": np.sqrt,
    "rose.reciprocal": lambda x: 1.0 / x, "rose.tanh": np.tanh,
    "rose.erf": lambda x: np.vectorize(math.erf)(x),
    "rose.sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "rose.not": lambda x: (x == 0).astype(np.float64),
    "rose.cos": np.cos, "rose.sin": np.sin,
    "rose.cast": lambda x: x.astype(np.float64),
}


def run(path, tokens, weights_path=None, inputs=None, function=None):
    text = open(path).read()
    tp = int(re.search(r"rose\.tp = (\d+)", text).group(1)) if "rose.tp" in text else 1
    named = re.search(r'rose\.weights = "([^"]+)"', text)
    wpath = weights_path or (named.group(1) if named else None)
    weights = {k: v.astype(np.float64) for k, v in gpt2ref.read_safetensors(wpath).items()} \
        if wpath else {}
    if function:  # run this function (the first one otherwise)
        text = text[text.index(f"func.func @{function}("):]
    env = {}
    args = [a.split(":")[0].strip() for a in split_top(ARG.search(text).group("args"))]
    if inputs is None:
        env[args[0]] = [tokens] * tp
    else:
        for name, value in zip(args, inputs):
            if value.dtype.kind == "f":
                value = value.astype(np.float64)
            env[name] = [value] * tp
    for line in text.splitlines():
        r = RET.match(line)
        if r:
            return [env[v.strip()] for v in r.group("vals").split(",")], tp
        m = LINE.match(line)
        if not m:
            continue
        res, op, rest = m.group("res"), m.group("op"), m.group("rest")
        operands = re.findall(r"%[\w#]+", rest.split(":")[0] if op != "rose.param" else "")
        val = lambda i: env[operands[i]] if "#" not in operands[i] else \
            [x[int(operands[i].split("#")[1])] for x in env[operands[i].split("#")[0]]]
        out = None
        if op == "rose.param":
            name = re.match(r'"([^"]+)"', rest).group(1)
            full = weights[name]
            sm = re.search(r"slice <dim = (\d+), parts = (\d+), groups = (\d+), "
                           r"full = \[[^\]]*\](?:, replicas = (\d+))?", rest)
            if sm:
                dim, parts, groups = map(int, sm.groups()[:3])
                replicas = int(sm.group(4) or 1)
                out = [slice_param(full, dim, parts, groups, r // replicas) for r in range(tp)]
            else:
                out = [full for r in range(tp)]
        elif op == "rose.constant":
            text_c = re.search(r"dense<([^>]+)>", rest).group(1)
            dims = re.search(r": tensor<([^>]*)>", rest).group(1).split("x")[:-1]
            shape = [int(d) for d in dims]
            if text_c.startswith("["):  # nested lists of numbers
                c = np.array(json.loads(text_c), dtype=np.float64).reshape(shape)
            else:  # a splat; infinities print as the float's bits: 0xFF800000
                c = np.full(shape, struct.unpack("<f", int(text_c, 16).to_bytes(4, "little"))[0]
                            if text_c.startswith("0x") else float(text_c))
            out = [c] * tp
        elif op == "rose.positions":
            off = int(attr(rest, "offset", 0))
            out = [np.broadcast_to(np.arange(x.shape[-1]) + off, x.shape) for x in val(0)]
        elif op == "rose.embedding":
            shards = attr(rest, "vocab_shards")
            out = []
            for r, (t, ids) in enumerate(zip(val(0), val(1))):
                if shards:
                    local = ids - r * t.shape[0]
                    ok = (local >= 0) & (local < t.shape[0])
                    out.append(np.where(ok[..., None], t[np.clip(local, 0, t.shape[0] - 1)], 0.0))
                else:
                    out.append(t[ids])
        elif op == "rose.matmul":
            tr = "transpose_rhs" in rest.split(":")[0]
            out = []
            for r in range(tp):
                a, w = val(0)[r], val(1)[r]
                y = a @ (np.swapaxes(w, -1, -2) if tr else w)
                if len(operands) > 2:
                    y = y + val(2)[r]
                out.append(y)
        elif op in BINARY:
            out = [BINARY[op](a, b) for a, b in zip(val(0), val(1))]
        elif op in UNARY:
            out = [UNARY[op](x) for x in val(0)]
        elif op == "rose.iota":
            dim = int(re.search(r"dim (-?\d+)", rest).group(1))
            out = [np.arange(x.shape[dim]) for x in val(0)]
        elif op == "rose.fill":
            dims = ints(re.search(r"dims \[([^\]]*)\]", rest).group(1))
            value = float(re.search(r"value ([-\w.+]+)", rest).group(1))
            out = [np.full([x.shape[d] if d >= 0 else -d for d in dims], value) for x in val(0)]
        elif op == "rose.trilu":
            k = int(re.search(r"k (-?\d+)", rest).group(1))
            upper = " upper" in rest.split(":")[0]
            out = [np.triu(x, k) if upper else np.tril(x, k) for x in val(0)]
        elif op == "rose.gather":
            axis = int(re.search(r"axis (-?\d+)", rest).group(1))
            out = [np.take(x, i, axis=axis) for x, i in zip(val(0), val(1))]
        elif op == "rose.where":
            out = [np.where(c != 0, a, b) for c, a, b in zip(val(0), val(1), val(2))]
        elif op == "rose.reduce":
            kind = rest.split()[0]
            axis = int(re.search(r"axis (-?\d+)", rest).group(1))
            f = {"sum": np.sum, "mean": np.mean, "max": np.max}[kind]
            out = [f(x, axis=axis, keepdims=True) for x in val(0)]
        elif op == "rose.layer_norm":
            eps = float(attr(rest, "epsilon", 1e-5))
            out = [layer_norm(x, w, b, eps) for x, w, b in zip(val(0), val(1), val(2))]
        elif op == "rose.gelu":
            approx = "tanh" if " tanh " in rest else "erf"
            out = [gelu(x, approx) for x in val(0)]
        elif op == "rose.rotary":
            heads = int(re.search(r"heads (\d+)", rest).group(1))
            freqs = [float(f) for f in re.search(r"inv_freq \[([^\]]*)\]", rest).group(1).split(",")]
            inter = " interleaved" in rest.split(":")[0]
            out = [rotary(x, p, heads, freqs, inter) for x, p in zip(val(0), val(1))]
        elif op == "rose.rms_norm":
            eps = float(attr(rest, "epsilon", 1e-6))
            out = [x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w
                   for x, w in zip(val(0), val(1))]
        elif op == "rose.attention":
            heads = int(re.search(r" heads (\d+)", rest).group(1))
            kvm = re.search(r"kv_heads (\d+)", rest)
            scale = attr(rest, "scale")
            causal = " causal" in rest.split(":")[0]
            out = [attention(q, k, v, heads, causal, float(scale) if scale else None,
                             int(kvm.group(1)) if kvm else None)
                   for q, k, v in zip(val(0), val(1), val(2))]
        elif op == "rose.reshape":
            spec = ints(re.match(r"%[\w#]+ \[([^\]]*)\]", rest).group(1))
            out = []
            for x in val(0):
                shape = [x.shape[i] if d == 0 else d for i, d in enumerate(spec)]
                out.append(x.reshape(shape))
        elif op == "rose.transpose":
            perm = ints(re.match(r"%[\w#]+ \[([^\]]*)\]", rest).group(1))
            out = [np.transpose(x, perm) for x in val(0)]
        elif op == "rose.softmax":
            axis = int(re.search(r"axis (-?\d+)", rest).group(1))
            out = []
            for x in val(0):
                e = np.exp(x - x.max(axis, keepdims=True))
                out.append(e / e.sum(axis, keepdims=True))
        elif op == "rose.concat":
            axis = int(re.search(r"axis (-?\d+)", rest).group(1))
            out = [np.concatenate([val(i)[r] for i in range(len(operands))], axis=axis)
                   for r in range(tp)]
        elif op == "rose.split":
            axis = int(re.search(r"axis (-?\d+)", rest).group(1))
            sizes = ints(re.search(r"sizes \[([^\]]*)\]", rest).group(1))
            out = [np.split(x, np.cumsum(sizes)[:-1], axis=axis) for x in val(0)]
        elif op == "rose.slice":
            axis, start, end = map(int, re.search(r"axis (-?\d+) from (\d+) to (\d+)", rest).groups())
            out = [np.take(x, range(start, end), axis=axis) for x in val(0)]
        elif op == "rose.all_reduce":
            total = sum(val(0))
            out = [total.copy() for _ in range(tp)]
        elif op == "rose.all_gather":
            dim = int(re.search(r"dim (\d+)", rest).group(1))
            whole = np.concatenate(val(0), axis=dim)
            out = [whole] * tp
        elif op == "rose.all_to_all":
            split, concat = map(int, re.search(r"split (\d+) concat (\d+)", rest).groups())
            chunks = [np.split(x, tp, axis=split) for x in val(0)]
            out = [np.concatenate([chunks[k][r] for k in range(tp)], axis=concat)
                   for r in range(tp)]
        elif op in ("rose.reduce_scatter", "rose.shard_slice"):
            dim = int(re.search(r"dim (\d+)", rest).group(1))
            xs = val(0)
            whole = sum(xs) if op == "rose.reduce_scatter" else None
            out = []
            for r in range(tp):
                src = whole if whole is not None else xs[r]
                c = src.shape[dim] // tp
                out.append(np.take(src, range(r * c, (r + 1) * c), axis=dim))
        else:
            sys.exit(f"rose_interp: unsupported op {op}")
        env[res] = out
    sys.exit("rose_interp: no return")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--tokens", help="comma-separated ids; ';' separates sequences")
    p.add_argument("--inputs", help="comma-separated .npy files, one per function argument")
    p.add_argument("--weights")
    p.add_argument("--save", help="write rank 0's logits (.npy)")
    p.add_argument("--function", help="the function to run (default: the first)")
    a = p.parse_args()
    tokens = np.array([[int(t) for t in row.split(",")] for row in a.tokens.split(";")]) \
        if a.tokens else None
    inputs = [np.load(f) for f in a.inputs.split(",")] if a.inputs else None
    if tokens is None and inputs is None:
        sys.exit("rose_interp: give --tokens or --inputs")
    results, tp = run(a.model, tokens, a.weights, inputs, a.function)
    logits = results[0]
    for r in range(1, tp):  # every rank must return the same logits
        assert np.array_equal(logits[0], logits[r]), f"rank {r} disagrees with rank 0"
    if a.save:
        np.save(a.save, logits[0].astype(np.float32))
    if logits[0].ndim == 3:
        print("argmax", logits[0][:, -1].argmax(-1).tolist())


if __name__ == "__main__":
    main()
