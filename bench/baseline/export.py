"""Builds the benchmark models (seeded random weights) and writes them twice: as torch state dicts for the Python
baseline and as ONNX (backbone + head, fp32 and optionally fp16 compute) for the TypeScript axon. Then checks that
onnxruntime and torch agree on the same inputs, and prints that check as JSON on stdout.

    python export.py --out DIR --models dinov2-s14-reg [--models-2 ...] [--hflip] [--fp16] [--seed 7] [--fusion attention]

ViT backbones (DINOv2) are written twice: as traced (`<arch>.backbone.onnx`) and with onnxruntime's transformer
fusion (`<arch>.backbone.fused.onnx`, scripts/backbone_fusion.py: fused Attention, BiasGelu; SkipLayerNormalization
too with --fusion all). The bundle uses the fused graph when its embeddings match the traced graph's (relative error
below 1e-4 in fp32, 2e-2 in fp16) and the traced one otherwise; the check and the choice are in the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

import models

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from backbone_fusion import FUSIONS, fuse_transformer  # noqa: E402


class HalfCompute(nn.Module):
    """fp16 weights and arithmetic behind an fp32 interface, so callers feed and read float32 either way."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.half()).float()


def _fixed_position_table(backbone: models.Backbone) -> None:
    # Under tracing transformers always interpolates the position table (bicubic + antialias, no ONNX op). At
    # 224x224 the table already has the right grid, so hand it back unchanged.
    embeddings = getattr(backbone.model, "embeddings", None)
    if embeddings is not None and hasattr(embeddings, "interpolate_pos_encoding") and hasattr(embeddings, "position_embeddings"):
        embeddings.interpolate_pos_encoding = lambda emb, height, width: embeddings.position_embeddings


def _export(module: nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str) -> None:
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=[input_name],
        output_names=[output_name],
        dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def _eager_attention(backbone: models.Backbone) -> None:
    # Traced with the explicit softmax(QK^T/sqrt(d))V (same function as SDPA), the pattern the fusion matches.
    if hasattr(backbone.model, "set_attn_implementation"):
        backbone.model.set_attn_implementation("eager")
    else:
        backbone.model.config._attn_implementation = "eager"


# The fused graph replaces the traced one only when it computes the same embeddings.
FUSION_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}


def _fused(traced: Path, fusion: str, x: np.ndarray, precision: str) -> tuple[Path, dict]:
    """Fuses a traced backbone; returns the file the bundle should use and what happened."""
    target = traced.with_name(traced.name.replace(".onnx", ".fused.onnx"))
    try:
        report = fuse_transformer(traced, target, fusion)
        ref = ort.InferenceSession(str(traced), providers=_providers()).run(None, {"pixel_values": x})[0]
        got = ort.InferenceSession(str(target), providers=_providers()).run(None, {"pixel_values": x})[0]
    except Exception as error:  # noqa: BLE001 - any failure keeps the traced graph, with the reason recorded
        return traced, {"fusion": fusion, "used": False, "reason": f"{type(error).__name__}: {str(error)[:300]}"}
    report["vsTracedRelErr"] = _rel_err(got, ref)
    report["vsTracedMaxAbsDiff"] = float(np.abs(got - ref).max())
    report["used"] = bool(report["fusedOperators"].get("Attention")) and report["vsTracedRelErr"] < FUSION_TOLERANCE[precision]
    if not report["used"]:
        report["reason"] = "no Attention fused" if not report["fusedOperators"].get("Attention") else "outputs differ"
    return (target if report["used"] else traced), report


def _providers() -> list[str]:
    available = ort.get_available_providers()
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if "CUDAExecutionProvider" in available else ["CPUExecutionProvider"]


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


def export_member(arch: str, seed: int, out: Path, fp16: bool, device: str, fusion: str = "attention") -> dict:
    t0 = time.time()
    model = models.build(arch, seed)
    torch.save(model.state_dict(), out / f"{arch}.pt")
    vit = arch.startswith(("dinov2", "vit"))
    fusion = fusion if vit else "none"
    if fusion != "none":
        _eager_attention(model.backbone)
    _fixed_position_table(model.backbone)
    dim = models.hidden_size(model.backbone.config)
    example = torch.randn(2, 3, models.IMAGE_SIZE, models.IMAGE_SIZE)
    _export(model.backbone, example, out / f"{arch}.backbone.onnx", "pixel_values", "embedding")
    _export(model.head, torch.randn(2, dim), out / f"{arch}.head.onnx", "embedding", "probability")
    files = {"state_dict": f"{arch}.pt", "backbone": f"{arch}.backbone.onnx", "head": f"{arch}.head.onnx"}

    # Agreement check on fresh inputs, batch 3 (not the export batch), through onnxruntime.
    x = torch.randn(3, 3, models.IMAGE_SIZE, models.IMAGE_SIZE)
    graph = {}
    if fusion != "none":
        chosen, graph["fp32"] = _fused(out / files["backbone"], fusion, x.numpy(), "fp32")
        files["backbone_traced"] = files["backbone"]
        files["backbone"] = chosen.name
    with torch.no_grad():
        ref_emb = model.backbone(x).numpy()
        ref_prob = model.head(torch.from_numpy(ref_emb)).numpy()
    backbone = ort.InferenceSession(str(out / files["backbone"]), providers=_providers())
    head = ort.InferenceSession(str(out / f"{arch}.head.onnx"), providers=["CPUExecutionProvider"])
    emb = backbone.run(None, {"pixel_values": x.numpy()})[0]
    prob = head.run(None, {"embedding": emb})[0]
    check = {
        "embedding_rel_err": _rel_err(emb, ref_emb),
        "probability_max_abs_diff": float(np.abs(prob - ref_prob).max()),
    }

    if fp16:
        half = HalfCompute(models.build(arch, seed).backbone).to(device)
        if fusion != "none":
            _eager_attention(half.inner)
        _fixed_position_table(half.inner)
        _export(half, example.to(device), out / f"{arch}.backbone.fp16.onnx", "pixel_values", "embedding")
        files["backbone_fp16"] = f"{arch}.backbone.fp16.onnx"
        if fusion != "none":
            # GPU only: SkipLayerNormalization too (one kernel instead of two per residual).
            chosen, graph["fp16"] = _fused(out / files["backbone_fp16"], "all", x.numpy(), "fp16")
            files["backbone_fp16_traced"] = files["backbone_fp16"]
            files["backbone_fp16"] = chosen.name
        emb16 = ort.InferenceSession(str(out / files["backbone_fp16"]), providers=_providers()).run(
            None, {"pixel_values": x.numpy()}
        )[0]
        prob16 = head.run(None, {"embedding": emb16})[0]
        check["fp16_embedding_rel_err"] = _rel_err(emb16, ref_emb)
        check["fp16_probability_max_abs_diff"] = float(np.abs(prob16 - ref_prob).max())
        del half

    params = sum(p.numel() for p in model.parameters())
    print(f"[export] {arch}: {params / 1e6:.1f}M params in {time.time() - t0:.1f}s {json.dumps(check)}", file=sys.stderr)
    for precision, report in graph.items():
        print(f"[export] {arch} {precision} graph: {json.dumps(report)}", file=sys.stderr)
    return {
        "graph": graph,
        "arch": arch,
        "description": models.ARCHITECTURES[arch][0],
        "embedding_dim": dim,
        "params": params,
        "files": files,
        "check": check,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(out: Path, members: list[dict], hflip: bool, name: str, fp16: bool = False) -> dict:
    """manifest.json of the TypeScript axon's model bundle, pointing at the same ONNX files. With fp16, the members
    also list their fp16-compute backbones, which the axon runs when it is on a GPU."""
    entries = []
    for member in members:
        files = member["files"]
        entry = {
            "id": member["arch"],
            "onnx": files["backbone"],
            "sha256": _sha256(out / files["backbone"]),
            "input": {"name": "pixel_values", "shape": ["batch", 3, models.IMAGE_SIZE, models.IMAGE_SIZE], "dtype": "float32"},
            "preprocessing": {
                "do_resize": True,
                "size": {"height": models.IMAGE_SIZE, "width": models.IMAGE_SIZE},
                "resample": 2,
                "image_mean": list(models.MEAN),
                "image_std": list(models.STD),
                # The Python miner stretches every frame to 224x224 (whole frame, no crop): the same function here.
                "frame_policy": "processor",
            },
            "output": {"name": "probability", "kind": "sigmoid"},
            "head": {
                "onnx": files["head"],
                "sha256": _sha256(out / files["head"]),
                "input": "embedding",
                "embedding": {"output": "embedding", "token": "none"},
            },
        }
        if fp16 and "backbone_fp16" in files:
            entry["fp16"] = {"onnx": files["backbone_fp16"], "sha256": _sha256(out / files["backbone_fp16"])}
        entries.append(entry)
    manifest = {
        "schemaVersion": 1,
        "name": name,
        "version": "1.0.0",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "description": " + ".join(m["description"] for m in members)
        + (" + hflip TTA" if hflip else "")
        + ", random weights (timing only)",
        "members": entries,
        # The baseline averages probabilities over members and views; the bundle must compute the same function.
        "combine": "mean-probability",
        "tta": ["none", "hflip"] if hflip else ["none"],
        "calibration": {"kind": "none"},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", required=True, help="comma-separated architectures: " + ",".join(models.ARCHITECTURES))
    parser.add_argument("--hflip", action="store_true", help="average over the image and its mirror")
    parser.add_argument("--fp16", action="store_true", help="also write fp16-compute backbones")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--name", default="bench", help="bundle name in manifest.json")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--fusion", choices=FUSIONS, default="attention",
        help="onnxruntime transformer fusion of ViT backbones (none: the traced graph; all: also SkipLayerNormalization)",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    archs = args.models.split(",")
    unknown = [a for a in archs if a not in models.ARCHITECTURES]
    if unknown:
        sys.exit(f"unknown architecture(s) {unknown}; choose from {list(models.ARCHITECTURES)}")
    members = [export_member(arch, args.seed + i, out, args.fp16, args.device, args.fusion) for i, arch in enumerate(archs)]
    spec = {
        "weights": "random (seeded init from transformers configs; for timing only, not a trained model)",
        "image_size": models.IMAGE_SIZE,
        "mean": models.MEAN,
        "std": models.STD,
        "hflip": args.hflip,
        "members": members,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
    }
    (out / "baseline.json").write_text(json.dumps(spec, indent=2))
    write_manifest(out, members, args.hflip, args.name)
    if args.fp16:
        # A second bundle over the same files (hard links), whose manifest adds the fp16 backbones.
        fp16_dir = out / "fp16"
        fp16_dir.mkdir(exist_ok=True)
        for member in members:
            for file in member["files"].values():
                target = fp16_dir / file
                if not target.exists():
                    os.link(out / file, target)
        write_manifest(fp16_dir, members, args.hflip, args.name + "-fp16", fp16=True)
    print(json.dumps(spec))


if __name__ == "__main__":
    main()
