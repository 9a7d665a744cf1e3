"""int8 backbones for CPU hosts: onnxruntime dynamic quantization of a bundle, checked on held-out images.

    python bench/baseline/quantize.py --bundle DIR --out DIR-int8 [--heldout DIR_OF_JPEGS] [--limit 512]
        [--method all] [--keep-float REGEX] [--smooth ALPHA] [--compensate] [--calibration DIR] [--cpu-cost ROUNDS]

Dynamic quantization (onnxruntime.quantization.quantize_dynamic): MatMul/Gemm weights are stored as int8, per output
channel, and activations are quantized on the fly per tensor (uint8), so no calibration set is needed and the int8
matrix products use the CPU's integer dot-product units (VNNI / AVX2). Convolutions (the ViT patch embedding,
ConvNeXt's stem) stay float32: they are a small part of a ViT's time and quantize badly. Heads stay float32 too
(a few thousand weights). The bundle is rewritten with the int8 backbones in place of the float32 ones (`fp16`
variants dropped: they are for GPUs), its version suffixed `-int8`. Without the calibration options below this is
plain quantize_dynamic, as before.

Calibrated int8 (int8_calibration.py), both from --calibration DIR: images of the training split (never the held-out
ones; `train_head.py --calibration-out` writes them), the first --calibration-limit (64) by name:
  --smooth ALPHA  SmoothQuant: per input channel, the activations of each LayerNorm -> q/k/v|fc1 product and of each
                  attention -> o_proj product are divided by s = max|X|^ALPHA / max|W|^(1-ALPHA) and the weight rows
                  multiplied by s, folded into LayerNorm's gamma/beta and V's weights: the same function in float32
                  (the JSON's smoothedFp32MaxAbsDiff), a narrower per-tensor activation range in int8, no added op.
  --compensate    GPTQ: the int8 weights are re-rounded one input row at a time, each row's rounding error pushed onto
                  the rows left in proportion to the calibration inputs' inverse second moment (minimises the product's
                  error, not the weights'); quantize_dynamic's scales are kept, so the graph and its speed are the same.
fc2 (after GELU, not linear) is not smoothed; --keep-float still picks what stays float32.
--cpu-cost ROUNDS prints each first backbone's process CPU time per image (batch 1, one thread, no spinning).

With --heldout, every image there is scored by the float32 and the int8 bundle with the same preprocessing as the
benchmark's Python miner (PIL bilinear resize to the input size, ImageNet normalization), and the share of answers on
the same side of 0.5 is printed (the target is >= 99 %), with the score differences and how close the float32 answers
sit to 0.5. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from PIL import Image


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Which MatMuls become int8 (--method). "all": every MatMul/Gemm with a constant weight. "mlp": only the MLP blocks'
# (fc1/fc2, two thirds of a ViT's weights), attention projections stay float32. "all-reduce-range": all, with 7-bit
# weights (no int16 saturation in AVX2's u8×s8 products on CPUs without VNNI). "mlp-reduce-range": both.
METHODS = ("all", "mlp", "all-reduce-range", "mlp-reduce-range")


def _mlp_matmuls(path: Path) -> list[str]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and ("/mlp/" in n.name or "fc" in n.name)]


def _labels(path: Path) -> dict[str, str]:
    """Node name -> the name --keep-float matches. Traced nodes keep torch's module path ("/model/encoder/layer.0/
    attention/o_proj/MatMul"); a fused Attention node (packed q/k/v) is labelled by its block, counted in graph
    order: "/model/encoder/layer.<k>/attention/qkv"."""
    graph = onnx.load(str(path), load_external_data=False).graph
    labels, attention = {}, 0
    for n in graph.node:
        if n.op_type == "Attention":
            labels[n.name] = f"/model/encoder/layer.{attention}/attention/qkv"
            attention += 1
        elif n.op_type in ("MatMul", "Gemm"):
            labels[n.name] = n.name
    return labels


def quantize_backbone(original: Path, target: Path, method: str = "all", keep_float: str = "") -> None:
    """keep_float: a regular expression; matching nodes (see _labels) stay float32, e.g. r"layer\.0/|o_proj"."""
    nodes = _mlp_matmuls(original) if method.startswith("mlp") else None
    if keep_float:
        labels = _labels(original)
        nodes = [n for n in (nodes if nodes is not None else labels) if not re.search(keep_float, labels.get(n, n))]
    quantize_dynamic(
        original,
        target,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=method.endswith("reduce-range"),
        # Attention: a fused graph's packed QKV projection (QAttention), the same matrices a traced graph's
        # q/k/v MatMuls hold.
        op_types_to_quantize=["MatMul", "Gemm", "Attention"],
        nodes_to_quantize=nodes,
        # Shape inference cannot type the outputs of onnxruntime's fused operators; they are all float32.
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def quantize_bundle(
    src: Path,
    out: Path,
    method: str = "all",
    keep_float: str = "",
    smooth_alpha: float | None = None,
    compensate: bool = False,
    calibration: Path | None = None,
    calibration_limit: int = 64,
    threads: int = 0,
) -> tuple[dict, list[dict]]:
    """Returns the int8 bundle's manifest and, per member, what calibration did (smoothed tensors, float32 check)."""
    manifest = json.loads((src / "manifest.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for member in manifest["members"]:
        original = src / member["onnx"]
        target = out / (Path(member["onnx"]).stem + ".int8.onnx")
        started = time.time()
        report: dict = {"id": member["id"]}
        if smooth_alpha is None and not compensate:
            quantize_backbone(original, target, method, keep_float)
        else:
            # Imported here: the calibrated path needs the calibration images, the plain one does not.
            from int8_calibration import calibration_pixels, compensate_rounding, max_abs_diff, smooth

            if calibration is None:
                raise SystemExit("--smooth / --compensate need --calibration DIR (training-split images)")
            pixels = calibration_pixels(calibration, member, calibration_limit)
            name = member["input"]["name"]
            model = onnx.load(str(original))
            report["calibrationImages"] = len(pixels)
            source = original
            if smooth_alpha is not None:
                reference = onnx.load(str(original))
                report["smoothedTensors"] = smooth(model, pixels, name, smooth_alpha, threads)
                # Exact in float32: the same function up to rounding (max |difference| of the backbone's output).
                report["smoothedFp32MaxAbsDiff"] = max_abs_diff(reference, model, pixels[:16], name, threads)
                source = out / (Path(member["onnx"]).stem + ".smoothed.onnx")
                onnx.save(model, str(source))
            quantize_backbone(source, target, method, keep_float)
            if compensate:
                quantized = onnx.load(str(target))
                report["compensatedWeights"] = compensate_rounding(quantized, model, pixels, name, threads)
                onnx.save(quantized, str(target))
            if source != original:
                source.unlink()
        print(
            f"[quantize] {member['id']}: {original.stat().st_size / 2**20:.0f} MiB -> "
            f"{target.stat().st_size / 2**20:.0f} MiB in {time.time() - started:.1f} s",
            file=sys.stderr,
        )
        reports.append(report)
        member["onnx"] = target.name
        member["sha256"] = sha256(target)
        member.pop("fp16", None)
        if "head" in member:
            shutil.copy(src / member["head"]["onnx"], out / member["head"]["onnx"])
    manifest["version"] = manifest["version"].split("+")[0] + "-int8"
    manifest["description"] = (manifest.get("description") or manifest["name"]) + ", int8 dynamic quantization"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest, reports


class BundleRunner:
    """Runs a bundle's members (backbone + optional head) on onnxruntime CPU with the benchmark's preprocessing."""

    def __init__(self, directory: Path, threads: int):
        self.manifest = json.loads((directory / "manifest.json").read_text())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.members = []
        for m in self.manifest["members"]:
            backbone = ort.InferenceSession(str(directory / m["onnx"]), options, providers=["CPUExecutionProvider"])
            head = (
                ort.InferenceSession(str(directory / m["head"]["onnx"]), options, providers=["CPUExecutionProvider"])
                if "head" in m
                else None
            )
            self.members.append((m, backbone, head))

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        total = np.zeros(pixels.shape[0], dtype=np.float64)
        weights = 0.0
        for m, backbone, head in self.members:
            if head is not None:
                emb = backbone.run([m["head"]["embedding"]["output"]], {m["input"]["name"]: pixels})[0]
                if m["head"]["embedding"].get("token") == "cls":
                    emb = emb[:, 0]
                out = head.run([m["output"]["name"]], {m["head"]["input"]: emb.astype(np.float32)})[0]
            else:
                out = backbone.run([m["output"]["name"]], {m["input"]["name"]: pixels})[0]
            out = out.reshape(out.shape[0], -1)[:, m["output"].get("index", 0)].astype(np.float64)
            if m["output"]["kind"] == "sigmoid":
                out = np.log(np.clip(out, 1e-12, 1)) - np.log(np.clip(1 - out, 1e-12, 1))
            total += m.get("weight", 1) * out
            weights += m.get("weight", 1)
        return total / weights


def load_pixels(path: Path, size: int, mean, std) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (array - np.asarray(mean, np.float32).reshape(3, 1, 1)) / np.asarray(std, np.float32).reshape(3, 1, 1)


def agreement(fp32: Path, int8: Path, heldout: Path, limit: int, threads: int) -> dict:
    files = sorted(p for p in heldout.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    a = BundleRunner(fp32, threads)
    b = BundleRunner(int8, threads)
    first = a.manifest["members"][0]
    size = first["input"]["shape"][2]
    pre = first.get("preprocessing", {})
    mean = pre.get("image_mean", [0.485, 0.456, 0.406])
    std = pre.get("image_std", [0.229, 0.224, 0.225])
    za, zb = [], []
    timings = {"fp32": 0.0, "int8": 0.0}
    for start in range(0, len(files), 16):
        batch = np.stack([load_pixels(p, size, mean, std) for p in files[start : start + 16]]).astype(np.float32)
        t = time.perf_counter()
        za.append(a.logits(batch))
        timings["fp32"] += time.perf_counter() - t
        t = time.perf_counter()
        zb.append(b.logits(batch))
        timings["int8"] += time.perf_counter() - t
        print(f"[quantize] held-out {min(start + 16, len(files))}/{len(files)}", file=sys.stderr)
    za = np.concatenate(za)
    zb = np.concatenate(zb)
    pa = 1 / (1 + np.exp(-za))
    pb = 1 / (1 + np.exp(-zb))
    same = int(np.sum((pa > 0.5) == (pb > 0.5)))
    margin = np.abs(pa - 0.5)
    return {
        "heldoutImages": len(files),
        "sameSideOfHalf": same,
        "agreement": round(same / max(1, len(files)), 4),
        "maxAbsDiff": float(np.max(np.abs(pa - pb))),
        "meanAbsDiff": float(np.mean(np.abs(pa - pb))),
        "fp32DistanceFromHalf": {q: float(np.quantile(margin, float(q))) for q in ("0.01", "0.1", "0.5")},
        "msPerImageBatch16": {k: round(1000 * v / max(1, len(files)), 2) for k, v in timings.items()},
    }


def cpu_cost(fp32: Path, int8: Path, rounds: int) -> dict:
    """Process CPU time per image of each bundle's first backbone: batch 1, one intra-op thread, no spinning. On a
    shared machine this is steadier than wall time (a thread waiting for its core costs no CPU time)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    runs = {}
    for key, directory in (("fp32", fp32), ("int8", int8)):
        member = json.loads((directory / "manifest.json").read_text())["members"][0]
        session = ort.InferenceSession(str(directory / member["onnx"]), options, providers=["CPUExecutionProvider"])
        pixels = np.random.default_rng(0).standard_normal([1, *member["input"]["shape"][1:]]).astype(np.float32)
        runs[key] = (session, {member["input"]["name"]: pixels})
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(rounds + 2):
        for key, (session, feed) in runs.items():  # interleaved: both see the same machine
            started = time.process_time()
            session.run(None, feed)
            if r >= 2:
                times[key].append(1000 * (time.process_time() - started))
    fp32_ms, int8_ms = (float(np.median(times[k])) for k in ("fp32", "int8"))
    return {"fp32": round(fp32_ms, 1), "int8": round(int8_ms, 1), "int8OverFp32": round(int8_ms / fp32_ms, 3), "rounds": rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--heldout", type=Path)
    ap.add_argument("--limit", type=int, default=512)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--method", choices=METHODS, default="all")
    ap.add_argument("--keep-float", default="", help=r"regex of nodes kept float32, e.g. 'layer\.0/|o_proj'")
    ap.add_argument("--smooth", type=float, metavar="ALPHA", help="SmoothQuant migration strength, e.g. 0.5")
    ap.add_argument("--compensate", action="store_true", help="GPTQ rounding of the int8 weights")
    ap.add_argument("--calibration", type=Path, help="training-split images for --smooth / --compensate")
    ap.add_argument("--calibration-limit", type=int, default=64)
    ap.add_argument("--cpu-cost", type=int, default=0, metavar="ROUNDS", help="time fp32 and int8 backbones")
    args = ap.parse_args()
    manifest, reports = quantize_bundle(
        args.bundle,
        args.out,
        args.method,
        args.keep_float,
        args.smooth,
        args.compensate,
        args.calibration,
        args.calibration_limit,
        args.threads,
    )
    result = {
        "quantization": "onnxruntime quantize_dynamic, MatMul/Gemm weights int8 per channel, activations uint8 per tensor",
        "method": args.method,
        "keepFloat": args.keep_float or None,
        "smoothAlpha": args.smooth,
        "compensatedRounding": args.compensate,
        "calibration": str(args.calibration) if args.calibration else None,
        "members": reports,
        "onnxruntime": ort.__version__,
        "bundle": f"{manifest['name']}@{manifest['version']}",
    }
    if args.heldout:
        result["int8VsFp32"] = agreement(args.bundle, args.out, args.heldout, args.limit, args.threads)
    if args.cpu_cost:
        result["cpuMsPerImage1Thread"] = cpu_cost(args.bundle, args.out, args.cpu_cost)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
