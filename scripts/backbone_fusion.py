"""Transformer graph fusion for exported ViT backbones (DINOv2, DINOv2 with registers): onnxruntime's fused
Attention (one packed QKV matrix product, heads split and softmax inside one kernel), BiasGelu and optionally
SkipLayerNormalization in place of the ~80 elementwise, reshape and transpose nodes per layer that torch's exporter
writes. Used by scripts/export-backbone.py and bench/baseline/export.py.

onnxruntime's pattern matcher (onnxruntime.transformers.optimizer, model_type "vit") knows BERT/ViT blocks; three
exact rewrites first bring DINOv2's block to that form:
  - LayerScale (`x * gamma` after the attention output and MLP projections) is folded into the projection's weight
    columns and bias (W·diag(gamma), b·gamma): one Mul fewer per branch, and the residual Add sees the projection;
  - the attention scores' `Mul(QK^T, 1/sqrt(d))` becomes `Div(QK^T, sqrt(d))`, the form the matcher knows;
  - head splits written `view(B, S, -1, d)` get their head count spelled out (the matcher reads it from the shape).
Constants from Constant nodes and Identity-forwarded initializers (torch dedupes equal tensors, e.g. zero biases)
are read as initializers first. Whoever calls this checks the fused graph's outputs against the unfused one.
"""

from __future__ import annotations

import collections
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# Which fusions run: "attention" = Attention + BiasGelu (+ LayerNorm), "all" adds SkipLayerNormalization (on the
# 2-core CPU host it was slower than onnxruntime's own Add + LayerNormalization; on GPUs it saves a kernel per layer).
FUSIONS = ("none", "attention", "all")


def _prepare(model: onnx.ModelProto) -> dict:
    g = model.graph
    for n in list(g.node):
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            g.initializer.append(t)
            g.node.remove(n)
    inits = {i.name: i for i in g.initializer}
    forwarded = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Identity" and n.input[0] in inits}
    graph_outputs = {o.name for o in g.output}
    for n in list(g.node):
        if n.op_type == "Identity" and n.output[0] in forwarded and n.output[0] not in graph_outputs:
            g.node.remove(n)
            continue
        for k, i in enumerate(n.input):
            if i in forwarded:
                n.input[k] = forwarded[i]

    def const(name: str) -> np.ndarray | None:
        return numpy_helper.to_array(inits[name]) if name in inits else None

    def add_const(array: np.ndarray, name: str) -> str:
        t = numpy_helper.from_array(array, name)
        g.initializer.append(t)
        inits[name] = t
        return name

    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    counts = {"layerScaleFolded": 0, "scoreScaleAsDiv": 0, "headCountSpelled": 0}

    # LayerScale: Mul(Add(MatMul(x, W), b), gamma) -> Add(MatMul(x, W*gamma), b*gamma)
    for mul in list(g.node):
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        gamma_name = next((i for i in mul.input if const(i) is not None), None)
        x_name = next((i for i in mul.input if i != gamma_name), None)
        if gamma_name is None or x_name is None:
            continue
        gamma = const(gamma_name)
        add = producer.get(x_name)
        if gamma.ndim != 1 or add is None or add.op_type != "Add" or len(consumers[add.output[0]]) != 1:
            continue
        bias_name = next((i for i in add.input if const(i) is not None), None)
        matmul = producer.get(next((i for i in add.input if i != bias_name), ""))
        if bias_name is None or matmul is None or matmul.op_type != "MatMul" or len(consumers[matmul.output[0]]) != 1:
            continue
        if mul.output[0] in graph_outputs:
            continue  # a graph output keeps its name and node
        w, b = const(matmul.input[1]), const(bias_name)
        if w is None or w.ndim != 2 or w.shape[1] != gamma.shape[0] or b.shape != gamma.shape:
            continue
        n = counts["layerScaleFolded"]
        matmul.input[1] = add_const((w * gamma[None, :]).astype(w.dtype), f"{matmul.input[1]}.layer_scale.{n}")
        add.input[list(add.input).index(bias_name)] = add_const((b * gamma).astype(b.dtype), f"{bias_name}.layer_scale.{n}")
        for c in consumers[mul.output[0]]:
            for k, i in enumerate(c.input):
                if i == mul.output[0]:
                    c.input[k] = add.output[0]
        consumers[add.output[0]] = consumers.pop(mul.output[0], [])
        g.node.remove(mul)
        counts["layerScaleFolded"] += 1

    # Softmax(Mul(QK^T, c)) -> Softmax(Div(QK^T, 1/c))
    for mul in g.node:
        if mul.op_type != "Mul" or const(mul.input[1]) is None or const(mul.input[1]).size != 1:
            continue
        scores = producer.get(mul.input[0])
        if scores is None or scores.op_type != "MatMul" or const(scores.input[1]) is not None:
            continue
        if not any(c.op_type == "Softmax" for c in consumers[mul.output[0]]):
            continue
        c = const(mul.input[1])
        mul.op_type = "Div"
        mul.input[1] = add_const(np.array(1.0 / c.reshape(())).astype(c.dtype).reshape(c.shape), f"{mul.input[1]}.inverse")
        counts["scoreScaleAsDiv"] += 1

    # Reshape(Add(MatMul(x, W), b), Concat(B, S, -1, d)) -> Concat(B, S, D/d, d)
    for reshape in g.node:
        if reshape.op_type != "Reshape":
            continue
        concat, add = producer.get(reshape.input[1]), producer.get(reshape.input[0])
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 4 or add is None or add.op_type != "Add":
            continue
        heads, head_size = const(concat.input[2]), const(concat.input[3])
        bias = next((const(i) for i in add.input if const(i) is not None), None)
        if heads is None or head_size is None or bias is None or heads.size != 1 or head_size.size != 1:
            continue
        if int(heads.reshape(-1)[0]) != -1:
            continue
        spelled = np.array(bias.shape[-1] // int(head_size.reshape(-1)[0])).astype(heads.dtype).reshape(heads.shape)
        concat.input[2] = add_const(spelled, f"{concat.input[2]}.heads.{counts['headCountSpelled']}")
        counts["headCountSpelled"] += 1
    return counts


def fuse_transformer(src: Path, dst: Path, fusion: str = "attention") -> dict:
    """Writes the fused graph of `src` to `dst`; returns what was rewritten and which fused operators came out."""
    if fusion not in FUSIONS or fusion == "none":
        raise ValueError(f"fusion must be one of {FUSIONS[1:]}")
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    model = onnx.load(str(src))
    prepared = _prepare(model)
    options = FusionOptions("vit")
    options.enable_skip_layer_norm = fusion == "all"
    options.enable_bias_skip_layer_norm = fusion == "all"
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "prepared.onnx"
        onnx.save(model, str(staged))
        # num_heads/hidden_size 0: read from each block's shapes (spelled out above).
        optimized = optimize_model(
            str(staged), model_type="vit", num_heads=0, hidden_size=0, opt_level=0, optimization_options=options
        )
    optimized.save_model_to_file(str(dst))
    fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    return {"fusion": fusion, "prepared": prepared, "fusedOperators": fused, "nodes": len(optimized.model.graph.node)}


def max_abs_diff(a: Path, b: Path, inputs: dict[str, np.ndarray], providers: list[str]) -> float:
    import onnxruntime as ort

    out_a = ort.InferenceSession(str(a), providers=providers).run(None, inputs)[0]
    out_b = ort.InferenceSession(str(b), providers=providers).run(None, inputs)[0]
    return float(np.abs(out_a.astype(np.float64) - out_b.astype(np.float64)).max())
