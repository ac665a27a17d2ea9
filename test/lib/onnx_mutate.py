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
float16), int-reshape (the token ids reshaped to [seq, batch]), reduce-axes
(a ReduceMean over two axes), gemm-bias (an HF-style export's first Gemm bias
unsqueezed to [1, n]), trilu-k (the first Trilu's k is the dynamic seq),
fill-too-big and fill-empty (ConstantOfShape of [2^20, 2^10] and of
[batch, seq, 0]), range-dynamic-start (the position Range starts at seq),
dim-to-float (the dynamic seq cast to float), shape-reshape (the input's
shape vector reshaped to [1, 2]), shape-where (a Where whose condition is the
dynamic shape itself).
"""
import os
import sys

import onnx
from onnx import helper


def const_node(name, dims, values):
    return helper.make_node("Constant", [], [name], name=name,
                            value=helper.make_tensor(name + "_value", onnx.TensorProto.INT64,
                                                     dims, values))


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
    elif kind in ("int-reshape", "trilu-k", "fill-too-big", "fill-empty", "dim-to-float",
                  "shape-reshape", "shape-where"):
        ids = graph.input[0].name
        # The dynamic seq dim as a scalar, for the mutants that need one.
        new = [helper.make_node("Shape", [ids], ["m_shape"], name="m_shape"),
               const_node("m_one", [], [1]),
               helper.make_node("Gather", ["m_shape", "m_one"], ["m_seq"], name="m_seq")]
        if kind == "int-reshape":
            new += [const_node("m_perm", [2], [1, 0]),
                    helper.make_node("Gather", ["m_shape", "m_perm"], ["m_swapped"],
                                     name="m_swapped"),
                    helper.make_node("Reshape", [ids, "m_swapped"], ["m_ids"], name="swap_ids")]
        elif kind == "trilu-k":
            node = next(n for n in graph.node if n.op_type == "Trilu")
            del node.input[1:]
            node.input.append("m_seq")
        elif kind == "fill-too-big":
            new += [const_node("m_big", [2], [1 << 20, 1 << 10]),
                    helper.make_node("ConstantOfShape", ["m_big"], ["m_fill"], name="big_fill")]
        elif kind == "fill-empty":
            new += [const_node("m_zero", [1], [0]),
                    helper.make_node("Concat", ["m_shape", "m_zero"], ["m_dims"], name="m_dims",
                                     axis=0),
                    helper.make_node("ConstantOfShape", ["m_dims"], ["m_fill"], name="empty_fill")]
        elif kind == "shape-reshape":
            new += [const_node("m_dims12", [2], [1, 2]),
                    helper.make_node("Reshape", ["m_shape", "m_dims12"], ["m_shape12"],
                                     name="reshape_shape")]
        elif kind == "shape-where":
            new += [helper.make_node("Where", ["m_shape", "m_shape", "m_shape"], ["m_sel"],
                                     name="where_shape")]
        else:
            new += [helper.make_node("Cast", ["m_seq"], ["m_fseq"], name="seq_to_float", to=1)]
        for i, n in enumerate(new):
            graph.node.insert(i, n)
    elif kind == "reduce-axes":
        weight = next(t.name for t in graph.initializer if len(t.dims) == 2)
        graph.node.insert(0, helper.make_node("ReduceMean", [weight], ["m_mean"], name="mean_2d",
                                              axes=[0, 1]))
    elif kind == "gemm-bias":
        node = next(n for n in graph.node if n.op_type == "Gemm")
        graph.node.insert(0, const_node("m_axes", [1], [0]))
        graph.node.insert(1, helper.make_node("Unsqueeze", [node.input[2], "m_axes"], ["m_bias"],
                                              name="bias_2d"))
        node.input[2] = "m_bias"
    elif kind == "range-dynamic-start":
        node = next(n for n in graph.node if n.op_type == "Range")
        node.input[0] = node.input[1]
    elif kind == "two-inputs":
        graph.input.append(helper.make_tensor_value_info("extra", onnx.TensorProto.INT64, [1]))
    else:
        sys.exit(f"unknown kind {kind}")
    onnx.save_model(model, dst)


if __name__ == "__main__":
    main(*sys.argv[1:])
