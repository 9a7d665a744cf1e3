"""Model-only CPU timing of one backbone's graph variants and onnxruntime session options against torch, on the
cores this process is given (run it under `taskset -c 2,3`), one image at a time. Explains bench/driver.ts's CPU
ratios: which graph (traced / fused / int8) and which session options make the model itself faster than torch's on
the same cores, with and without a competing thread like the axon's own (V8's GC and compiler helpers, the signature
pool) that wakes up during inference.

    python bench/baseline/graph_bench.py --dir MODEL_DIR [--arch dinov2-s14-reg] [--threads 2] [--runs 60]

MODEL_DIR is bench/baseline/export.py's output (traced `<arch>.backbone.onnx` and fused `<arch>.backbone.fused.onnx`);
int8 copies of both are made here with quantize.py's settings. Variants run interleaved, round by round, so drift
hits all alike. Prints one JSON document: p50/p99 per variant and its ratio to torch's p99.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import models
from quantize import quantize_backbone

# name -> session config entries (onnxruntime's documented session options keys)
SESSION_OPTIONS = {
    "default": {},
    "no-spin": {"session.intra_op.allow_spinning": "0"},
    "dynamic-block": {"session.dynamic_block_base": "4"},
    "no-spin+dynamic-block": {"session.intra_op.allow_spinning": "0", "session.dynamic_block_base": "4"},
}


def competitor(stop, busy_ms: float, period_ms: float) -> None:
    """A thread-like load on the same cores: busy for busy_ms every period_ms (the axon's helper threads)."""
    while not stop.is_set():
        end = time.perf_counter() + busy_ms / 1000
        while time.perf_counter() < end:
            pass
        time.sleep((period_ms - busy_ms) / 1000)


def session(path: Path, threads: int, entries: dict) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    for k, v in entries.items():
        options.add_session_config_entry(k, v)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def summary(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"n": len(a), "p50": round(float(np.median(a)), 2), "p99": round(float(np.quantile(a, 0.99)), 2),
            "mean": round(float(a.mean()), 2), "min": round(float(a.min()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--arch", default="dinov2-s14-reg")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--options", default=",".join(SESSION_OPTIONS), help="session option sets to try")
    ap.add_argument("--competitor", default="2:20", help="busy_ms:period_ms of the competing load, '' for none")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    x = np.random.default_rng(1).standard_normal((1, 3, models.IMAGE_SIZE, models.IMAGE_SIZE)).astype(np.float32)
    backbone = models.build(args.arch, 7).backbone  # as bench/baseline/miner.py runs it (SDPA attention)

    def torch_run() -> None:
        with torch.inference_mode():
            backbone(torch.from_numpy(x))

    graphs = {"traced": args.dir / f"{args.arch}.backbone.onnx", "fused": args.dir / f"{args.arch}.backbone.fused.onnx"}
    graphs = {k: v for k, v in graphs.items() if v.exists()}
    tmp = Path(tempfile.mkdtemp(prefix="graph-bench-"))
    for name, path in list(graphs.items()):
        graphs[f"{name}-int8"] = tmp / f"{name}.int8.onnx"
        quantize_backbone(path, graphs[f"{name}-int8"])
    runners = {"torch": torch_run}
    for g, path in graphs.items():
        for o in args.options.split(","):
            s = session(path, args.threads, SESSION_OPTIONS[o])
            runners[f"{g}/{o}"] = (lambda s=s: s.run(None, {"pixel_values": x}))

    loads = {"quiet": None}
    if args.competitor:
        busy, period = (float(v) for v in args.competitor.split(":"))
        loads[f"competitor {busy:g}ms/{period:g}ms"] = (busy, period)
    results: dict = {}
    for load, spec in loads.items():
        stop = multiprocessing.Event()
        proc = None
        if spec:
            proc = multiprocessing.Process(target=competitor, args=(stop, *spec), daemon=True)
            proc.start()
        for run in runners.values():  # warm-up
            for _ in range(3):
                run()
        times = {k: [] for k in runners}
        for _ in range(args.runs):
            for k, run in runners.items():
                t = time.perf_counter()
                run()
                times[k].append((time.perf_counter() - t) * 1000)
        if proc:
            stop.set()
            proc.join()
        base = summary(times["torch"])
        results[load] = {
            k: {**summary(v), "p99/torchP99": round(summary(v)["p99"] / base["p99"], 3),
                "p50/torchP50": round(summary(v)["p50"] / base["p50"], 3)}
            for k, v in times.items()
        }
        print(f"[graph-bench] {load}: " + ", ".join(f"{k} {r['p50']}/{r['p99']}" for k, r in results[load].items()),
              file=sys.stderr)
    print(json.dumps({
        "benchmark": "backbone model-only latency, one image at a time, graph variants x session options vs torch",
        "arch": args.arch,
        "threads": args.threads,
        "cpus": sorted(os.sched_getaffinity(0)),
        "loadavg": os.getloadavg(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "sessionOptions": SESSION_OPTIONS,
        "latencyMs": results,
    }, indent=2))


if __name__ == "__main__":
    main()
