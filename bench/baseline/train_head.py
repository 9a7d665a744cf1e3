"""A trained bundle for the int8 agreement check: a logistic-regression head fitted on the benchmark backbone's own
embeddings of a labelled procedural dataset (`roadwork synth --generator procedural`), written in place of the random
head, so fp32 answers spread around 0.5 the way a real model's do (random weights put 99 % of them far from 0.5).

    python bench/baseline/train_head.py --bundle DIR --dataset STORE --out DIR [--heldout-out DIR] [--heldout-fraction 0.3]
        [--calibration-out DIR] [--calibration-count 64]

The dataset store's newest version gives each image's label; a seeded split (by image hash) keeps --heldout-fraction
of the images out of training and copies them to --heldout-out for `quantize.py --heldout`; --calibration-out gets the
first --calibration-count training images for `quantize.py --calibration` (never held-out ones). Preprocessing is
quantize.py's (PIL bilinear to the input size, ImageNet normalization). Prints one JSON document (accuracy on the
training and held-out images, how close held-out answers sit to 0.5).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from quantize import load_pixels, sha256


def dataset_images(store: Path) -> list[tuple[Path, int, str]]:
    """(image path, label, sha256) of every labelled image in the store's newest version."""
    latest = json.loads((store / "latest.json").read_text())
    version_id = latest.get("id") or latest.get("version") or latest.get("latest")
    version = json.loads((store / "versions" / f"{version_id}.json").read_text())
    out = []
    for r in version["records"]:
        if r.get("label") not in (0, 1):
            continue
        path = store / "images" / r["sha256"][:2] / r["sha256"]
        if path.exists():
            out.append((path, int(r["label"]), r["sha256"]))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 30) -> tuple[np.ndarray, float]:
    """Newton's method on standardized features; the scaling is folded back into raw-feature weights."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2 * len(x))
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        w -= np.linalg.solve(hess, grad)
    weights = w[:-1] / sd
    bias = float(w[-1] - np.sum(w[:-1] * mu / sd))
    return weights.astype(np.float32), bias


def head_model(weights: np.ndarray, bias: float, input_name: str, output_name: str) -> onnx.ModelProto:
    dim = len(weights)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [input_name, "w"], ["logit_raw"]),
            helper.make_node("Add", ["logit_raw", "b"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], [output_name]),
        ],
        "trained_head",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", dim])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(weights.reshape(dim, 1), "w"), numpy_helper.from_array(np.float32([bias]), "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="roadwork-bench")
    model.ir_version = 8  # what onnxruntime 1.2x reads; newer onnx writes IR 10+ by default
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True, type=Path)
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--heldout-out", type=Path)
    ap.add_argument("--heldout-fraction", type=float, default=0.3)
    ap.add_argument("--calibration-out", type=Path)
    ap.add_argument("--calibration-count", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    manifest = json.loads((args.bundle / "manifest.json").read_text())
    member = manifest["members"][0]
    if len(manifest["members"]) != 1 or "head" not in member:
        sys.exit("train_head.py expects a one-member bundle with a backbone + head (bench/baseline/export.py)")
    head = member["head"]
    size = member["input"]["shape"][2]
    pre = member.get("preprocessing", {})
    mean = pre.get("image_mean", [0.485, 0.456, 0.406])
    std = pre.get("image_std", [0.229, 0.224, 0.225])

    images = dataset_images(args.dataset)
    if len(images) < 20:
        sys.exit(f"{args.dataset}: only {len(images)} labelled images")
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    backbone = ort.InferenceSession(str(args.bundle / member["onnx"]), options, providers=["CPUExecutionProvider"])
    embeddings = []
    for start in range(0, len(images), 16):
        batch = np.stack([load_pixels(p, size, mean, std) for p, _, _ in images[start : start + 16]])
        embeddings.append(backbone.run([head["embedding"]["output"]], {member["input"]["name"]: batch})[0])
        print(f"[train-head] embedded {min(start + 16, len(images))}/{len(images)}", file=sys.stderr)
    x = np.concatenate(embeddings).reshape(len(images), -1).astype(np.float64)
    y = np.array([label for _, label, _ in images], dtype=np.float64)
    # Seeded split by image hash: the same images are held out on every machine.
    held = np.array([int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) / 2**32 < args.heldout_fraction for _, _, s in images])
    weights, bias = fit_logistic(x[~held], y[~held])

    def accuracy(mask: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(x[mask] @ weights + bias)))
        return round(float(np.mean((p > 0.5) == (y[mask] > 0.5))), 4)

    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.bundle / member["onnx"], args.out / member["onnx"])
    onnx.save(head_model(weights, bias, head["input"], member["output"]["name"]), args.out / head["onnx"])
    head["sha256"] = sha256(args.out / head["onnx"])
    manifest["version"] = manifest["version"].split("-")[0] + "-trained"
    manifest["description"] = f"{manifest.get('description', manifest['name'])}; head trained on {int((~held).sum())} procedural images"
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if args.heldout_out:
        args.heldout_out.mkdir(parents=True, exist_ok=True)
        for i, (path, label, _) in enumerate(p for p, h in zip(images, held) if h):
            shutil.copy(path, args.heldout_out / f"{i:04d}-label{label}.jpg")
    if args.calibration_out:
        args.calibration_out.mkdir(parents=True, exist_ok=True)
        training = [image for image, h in zip(images, held) if not h][: args.calibration_count]
        for i, (path, label, _) in enumerate(training):
            shutil.copy(path, args.calibration_out / f"{i:04d}-label{label}.jpg")
    p_held = 1 / (1 + np.exp(-(x[held] @ weights + bias)))
    print(
        json.dumps(
            {
                "trainedOn": int((~held).sum()),
                "heldout": int(held.sum()),
                "trainAccuracy": accuracy(~held),
                "heldoutAccuracy": accuracy(held),
                "heldoutDistanceFromHalf": {q: float(np.quantile(np.abs(p_held - 0.5), float(q))) for q in ("0.1", "0.5")},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
