"""Checks that two rose IR files describe the same model: the same sequence of
rose ops (params aside), and params with the same names resolving to the same
values in their weights files. Used to compare ONNX and Hugging Face imports.

    python3 compare_imports.py a.mlir b.mlir [--copy NAME=OF]

--copy NAME=OF: a's param NAME, absent from b, holds the same values as b's
OF (torch exports a tied LM head as its own transposed copy of the
embedding, which the ONNX import keeps: tying is read from the graph, never
guessed from data).
"""
import re
import sys

import numpy as np

import gpt2ref

OP = re.compile(r"= (rose\.[a-z_]+)(.*)$")
PARAM = re.compile(r'rose\.param "([^"]+)" : tensor<([^>]*)>')
WEIGHTS = re.compile(r'rose\.weights = "([^"]+)"')


def load(path):
    text = open(path).read()
    ops = []
    for line in text.splitlines():
        m = OP.search(line)
        if m and m.group(1) != "rose.param":
            # Keep the op and its attributes/types, not its SSA operands.
            tail = re.sub(r"%[\w#]+", "%", m.group(2))
            ops.append(m.group(1) + tail)
    params = {name: shape for name, shape in PARAM.findall(text)}
    weights = gpt2ref.read_safetensors(WEIGHTS.search(text).group(1))
    return ops, params, weights


def main(a_path, b_path, copies):
    a_ops, a_params, a_weights = load(a_path)
    b_ops, b_params, b_weights = load(b_path)
    if a_ops != b_ops:
        for i, (x, y) in enumerate(zip(a_ops, b_ops)):
            if x != y:
                sys.exit(f"op #{i} differs:\n  {a_path}: {x}\n  {b_path}: {y}")
        sys.exit(f"op counts differ: {len(a_ops)} vs {len(b_ops)}")
    for name, of in copies:
        if name not in a_params or name in b_params or of not in b_params:
            sys.exit(f"--copy {name}={of}: no such copy")
        if not np.array_equal(a_weights[name], b_weights[of]):
            sys.exit(f"param '{name}' is not a copy of '{of}'")
    shared = {k: v for k, v in a_params.items() if k not in dict(copies)}
    if shared != b_params:
        sys.exit(f"params differ: {sorted(set(shared.items()) ^ set(b_params.items()))}")
    for name in shared:
        if not np.array_equal(a_weights[name], b_weights[name]):
            sys.exit(f"param '{name}' resolves to different values")
    print(f"imports agree: {len(a_ops)} ops, {len(a_params)} params")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--copy")]
    copies = [tuple(a.split("=", 1)[1].split("=")) for a in sys.argv[1:] if a.startswith("--copy=")]
    main(args[0], args[1], copies)
