"""Checks that two rose IR files describe the same model: the same sequence of
rose ops (params aside), and params with the same names resolving to the same
values in their weights files. Used to compare ONNX and Hugging Face imports.

    python3 compare_imports.py a.mlir b.mlir [--copy NAME=OF]

--copy NAME=OF: a's param NAME, absent from b, holds the same values as b's
OF (torch exports a tied LM head as its own transposed copy of the
embedding, which the ONNX import keeps: tying is read from the graph, never
guessed from data).

--layout-free: for exports of nn.Linear layers, which torch stores as [in,
out] copies of the [out, in] weights: the ops are compared as a multiset of
op names and attributes (not types, not order, not `transpose_rhs`), and a
param may hold the other's values transposed.
"""
import re
import sys

import numpy as np

import gpt2ref

OP = re.compile(r"= (rose\.[a-z_]+)(.*)$")
PARAM = re.compile(r'rose\.param "([^"]+)" : tensor<([^>]*)>')
WEIGHTS = re.compile(r'rose\.weights = "([^"]+)"')
FLOAT = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def load(path):
    text = open(path).read()
    ops = []
    for line in text.splitlines():
        m = OP.search(line)
        if m and m.group(1) != "rose.param":
            # Keep the op and its attributes/types, not its SSA operands.
            tail = re.sub(r"%[\w#]+", "%", m.group(2))
            # Attributes compared as float32 (an ONNX constant holds
            # float32(1e-5) where a config.json says 1e-5).
            tail = FLOAT.sub(lambda f: f"{np.float32(float(f.group(0))):.7g}", tail)
            ops.append(m.group(1) + tail)
    params = {name: shape for name, shape in PARAM.findall(text)}
    weights = gpt2ref.read_safetensors(WEIGHTS.search(text).group(1))
    return ops, params, weights


def layout_free(ops):
    """Op names and attributes, sorted: no types, no transpose_rhs."""
    return sorted(op.split(" : ")[0].replace(" {transpose_rhs}", "") for op in ops)


def same_values(x, y, transposable):
    if x.shape == y.shape and np.array_equal(x, y):
        return True
    return transposable and x.ndim == 2 and np.array_equal(x.T, y)


def main(a_path, b_path, copies, transposable=False):
    a_ops, a_params, a_weights = load(a_path)
    b_ops, b_params, b_weights = load(b_path)
    if transposable:
        a_ops, b_ops = layout_free(a_ops), layout_free(b_ops)
        a_params = {k: tuple(sorted(v.split("x"))) for k, v in a_params.items()}
        b_params = {k: tuple(sorted(v.split("x"))) for k, v in b_params.items()}
    if a_ops != b_ops:
        for i, (x, y) in enumerate(zip(a_ops, b_ops)):
            if x != y:
                sys.exit(f"op #{i} differs:\n  {a_path}: {x}\n  {b_path}: {y}")
        sys.exit(f"op counts differ: {len(a_ops)} vs {len(b_ops)}")
    for name, of in copies:
        if name not in a_params or name in b_params or of not in b_params:
            sys.exit(f"--copy {name}={of}: no such copy")
        if not same_values(a_weights[name], b_weights[of], transposable):
            sys.exit(f"param '{name}' is not a copy of '{of}'")
    shared = {k: v for k, v in a_params.items() if k not in dict(copies)}
    if shared != b_params:
        sys.exit(f"params differ: {sorted(set(shared.items()) ^ set(b_params.items()))}")
    for name in shared:
        if not same_values(a_weights[name], b_weights[name], transposable):
            sys.exit(f"param '{name}' resolves to different values")
    print(f"imports agree: {len(a_ops)} ops, {len(a_params)} params")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    copies = [tuple(a.split("=", 1)[1].split("=")) for a in sys.argv[1:] if a.startswith("--copy=")]
    main(args[0], args[1], copies, "--layout-free" in sys.argv[1:])
