#!/usr/bin/env python3
"""Export a Hugging Face DINOv2-with-registers / DINOv2 / DINOv3 backbone to ONNX as a roadwork bundle member.

Only for models with no ONNX export on the Hub: for those that have one (onnx-community/dinov2-small,
onnx-community/dinov2-with-registers-small, ...), `roadwork train --backbone hf://org/name` needs no Python at all.

Requirements (Python >= 3.10; the axon and the trainer never need Python):

    pip install "torch>=2.3" "transformers>=4.48" "onnx>=1.16" "onnxruntime>=1.18" numpy huggingface_hub

(transformers >= 4.48 for Dinov2WithRegistersModel; DINOv3 needs transformers >= 4.56.)

Recipe:

    # a real checkpoint (downloads it, or pass a local directory), then train on the export directory
    python scripts/export-backbone.py --model facebook/dinov2-with-registers-small --out bundles/dinov2s
    roadwork train --data <dataset>/manifest.json --backbone bundles/dinov2s --out bundles/roadwork-dinov2s
    # offline, for timing: random weights from a built-in config, no download
    python scripts/export-backbone.py --random-weights --size base --out bundles/timing-base --fp16
    python scripts/export-backbone.py --random-weights --arch dinov3 --size small --out bundles/timing-v3

Writes into --out:
    backbone.onnx          input pixel_values float32 [N,3,H,W] -> output "embedding" float32 [N,D], as traced
    backbone.fused.onnx    (--fusion attention, the default) the same function after onnxruntime's transformer
                           fusion (scripts/backbone_fusion.py: fused Attention, BiasGelu; SkipLayerNormalization too
                           with --fusion all); member.json names it when its embeddings match the traced graph's
                           (relative error < 1e-4), and records the fusion under source.graph either way
    backbone.fp16.onnx     (--fp16) same interface, fp16 weights and arithmetic inside; used by the axon on GPU only
                           (fused with --fusion all's operators into backbone.fp16.fused.onnx, same check at 2e-2)
    member.json            the bundle member (id, files + sha256, input, preprocessing, embedding output and pooling,
                           source); `roadwork train --backbone <out dir>` reads exactly this file (its zod schema is
                           ExportedMemberSchema in packages/training/src/backbone-export.ts), checks the sha256 and
                           adds the trained head
    head.onnx + manifest.json
                           only with --random-weights (a seeded linear head, so the bundle loads and can be timed)
                           or --head FILE (a trained head [N,D] -> [N,1])

Notes
- The embedding is the CLS token after the final layer norm (`pooler_output`), or with --pool mean-patch the
  mean of the patch tokens concatenated to it (the DINOv2 linear-probe recipe): D doubles.
- Under tracing, transformers' DINOv2 always interpolates the position-embedding table with bicubic + antialias,
  which has no ONNX operator. When the grid already matches (config image_size == input size) the table is used
  as is; published checkpoints have image_size 518 (37x37 patches), so for a 224 input the exporter resamples the
  table once, eagerly, with transformers' own code, and `embeddings.interpolate_pos_encoding` returns that constant
  during export. The input size is therefore fixed to the preprocessing crop.
- Preprocessing is copied from the checkpoint's preprocessor_config.json (BitImageProcessor for DINOv2: shortest
  edge 256, bicubic, center crop 224, ImageNet mean/std). DINOv3 ships a "fast" processor that resizes with
  torchvision (antialiased bilinear); the axon applies PIL semantics for the same keys, a difference of a few
  levels at most on downscaled images.
- The export is checked: onnxruntime and torch must agree (relative error printed as JSON on stdout).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backbone_fusion import FUSIONS, fuse_transformer  # noqa: E402

DINOV3_PRESETS = {  # DINOv3 ViT sizes (patch 16, 4 registers, rotary positions), as in the published configs
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}
DINOV3_PREPROCESSING = {
    "image_processor_type": "DINOv3ViTImageProcessorFast",
    "do_resize": True,
    "size": {"height": 224, "width": 224},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
}
PRESETS = {  # DINOv2 ViT sizes (patch 14), as in the published configs
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16),
    "giant": dict(hidden_size=1536, num_hidden_layers=40, num_attention_heads=24, mlp_ratio=4, use_swiglu_ffn=True),
}
DINOV2_PREPROCESSING = {
    "image_processor_type": "BitImageProcessor",
    "do_resize": True,
    "size": {"shortest_edge": 256},
    "resample": 3,
    "do_center_crop": True,
    "crop_size": {"height": 224, "width": 224},
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "do_convert_rgb": True,
}
PREPROCESSING_KEYS = set(DINOV2_PREPROCESSING) | {"crop_pct"}


class Embedder(nn.Module):
    """pixel_values -> [N, D] embedding: CLS after the final norm, optionally with the mean patch token."""

    def __init__(self, model: nn.Module, pool: str, num_prefix_tokens: int):
        super().__init__()
        self.model = model
        self.pool = pool
        self.num_prefix_tokens = num_prefix_tokens

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=pixel_values)
        hidden = out.last_hidden_state
        cls = out.pooler_output if getattr(out, "pooler_output", None) is not None else hidden[:, 0]
        if self.pool == "cls":
            return cls
        patches = hidden[:, self.num_prefix_tokens :].mean(dim=1)
        return torch.cat([cls, patches], dim=1)


class HalfCompute(nn.Module):
    """fp16 weights and arithmetic behind a float32 interface."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner.half()  # the frozen position table follows via .to(emb.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.half()).float()


def fix_position_table(model: nn.Module, height: int, width: int) -> None:
    """Freeze the position table at the export resolution.

    Eagerly (outside tracing) transformers returns the table unchanged when the grid already matches and otherwise
    resamples it with bicubic + antialias; the result for (height, width) is computed once here and returned as a
    constant while tracing, where the resampling has no ONNX operator."""
    embeddings = getattr(model, "embeddings", None)
    if embeddings is None or not hasattr(embeddings, "interpolate_pos_encoding") or not hasattr(embeddings, "position_embeddings"):
        return  # e.g. DINOv3 (rotary position embeddings): nothing to freeze
    patch = model.config.patch_size
    dim = embeddings.position_embeddings.shape[-1]
    dummy = torch.zeros(1, 1 + (height // patch) * (width // patch), dim)
    with torch.no_grad():
        table = embeddings.interpolate_pos_encoding(dummy, height, width).detach().clone()
    # Follows the embeddings to their device and dtype (an fp16 export runs on CUDA).
    embeddings.interpolate_pos_encoding = lambda emb, h, w: table.to(device=emb.device, dtype=emb.dtype)


def eager_attention(model: nn.Module) -> None:
    """Traced with the explicit softmax(QK^T/sqrt(d))V (the same function as SDPA): the form the fusion matches."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:
        model.config._attn_implementation = "eager"


FUSION_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}


def fused(traced: Path, fusion: str, x: np.ndarray, precision: str) -> tuple[str, dict]:
    """Fuses a traced backbone; returns the file member.json should name and what happened."""
    import onnxruntime as ort

    target = traced.with_name(traced.name.replace(".onnx", ".fused.onnx"))
    try:
        report = fuse_transformer(traced, target, fusion)
        cpu = ["CPUExecutionProvider"]
        ref = ort.InferenceSession(str(traced), providers=cpu).run(None, {"pixel_values": x})[0]
        got = ort.InferenceSession(str(target), providers=cpu).run(None, {"pixel_values": x})[0]
    except Exception as error:  # noqa: BLE001 - any failure keeps the traced graph, with the reason recorded
        return traced.name, {"fusion": fusion, "used": False, "reason": f"{type(error).__name__}: {str(error)[:300]}"}
    report["vsTracedRelErr"] = float(np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-12))
    report["used"] = bool(report["fusedOperators"].get("Attention")) and report["vsTracedRelErr"] < FUSION_TOLERANCE[precision]
    if not report["used"]:
        report["reason"] = "no Attention fused" if not report["fusedOperators"].get("Attention") else "outputs differ"
        target.unlink()
    return (target.name if report["used"] else traced.name), report


def load_model(args):
    from transformers import AutoConfig, AutoModel

    if args.random_weights:
        torch.manual_seed(args.seed)
        if args.arch == "dinov3":
            from transformers import DINOv3ViTConfig, DINOv3ViTModel

            if args.size not in DINOV3_PRESETS:
                sys.exit(f"--arch dinov3 sizes: {list(DINOV3_PRESETS)}")
            config = DINOv3ViTConfig(patch_size=16, num_register_tokens=4, **DINOV3_PRESETS[args.size])
            return DINOv3ViTModel(config).eval(), dict(DINOV3_PREPROCESSING), f"dinov3-{args.size}-random"
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

        # image_size 518 like the published checkpoints, so the position table is resampled as it would be for them
        config = Dinov2WithRegistersConfig(image_size=518, patch_size=14, num_register_tokens=4, **PRESETS[args.size])
        return Dinov2WithRegistersModel(config).eval(), dict(DINOV2_PREPROCESSING), f"dinov2-reg-{args.size}-random"
    config = AutoConfig.from_pretrained(args.model, revision=args.revision)
    attn = "eager" if args.fusion != "none" else None  # older transformers pick attention classes at load time
    model = AutoModel.from_pretrained(args.model, revision=args.revision, config=config, attn_implementation=attn).eval()
    return model, read_preprocessing(args.model, args.revision), args.model.rstrip("/").split("/")[-1]


def read_preprocessing(model: str, revision: str | None) -> dict:
    local = Path(model) / "preprocessor_config.json"
    if local.exists():
        raw = json.loads(local.read_text())
    else:
        from huggingface_hub import hf_hub_download

        raw = json.loads(Path(hf_hub_download(model, "preprocessor_config.json", revision=revision)).read_text())
    spec = {k: v for k, v in raw.items() if k in PREPROCESSING_KEYS}
    if "crop_size" not in spec and spec.get("size", {}).get("height"):
        spec["do_center_crop"] = False
    return spec


def input_size(pre: dict) -> tuple[int, int]:
    if pre.get("do_center_crop") and "crop_size" in pre:
        c = pre["crop_size"]
        return (c, c) if isinstance(c, int) else (c["height"], c["width"])
    s = pre.get("size", {})
    if "height" in s:
        return s["height"], s["width"]
    if "crop_pct" in pre and "shortest_edge" in s:
        return s["shortest_edge"], s["shortest_edge"]
    sys.exit("preprocessing does not produce a fixed size; add do_center_crop + crop_size")


def export(module: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    torch.onnx.export(
        module, (example,), str(path), input_names=["pixel_values"], output_names=["embedding"],
        dynamic_axes={"pixel_values": {0: "N"}, "embedding": {0: "N"}}, opset_version=opset, dynamo=False,
    )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def linear_head(dim: int, seed: int, path: Path, opset: int) -> None:
    torch.manual_seed(seed)
    head = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid()).eval()
    torch.onnx.export(head, (torch.randn(2, dim),), str(path), input_names=["embedding"], output_names=["probability"],
                      dynamic_axes={"embedding": {0: "N"}, "probability": {0: "N"}}, opset_version=opset, dynamo=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="HF repo id or local directory (e.g. facebook/dinov2-with-registers-small)")
    p.add_argument("--revision")
    p.add_argument("--random-weights", action="store_true", help="build from a built-in config; no download")
    p.add_argument("--arch", choices=["dinov2-reg", "dinov3"], default="dinov2-reg", help="with --random-weights")
    p.add_argument("--size", choices=list(PRESETS), default="small", help="with --random-weights")
    p.add_argument("--pool", choices=["cls", "cls+mean-patch"], default="cls")
    p.add_argument("--out", required=True)
    p.add_argument("--id", help="member id (default: derived from the model)")
    p.add_argument("--fp16", action="store_true", help="also write backbone.fp16.onnx (GPU only)")
    p.add_argument("--head", help="a trained head ONNX [N,D]->[N,1] (input 'embedding'); writes a complete bundle")
    p.add_argument("--head-output", default="probability")
    p.add_argument("--head-kind", choices=["sigmoid", "logit"], default="sigmoid")
    p.add_argument("--version", default="0.1.0")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fusion", choices=FUSIONS, default="attention",
                   help="onnxruntime transformer fusion (none: the traced graph only; all: also SkipLayerNormalization)")
    args = p.parse_args()
    if not args.model and not args.random_weights:
        p.error("give --model or --random-weights")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model, pre, name = load_model(args)
    if args.fusion != "none":
        eager_attention(model)
    h, w = input_size(pre)
    fix_position_table(model, h, w)
    prefix = 1 + int(getattr(model.config, "num_register_tokens", 0) or 0)
    embedder = Embedder(model, "cls" if args.pool == "cls" else "mean", prefix).eval()
    example = torch.randn(2, 3, h, w)
    with torch.no_grad():
        export(embedder, example, out / "backbone.onnx", args.opset)
    files = {"backbone.onnx"}

    import onnxruntime as ort

    x = torch.randn(3, 3, h, w)  # a batch size different from the export's
    with torch.no_grad():
        ref = embedder(x).numpy()
    got = ort.InferenceSession(str(out / "backbone.onnx"), providers=["CPUExecutionProvider"]).run(None, {"pixel_values": x.numpy()})[0]
    check = {"embedding_dim": int(ref.shape[1]), "rel_err": float(np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-12))}
    graph: dict = {}
    backbone_file = "backbone.onnx"
    if args.fusion != "none":
        backbone_file, graph["fp32"] = fused(out / "backbone.onnx", args.fusion, x.numpy(), "fp32")
        files.add(backbone_file)
        print(f"[export] fp32 graph: {json.dumps(graph['fp32'])}", file=sys.stderr)

    if args.fp16:
        half = HalfCompute(embedder)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        with torch.no_grad():
            export(half.to(device), example.to(device), out / "backbone.fp16.onnx", args.opset)
        files.add("backbone.fp16.onnx")
        got16 = ort.InferenceSession(str(out / "backbone.fp16.onnx"), providers=["CPUExecutionProvider"]).run(
            None, {"pixel_values": x.numpy()}
        )[0]
        check["fp16_rel_err"] = float(np.linalg.norm(got16 - ref) / max(np.linalg.norm(ref), 1e-12))
    fp16_file = "backbone.fp16.onnx"
    if args.fp16 and args.fusion != "none":
        # GPU only: SkipLayerNormalization too (one kernel instead of two per residual).
        fp16_file, graph["fp16"] = fused(out / "backbone.fp16.onnx", "all", x.numpy(), "fp16")
        files.add(fp16_file)
        print(f"[export] fp16 graph: {json.dumps(graph['fp16'])}", file=sys.stderr)

    member_id = args.id or name.replace("/", "-").replace("_", "-")
    member = {
        "id": member_id,
        "onnx": backbone_file,
        "sha256": sha256(out / backbone_file),
        "input": {"name": "pixel_values", "shape": ["N", 3, h, w], "dtype": "float32"},
        "preprocessing": pre,
        "embedding": {"output": "embedding", "token": "none", "dim": check["embedding_dim"], "pool": args.pool},
        "source": {"model": args.model or name, "revision": args.revision, "randomWeights": bool(args.random_weights),
                   "graph": graph or {"fusion": "none"}},
    }
    if args.fp16:
        member["fp16"] = {"onnx": fp16_file, "sha256": sha256(out / fp16_file)}
    (out / "member.json").write_text(json.dumps(member, indent=2) + "\n")

    head_file = None
    if args.head:
        head_file = Path(args.head)
        (out / "head.onnx").write_bytes(head_file.read_bytes())
    elif args.random_weights:
        linear_head(check["embedding_dim"], args.seed + 1, out / "head.onnx", args.opset)
        head_file = out / "head.onnx"
    if head_file is not None:
        bundle_member = {k: v for k, v in member.items() if k != "embedding"}
        bundle_member["head"] = {"onnx": "head.onnx", "sha256": sha256(out / "head.onnx"), "input": "embedding",
                                 "embedding": {"output": "embedding", "token": "none"}}
        bundle_member["output"] = {"name": args.head_output, "kind": args.head_kind}
        manifest = {
            "schemaVersion": 1, "name": member_id, "version": args.version,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "description": f"{name} backbone ({args.pool})" + (" with random weights, for timing only" if args.random_weights else ""),
            "members": [bundle_member], "combine": "mean-logit", "tta": ["none"], "calibration": {"kind": "none"},
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    check["seconds"] = round(time.time() - t0, 1)
    check["files"] = sorted(files | ({"head.onnx", "manifest.json"} if head_file else set()) | {"member.json"})
    print(json.dumps(check))
    if check["rel_err"] > 1e-3:
        sys.exit(f"onnxruntime and torch disagree (relative error {check['rel_err']:.2e})")


if __name__ == "__main__":
    main()
