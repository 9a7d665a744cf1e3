"""Calibrated int8 for ViT backbones: activation smoothing before onnxruntime's dynamic quantization, and
error-compensated rounding of the int8 weights after it. Used by quantize.py (--smooth, --gptq, --calibration).

Smoothing (SmoothQuant, Xiao et al. 2022): a MatMul's activations are quantized per tensor, so one channel with large
values sets the step for all of them. Dividing input channel j by s_j and multiplying weight row j by s_j leaves the
product unchanged (X·W = (X/s)·(s·W)) and moves the range from activations to weights, which are quantized per output
channel. s_j = max|X_j|^alpha / max|W_j|^(1-alpha), max|X_j| over a calibration set. The division is folded offline,
so the graph keeps its operators and its cost:
  - LayerNormalization -> MatMul / Attention (q/k/v, fc1): gamma and beta are divided by s (LayerNorm's output is
    affine in them), the consumers' weight rows multiplied;
  - Attention -> o_proj MatMul: the attention output is a per-head weighted sum of V, linear in V, so V's weight
    columns and bias are divided by s and o_proj's weight rows multiplied.
fc2's input comes through GELU, which is not linear: it is not smoothed. In float32 the smoothed graph computes the
same function (smoothed_max_abs_diff checks it on the calibration images).

Error-compensated rounding (GPTQ, Frantar et al. 2022, at 8 bits): each int8 weight matrix is rounded one input row at
a time, and the rounding error of a row is pushed onto the rows not yet rounded in proportion to the inverse of the
calibration inputs' second moment H = XᵀX, which minimises ‖X·W − X·Q‖² rather than ‖W − Q‖². The int8 values replace
the ones quantize_dynamic wrote; its per-column scales are kept, so the quantized graph and its speed are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from quantize import load_pixels

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def calibration_pixels(directory: Path, member: dict, limit: int) -> np.ndarray:
    """The first `limit` images of a folder (sorted by name), preprocessed like quantize.py's held-out check."""
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise SystemExit(f"{directory}: no calibration images (.jpg/.png); pass the training split's images")
    size = member["input"]["shape"][2]
    pre = member.get("preprocessing", {})
    mean = pre.get("image_mean", [0.485, 0.456, 0.406])
    std = pre.get("image_std", [0.229, 0.224, 0.225])
    return np.stack([load_pixels(p, size, mean, std) for p in files]).astype(np.float32)


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {i.name: i for i in model.graph.initializer}


def _consumers(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    out: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def _run_with_outputs(model: onnx.ModelProto, names: list[str], pixels: np.ndarray, input_name: str, threads: int):
    """Yields (batch of) the named intermediate tensors, each as a 2-D float64 array [tokens, channels]."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    present = {o.name for o in probe.graph.output}
    for name in names:
        if name not in present:
            probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # No graph rewrites: the named tensors must survive as they are.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    for start in range(0, len(pixels), 8):
        values = session.run(names, {input_name: pixels[start : start + 8]})
        yield {n: v.reshape(-1, v.shape[-1]).astype(np.float64) for n, v in zip(names, values)}


def _constant(model: onnx.ModelProto, name: str) -> str | None:
    """The initializer behind `name`, through Identity nodes (exporters alias deduplicated weights that way)."""
    inits = _initializers(model)
    aliases = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    while name not in inits and name in aliases:
        name = aliases[name]
    return name if name in inits else None


def _smoothing_sites(model: onnx.ModelProto) -> list[dict]:
    """Each site: the tensor whose channels are scaled, the node that absorbs 1/s, the products that absorb s."""
    consumers = _consumers(model)
    sites = []
    for n in model.graph.node:
        users = [u for u in consumers.get(n.output[0], []) if u.op_type != "Shape"] if n.output else []
        products = users and all(
            u.op_type in ("MatMul", "Attention") and u.input[0] == n.output[0] and _constant(model, u.input[1])
            for u in users
        )
        if not products:
            continue
        if n.op_type == "LayerNormalization" and len(n.input) >= 3 and all(_constant(model, i) for i in n.input[1:3]):
            sites.append({"tensor": n.output[0], "producer": n, "products": users})
        elif n.op_type == "Attention" and len(users) == 1 and users[0].op_type == "MatMul" and all(
            _constant(model, i) for i in n.input[1:3]
        ):
            sites.append({"tensor": n.output[0], "producer": n, "products": users})
    return sites


def _own(model: onnx.ModelProto, node: onnx.NodeProto, index: int, suffix: str) -> np.ndarray:
    """The node's constant input as an array, first copied under a name of its own when it is aliased or other nodes
    share it (random-weight exports share one gamma/beta across LayerNorms)."""
    source = _constant(model, node.input[index])
    array = numpy_helper.to_array(_initializers(model)[source]).copy()
    if node.input[index] != source or sum(i == source for m in model.graph.node for i in m.input) > 1:
        name = f"{source}.{suffix}"
        model.graph.initializer.append(numpy_helper.from_array(array, name))
        node.input[index] = name
    return array


def _set(model: onnx.ModelProto, name: str, array: np.ndarray) -> None:
    _initializers(model)[name].CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))


def smooth(model: onnx.ModelProto, pixels: np.ndarray, input_name: str, alpha: float, threads: int = 0) -> int:
    """Folds SmoothQuant scales into `model` in place; returns the number of smoothed tensors."""
    sites = _smoothing_sites(model)
    peak = {s["tensor"]: None for s in sites}
    for batch in _run_with_outputs(model, list(peak), pixels, input_name, threads):
        for name, x in batch.items():
            m = np.abs(x).max(0)
            peak[name] = m if peak[name] is None else np.maximum(peak[name], m)
    for k, site in enumerate(sites):
        # Own copies first: a weight shared by two products (or aliased) must not be scaled twice.
        weights = [_own(model, u, 1, f"smooth{k}.{j}") for j, u in enumerate(site["products"])]
        w_peak = np.max([np.abs(w).max(1) for w in weights], axis=0)
        scale = np.clip(peak[site["tensor"]], 1e-5, None) ** alpha / np.clip(w_peak, 1e-5, None) ** (1 - alpha)
        scale = np.clip(scale, 1e-5, None)
        node = site["producer"]
        if node.op_type == "LayerNormalization":
            gamma = _own(model, node, 1, f"smooth{k}")
            beta = _own(model, node, 2, f"smooth{k}")
            _set(model, node.input[1], gamma / scale)
            _set(model, node.input[2], beta / scale)
        else:  # Attention: packed [q | k | v] columns; the output is per-head sums of V's columns
            hidden = len(scale)
            qkv = _own(model, node, 1, f"smooth{k}")
            bias = _own(model, node, 2, f"smooth{k}")
            qkv[:, 2 * hidden :] /= scale
            bias[2 * hidden :] /= scale
            _set(model, node.input[1], qkv)
            _set(model, node.input[2], bias)
        for u, w in zip(site["products"], weights):
            _set(model, u.input[1], w * scale[:, None])
    return len(sites)


def max_abs_diff(a: onnx.ModelProto, b: onnx.ModelProto, pixels: np.ndarray, input_name: str, threads: int = 0) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    runs = []
    for model in (a, b):
        s = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        runs.append(np.concatenate([s.run(None, {input_name: pixels[i : i + 8]})[0] for i in range(0, len(pixels), 8)]))
    return float(np.max(np.abs(runs[0] - runs[1])))


def _quantized_weights(quantized: onnx.ModelProto) -> list[tuple[str, str]]:
    """(input tensor in the float graph, float weight name) of every int8 weight product quantize_dynamic wrote."""
    source = {n.output[0]: n.input[0] for n in quantized.graph.node if n.op_type == "DynamicQuantizeLinear"}
    out = []
    for n in quantized.graph.node:
        if n.op_type in ("MatMulInteger", "QAttention", "DynamicQuantizeMatMul") and n.input[1].endswith("_quantized"):
            out.append((source.get(n.input[0], n.input[0]), n.input[1][: -len("_quantized")]))
    return out


def _round_compensated(w: np.ndarray, scale: np.ndarray, limit: int, h: np.ndarray, damp: float = 0.01) -> np.ndarray:
    """GPTQ on a [in, out] weight with fixed per-column scales: rows rounded in order, each row's error spread over
    the later rows through the upper Cholesky factor of H⁻¹."""
    w = w.astype(np.float64).copy()
    h = h.copy()
    dead = np.diag(h) == 0  # channels never active in calibration: their rows cannot matter
    h[dead, dead] = 1.0
    h += np.eye(len(h)) * damp * np.mean(np.diag(h))
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    q = np.zeros(w.shape, dtype=np.int8)
    for i in range(len(w)):
        qi = np.clip(np.round(w[i] / scale), -limit, limit)
        q[i] = qi
        err = (w[i] - qi * scale) / u[i, i]
        w[i + 1 :] -= np.outer(u[i, i + 1 :], err)
    return q


def compensate_rounding(
    quantized: onnx.ModelProto, float_model: onnx.ModelProto, pixels: np.ndarray, input_name: str, threads: int = 0
) -> int:
    """Rewrites the int8 weights of `quantized` (quantize_dynamic's output of `float_model`) in place with GPTQ's
    rounding; returns the number of weights rewritten."""
    targets = _quantized_weights(quantized)
    f_inits = _initializers(float_model)
    q_inits = _initializers(quantized)
    names = sorted({x for x, _ in targets})
    second = {n: 0.0 for n in names}
    for batch in _run_with_outputs(float_model, names, pixels, input_name, threads):
        for name, x in batch.items():
            second[name] = second[name] + x.T @ x
    for x, weight in targets:
        w = numpy_helper.to_array(f_inits[_constant(float_model, weight) or weight])
        scale = numpy_helper.to_array(q_inits[f"{weight}_scale"]).astype(np.float64)
        current = numpy_helper.to_array(q_inits[f"{weight}_quantized"])
        zero = numpy_helper.to_array(q_inits[f"{weight}_zero_point"])
        if np.any(zero != 0) or scale.ndim != 1 or current.dtype != np.int8:
            raise ValueError(f"{weight}: expected symmetric int8 per-column weights")
        limit = int(np.abs(current.astype(np.int32)).max())
        q = _round_compensated(w, scale, limit, second[x])
        q_inits[f"{weight}_quantized"].CopyFrom(numpy_helper.from_array(q, f"{weight}_quantized"))
    return len(targets)
