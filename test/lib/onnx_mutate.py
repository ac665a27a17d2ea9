"""Writes broken or re-packaged variants of an ONNX model for importer tests.

    python3 onnx_mutate.py KIND in.onnx out.onnx
KIND: external (weights as ONNX external data), unsupported-op (the first Tanh
becomes a Softsign), non-causal (the first Trilu keeps the diagonal), two-inputs,
missing-external (external data whose file is gone), no-outputs (the first
Constant loses its output), concat-axis (a first node concatenating a weight
with itself along an axis it lacks), transpose-perm (the first Transpose's
perm names a dim the tensor lacks), huge-literal (a Reshape whose shape
constant claims 2^62 x 4 elements), gemm-as-matmul (an HF-style export's
first Gemm, reading a flattened view, becomes a MatMul), range-start (the
position Range starts at 1), dim-product (an HF-style export's first Sub of
dims becomes a Mul: seq * seq), slice-start (a nanoGPT-style export's mask
buffer sliced from 1 to seq), float-cast (a Cast of the first softmax to
float16).
"""
import os
import sys

import onnx
from onnx import helper


def main(kind, src, dst):
    model = onnx.load(src)
    graph = model.graph
    if kind in ("external", "missing-external"):
        onnx.save_model(model, dst, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(dst) + ".data", size_threshold=1024)
        if kind == "missing-external":
            os.remove(dst + ".data")
        return
    if kind == "unsupported-op":
        node = next(n for n in graph.node if n.op_type == "Tanh")
        node.op_type = "Softsign"
    elif kind == "non-causal":
        node = next(n for n in graph.node if n.op_type == "Trilu")
        for a in node.attribute:
            if a.name == "upper":
                a.i = 0
    elif kind == "no-outputs":
        node = next(n for n in graph.node if n.op_type == "Constant")
        del node.output[:]
    elif kind == "concat-axis":
        weight = graph.initializer[0].name
        graph.node.insert(0, helper.make_node("Concat", [weight, weight], ["bad_concat"],
                                              name="bad_concat", axis=5))
    elif kind == "transpose-perm":
        node = next(n for n in graph.node if n.op_type == "Transpose")
        for a in node.attribute:
            if a.name == "perm":
                a.ints[1] = 9
    elif kind == "huge-literal":
        # A shape operand whose dims claim 2^62 x 4 elements (and hold none).
        huge = onnx.TensorProto(name="huge", data_type=onnx.TensorProto.INT64,
                                dims=[1 << 62, 4])
        weight = graph.initializer[0].name
        graph.node.insert(0, helper.make_node("Constant", [], ["huge"], name="huge_shape",
                                              value=huge))
        graph.node.insert(1, helper.make_node("Reshape", [weight, "huge"], ["bad_reshape"],
                                              name="bad_reshape"))
    elif kind == "gemm-as-matmul":
        # HF style: the flattened view of Conv1D read by a MatMul, not a Gemm.
        node = next(n for n in graph.node if n.op_type == "Gemm")
        node.op_type = "MatMul"
        del node.input[2:]
        del node.attribute[:]
    elif kind == "range-start":
        # Positions from 1: Range(1, S, 1).
        node = next(n for n in graph.node if n.op_type == "Range")
        graph.node.insert(0, helper.make_node(
            "Constant", [], ["one"], name="one",
            value=helper.make_tensor("one_value", onnx.TensorProto.INT64, [], [1])))
        node.input[0] = "one"
    elif kind == "dim-product":
        # Shape arithmetic that is not affine: seq * seq.
        node = next(n for n in graph.node if n.op_type == "Sub")
        node.op_type = "Mul"
    elif kind == "slice-start":
        # nanoGPT style: the mask buffer cut to [1:S) instead of [0:S).
        node = next(n for n in graph.node if n.op_type == "Slice")
        graph.node.insert(0, helper.make_node(
            "Constant", [], ["one_start"], name="one_start",
            value=helper.make_tensor("one_start_value", onnx.TensorProto.INT64, [1], [1])))
        node.input[1] = "one_start"
    elif kind == "float-cast":
        # A float tensor cast to float16 (an activation changing type).
        node = next(n for n in graph.node if n.op_type == "Softmax")
        graph.node.insert(list(graph.node).index(node) + 1, helper.make_node(
            "Cast", [node.output[0]], ["half_probs"], name="half_cast", to=10))
    elif kind == "two-inputs":
        graph.input.append(helper.make_tensor_value_info("extra", onnx.TensorProto.INT64, [1]))
    else:
        sys.exit(f"unknown kind {kind}")
    onnx.save_model(model, dst)


if __name__ == "__main__":
    main(*sys.argv[1:])
