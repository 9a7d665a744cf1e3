#!/usr/bin/env bash
# The GPU benchmark on a remote machine with an NVIDIA GPU, Python 3.12 + PyTorch + transformers + onnx, and no Node.
# What it needs travels beside the repo in .gpucarry/ (see bench/gpu/pack.sh, which builds it here):
#   p1,p2,p3,p5/ortcuda.part*  onnxruntime 1.29 CUDA provider (libonnxruntime_providers_cuda.so + _shared.so), xz, split
#   p4/node.xz              this machine's node binary
#   p4/node_modules.tar.xz  onnxruntime-node + sharp, the two native packages the bundles load
#   p3/driver.mjs, p3/axon-server.mjs, …   bench/driver.ts, bench/axon-server.ts etc. bundled by esbuild
#   p6/trainset.tar         a labelled procedural dataset store, for the int8 agreement of a trained head (`all`)
#   .whl/                   starlette + uvicorn wheels (the image has neither; it has no pydantic-core for 3.12 either)
#
#   bench/gpu/device.sh stage N   copy part N to /tmp (N=1 also starts the model exports in the background)
#   bench/gpu/device.sh run       assemble, wait for the exports, run the benchmarks, write JSON + SVG to $OUT (default bench/out/gpu)
#   bench/gpu/device.sh cpu       the CPU comparison alone (2 pinned cores, fp32 + int8 + BENCH_CPU_VARIANTS, idle servers
#                                 paused), no GPU parts: `cpu stage` (carry .gpucarry/p4) starts the model export and
#                                 returns, then `cpu` (carry .gpucarry/p7 .whl) measures (~5 min)
#   bench/gpu/device.sh cpu-graphs  model only on the 2 pinned cores: traced / fused / int8 graphs x onnxruntime
#                                 session options vs torch, quiet and with a competing thread (~3 min, after stage 1)
#   bench/gpu/device.sh all       one run for every issue-13 ratio (GPU B + frames, ensemble, phases, 2 pinned CPU cores
#                                 fp32 + int8, int8 agreement of a trained head, shrink factor); no hotkey levels.
#                                 Results in $OUT/results.tgz (the device returns at most 8 files) + the summary
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/out/gpu} # where results go
mkdir -p "$OUT"
STAGE=/tmp/roadwork-bench
MODELS=$STAGE/models
# Overridable for a rehearsal on a machine without a GPU (BENCH_DEVICE=cpu, smaller models, a venv Python).
PY=${BENCH_PYTHON:-python3}
DEVICE=${BENCH_DEVICE:-cuda}
B_MODELS=${BENCH_B_MODELS:-dinov2-b14-reg}
E_MODELS=${BENCH_E_MODELS:-dinov2-l14-reg,convnext-b}
# node's flags for the axons, as the axon container's CMD passes them (containers/axon/Dockerfile, per target).
GPU_NODE_FLAGS="--initial-old-space-size=256"
CPU_NODE_FLAGS="--initial-old-space-size=256 --single-threaded-gc"
# onnxruntime transformer fusion of the ViT backbones (bench/baseline/export.py --fusion): attention | all | none.
FUSION=${BENCH_FUSION:-attention}
mkdir -p "$STAGE"

export_models() { # label, models, hflip (true|false), device, fp16 (true|false); writes the key the driver checks
  local label=$1 models=$2 hflip=$3 device=$4 fp16=$5
  local dir=$MODELS/$label flags=(--device "$device")
  [ "$hflip" = true ] && flags+=(--hflip)
  [ "$fp16" = true ] && flags+=(--fp16)
  "$PY" bench/baseline/export.py --out "$dir" --models "$models" --fusion "$FUSION" "${flags[@]}" >"$STAGE/export-$label.json" 2>"$STAGE/export-$label.log"
  printf '{"models":%s,"hflip":%s,"fp16":%s,"device":"%s"}' \
    "$("$PY" -c 'import json,sys; print(json.dumps(sys.argv[1].split(","), separators=(",", ":")))' "$models")" \
    "$hflip" "$fp16" "$device" >"$dir/export-key.json"
  touch "$STAGE/export-$label.done"
}

wait_export() {
  local label=$1
  while [ ! -e "$STAGE/export-$label.done" ]; do
    if ! pgrep -f "export.py --out $MODELS/$label" >/dev/null && sleep 1 && [ ! -e "$STAGE/export-$label.done" ]; then
      echo "[device] export $label failed:"; tail -20 "$STAGE/export-$label.log"; exit 1
    fi
    sleep 2
  done
  grep '^\[export\]' "$STAGE/export-$label.log" || true
}

setup() { # node, native modules, CUDA provider, wheels, library path: repeated by every call that needs them
  local cuda=${1:-cuda} # "cpu": no CUDA provider (device.sh cpu carries none)
  if [ "$cuda" = cuda ]; then
    want=$(cut -d' ' -f1 "$STAGE/ortcuda.sha256")
    got=$(cat "$STAGE"/ortcuda.part* | sha256sum | cut -d' ' -f1)
    [ "$want" = "$got" ] || { echo "[device] CUDA provider parts incomplete ($got, want $want)"; ls -la "$STAGE"; exit 1; }
  fi
  [ -x "$STAGE/node" ] || { xz -dc "$STAGE/node.xz" >"$STAGE/node.tmp" && chmod +x "$STAGE/node.tmp" && mv "$STAGE/node.tmp" "$STAGE/node"; }
  tar -xJf "$STAGE/node_modules.tar.xz"
  ORT_BIN=$(echo node_modules/onnxruntime-node/bin/napi-v*/linux/x64)
  [ "$cuda" = cuda ] && cat "$STAGE"/ortcuda.part* | xz -dc | tar -x -C "$ORT_BIN"
  cp "$STAGE"/*.mjs bench/
  if [ "$PY" = python3 ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
  fi
  # CUDA 13 + cuDNN 9 for onnxruntime's provider: the pip nvidia-* packages PyTorch itself loads.
  NV=$("$PY" -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null || true)
  LIBS=$([ -n "$NV" ] && find "$NV" -maxdepth 3 -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':' || true)
  export LD_LIBRARY_PATH="$ORT_BIN:${LIBS}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" | grep -i 'not found' || echo "[device] CUDA provider libraries resolved"
}

summary() { # the short version of every result in $OUT, last in the output
  for f in "$OUT"/*.json; do
    "$PY" - "$f" <<'PYEOF' || true
import json, sys
d = json.load(open(sys.argv[1]))
if "levels" in d:
    print("==", d["label"], d["device"], "max hotkeys passing:", d["maxHotkeysPassing"])
    for r in d["levels"]:
        print("  ", json.dumps({k: r[k] for k in ("hotkeys", "requests", "offeredReqPerSec", "errors", "passed")}), "p50/p99", r["latencyMs"]["p50"], r["latencyMs"]["p99"])
    sys.exit()
if isinstance(d.get("results"), list):
    for r in d["results"]:
        print("  sweep", json.dumps(r))
    sys.exit()
if "servers" not in d:
    if "phasesMs" not in d:
        sys.exit()
    print("==", d.get("benchmark"), d.get("model"), d.get("device"), json.dumps({k: (v["p50"], v["p99"]) for k, v in d["phasesMs"].items()}))
    sys.exit()
print("==", d["label"], "|", d["machine"]["gpu"], "|", d["model"]["description"])
for role, s in d["servers"].items():
    by = {c: (v["latencyMs"]["p50"], v["latencyMs"]["p99"], v["reqPerSec"], v["errors"]) for c, v in s["byConcurrency"].items()}
    print(f"  {role:10s} dev={s['device']} start={s['startToFirstAnswerMs']}ms rss={s['memoryAfterLoad']} gpuMiB={s['gpuMemoryMiB']} p50/p99/rps/err={by}")
print("  ratios", json.dumps(d["ratios"]))
print("  agreement", json.dumps(d["agreement"]))
if "int8" in d:
    print("  int8", json.dumps(d["int8"].get("int8VsFp32")))
print("  targets", json.dumps(d["targets"]))
PYEOF
  done
}

case "${1:-}" in
stage)
  cp ".gpucarry/p$2/"* "$STAGE/"
  if [ "$2" = 1 ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    "$PY" -c 'import torch, transformers, onnx, onnxruntime; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "onnxruntime", onnxruntime.__version__)'
    # The exports run on while the other parts travel (a new session survives the end of this command).
    vars="MODELS=$MODELS STAGE=$STAGE PY=$PY FUSION=$FUSION"
    jobs=("gpu-dinov2-b14-reg $B_MODELS false $DEVICE true" "gpu-ensemble-l14-convnext-hflip $E_MODELS true $DEVICE true"
      "cpu2-dinov2-s14-reg dinov2-s14-reg false cpu false")
    [ "${BENCH_ONLY_SWEEP:-}" = 1 ] && jobs=("sweep-convnext-b convnext-b false $DEVICE true")
    for job in "${jobs[@]}"; do
      setsid bash -c "$(declare -f export_models); $vars; export_models $job" </dev/null >/dev/null 2>&1 &
    done
  fi
  ls -la "$STAGE"
  ;;
run) # the GPU comparisons
  cp .gpucarry/p4/* "$STAGE/"
  setup
  common=(--python "$PY" --device "$DEVICE" --fp16 --requests "${BENCH_REQUESTS:-400}" --warmup "${BENCH_WARMUP:-30}"
    --rounds 4 --out "$OUT" --axon-entry bench/axon-server.mjs)
  wait_export gpu-dinov2-b14-reg
  # DINOv2-B: the 224×224 validator crops at c=1 and 16, then native-resolution frames (dashcam 1920×1080 and
  # synthetic-like 1024×1024, JPEG q75) at c=1.
  "$STAGE/node" bench/driver.mjs "${common[@]}" --models "$B_MODELS" --label gpu-dinov2-b14-reg \
    --work-dir "$MODELS/gpu-dinov2-b14-reg" --target-p99-ratio 1:0.7 --frames 1920x1080,1024x1024 \
    --frame-concurrency 1 >/dev/null
  wait_export gpu-ensemble-l14-convnext-hflip
  "$STAGE/node" bench/driver.mjs "${common[@]}" --models "$E_MODELS" --hflip \
    --label gpu-ensemble-l14-convnext-hflip --work-dir "$MODELS/gpu-ensemble-l14-convnext-hflip" --target-p99-ms 30 \
    --target-p99-ratio 16:0.4 >/dev/null
  # Hotkeys per GPU host: one process, one DINOv2-B (fp16) model, H hotkeys at validator-like load.
  "$STAGE/node" bench/hotkeys.mjs --model "$MODELS/gpu-dinov2-b14-reg/fp16" --ep "$DEVICE" --axon-entry bench/axon-server.mjs \
    --window-s "${BENCH_HOTKEY_WINDOW_S:-15}" --levels "${BENCH_HOTKEY_LEVELS:-64,128,192,256,384,512}" \
    --label hotkeys-gpu-dinov2-b14-reg --out "$OUT/hotkeys-gpu-dinov2-b14-reg.json" >/dev/null || echo "[device] hotkeys bench failed: exit $?"
  summary
  ;;
extra) # where the time goes (phases), and the CPU comparison on two pinned cores of this machine
  setup
  "$STAGE/node" bench/phases.mjs --model "$MODELS/gpu-dinov2-b14-reg" --ep "$DEVICE" --n 200 >"$OUT/phases-gpu-dinov2-b14-reg.json"
  wait_export cpu2-dinov2-s14-reg
  "$STAGE/node" bench/phases.mjs --model "$MODELS/cpu2-dinov2-s14-reg" --ep cpu --n 100 >"$OUT/phases-cpu-dinov2-s14-reg.json"
  # Servers on cores 2-3 with two inference threads each (the reference Python figures are for 2 cores); the driver
  # on other cores, so it takes nothing from them.
  # fp32 and the int8 (dynamic quantization) copy, checked on 512 held-out images first.
  taskset -c 4-15 "$STAGE/node" bench/driver.mjs --python "$PY" --device cpu --models dinov2-s14-reg \
    --requests "${BENCH_CPU_REQUESTS:-200}" --warmup 20 --rounds 4 --out "$OUT" --axon-entry bench/axon-server.mjs \
    --label cpu2-dinov2-s14-reg --work-dir "$MODELS/cpu2-dinov2-s14-reg" --pin-cpus 2,3 --threads 2 \
    --concurrency "${BENCH_CPU_CONCURRENCY:-1}" --int8 --target-p99-ratio 1:0.9 --target-int8-p99-ratio 1:0.5 >/dev/null
  # Hotkeys per 2-core CPU host (DINOv2-S fp32, servers on cores 2-3, the load generator elsewhere).
  taskset -c 4-15 "$STAGE/node" bench/hotkeys.mjs --model "$MODELS/cpu2-dinov2-s14-reg" --ep cpu --pin-cpus 2,3 --threads 2 \
    --axon-entry bench/axon-server.mjs --window-s "${BENCH_HOTKEY_WINDOW_S:-15}" --levels 2,4,8,12,16,24,32 \
    --label hotkeys-cpu2-dinov2-s14-reg --out "$OUT/hotkeys-cpu2-dinov2-s14-reg.json" >/dev/null || echo "[device] hotkeys bench failed: exit $?"
  if [ "${BENCH_SWEEP:-0}" = 1 ]; then # bounded: a per-shape algorithm search can make first runs slow
    E=$MODELS/gpu-ensemble-l14-convnext-hflip
    timeout 150 "$STAGE/node" bench/batch-sweep.mjs --ep "$DEVICE" "$E/convnext-b.backbone.onnx" \
      "$E/convnext-b.backbone.fp16.onnx" "$E/dinov2-l14-reg.backbone.onnx" "$E/dinov2-l14-reg.backbone.fp16.onnx" \
      >"$OUT/batch-sweep.json" || echo "[device] batch sweep stopped: exit $?"
  fi
  summary
  ;;
all)
  cp .gpucarry/p4/* "$STAGE/"
  setup
  R=$STAGE/results
  rm -rf "$R" && mkdir -p "$R"
  OUT_FINAL=$OUT
  OUT=$R
  common=(--python "$PY" --device "$DEVICE" --fp16 --requests "${BENCH_REQUESTS:-300}" --warmup "${BENCH_WARMUP:-30}"
    --rounds 4 --out "$R" --axon-entry bench/axon-server.mjs --pause-idle --axon-node-flags="$GPU_NODE_FLAGS")
  wait_export gpu-dinov2-b14-reg
  "$STAGE/node" bench/driver.mjs "${common[@]}" --models "$B_MODELS" --label gpu-dinov2-b14-reg \
    --work-dir "$MODELS/gpu-dinov2-b14-reg" --target-p99-ratio 1:0.7 --frames 1920x1080,1024x1024 \
    --frame-concurrency 1 >/dev/null || echo "[device] DINOv2-B bench failed: exit $?"
  wait_export gpu-ensemble-l14-convnext-hflip
  "$STAGE/node" bench/driver.mjs "${common[@]}" --models "$E_MODELS" --hflip \
    --label gpu-ensemble-l14-convnext-hflip --work-dir "$MODELS/gpu-ensemble-l14-convnext-hflip" --target-p99-ms 30 \
    --target-p99-ratio 16:0.4 >/dev/null || echo "[device] ensemble bench failed: exit $?"
  "$STAGE/node" bench/phases.mjs --model "$MODELS/gpu-dinov2-b14-reg" --ep "$DEVICE" --n 200 >"$R/phases-gpu-dinov2-b14-reg.json" || true
  wait_export cpu2-dinov2-s14-reg
  "$STAGE/node" bench/phases.mjs --model "$MODELS/cpu2-dinov2-s14-reg" --ep cpu --n 100 >"$R/phases-cpu-dinov2-s14-reg.json" || true
  "$STAGE/node" bench/shrink-factor.mjs --runs 30 >"$R/shrink-factor-1920x1080.json" || true
  # Servers on cores 2-3 with two inference threads each, the driver elsewhere; fp32 and the int8 copy.
  taskset -c 4-15 "$STAGE/node" bench/driver.mjs --python "$PY" --device cpu --models dinov2-s14-reg \
    --requests "${BENCH_CPU_REQUESTS:-200}" --warmup 20 --rounds 4 --out "$R" --axon-entry bench/axon-server.mjs \
    --label cpu2-dinov2-s14-reg --work-dir "$MODELS/cpu2-dinov2-s14-reg" --pin-cpus 2,3 --threads 2 \
    --concurrency 1 --int8 --heldout-images 64 --pause-idle --axon-node-flags="$CPU_NODE_FLAGS" \
    --target-p99-ratio 1:0.9 --target-int8-p99-ratio 1:0.5 \
    >/dev/null || echo "[device] CPU bench failed: exit $?"
  # The int8 agreement on a trained head: a logistic head fitted on the backbone's embeddings of a procedural dataset
  # (carried as trainset.tar), checked on its held-out images.
  mkdir -p "$STAGE/trainset" && tar -xf "$STAGE/trainset.tar" -C "$STAGE/trainset"
  T=$MODELS/cpu2-trained
  # Plain dynamic quantization, then calibrated (SmoothQuant folded into LayerNorm/V + GPTQ rounding, 64 training-split
  # images, never held-out ones), then calibrated with the first MLPs kept float32 (docs/inference.md, int8).
  (cd bench/baseline && "$PY" train_head.py --bundle "$MODELS/cpu2-dinov2-s14-reg" --dataset "$STAGE/trainset" \
    --out "$T" --heldout-out "$T-heldout" --heldout-fraction 0.5 --calibration-out "$T-calibration" \
    >"$R/int8-trained-head-cpu.json" 2>"$STAGE/train-head.log" &&
    "$PY" quantize.py --bundle "$T" --out "$T-int8" --heldout "$T-heldout" --limit 100000 --cpu-cost 20 \
      >"$R/int8-agreement-trained-cpu.json" 2>"$STAGE/agreement.log" &&
    "$PY" quantize.py --bundle "$T" --out "$T-int8-cal" --heldout "$T-heldout" --limit 100000 \
      --smooth 0.5 --compensate --calibration "$T-calibration" --cpu-cost 20 \
      >"$R/int8-agreement-trained-calibrated-cpu.json" 2>>"$STAGE/agreement.log" &&
    "$PY" quantize.py --bundle "$T" --out "$T-int8-kf" --heldout "$T-heldout" --limit 100000 \
      --smooth 0.5 --compensate --calibration "$T-calibration" --cpu-cost 20 \
      --keep-float "${BENCH_INT8_KEEP_FLOAT:-layer\.[0-5]/mlp}" \
      >"$R/int8-agreement-trained-keep-float-cpu.json" 2>>"$STAGE/agreement.log") ||
    { echo "[device] trained-head int8 check failed"; tail -5 "$STAGE/train-head.log" "$STAGE/agreement.log"; }
  summary
  for f in "$R"/int8-*.json "$R"/shrink-*.json; do echo "== $f"; cat "$f"; done
  tar -czf "$OUT_FINAL/results.tgz" -C "$R" .
  ;;
cpu) # the CPU comparison alone, with configurations side by side (carry .gpucarry/p4 .gpucarry/p7 .whl; no GPU parts)
  # p4 (node, native modules) and p7 (bundles) do not fit one call beside the tree: `cpu stage` carries p4, `cpu` p7.
  for d in p4 p7; do if [ -d .gpucarry/$d ]; then cp .gpucarry/$d/* "$STAGE/"; fi; done
  if [ ! -e "$STAGE/export-cpu2-dinov2-s14-reg.done" ] && ! pgrep -f "export.py --out $MODELS/cpu2-dinov2-s14-reg" >/dev/null; then
    # Started in the background, so `cpu stage` can return while it runs (a second `cpu` call then measures).
    setsid bash -c "$(declare -f export_models); MODELS=$MODELS STAGE=$STAGE PY=$PY FUSION=$FUSION; export_models cpu2-dinov2-s14-reg dinov2-s14-reg false cpu false" </dev/null >/dev/null 2>&1 &
    sleep 2
  fi
  [ "${2:-}" = stage ] && { echo "[device] CPU model export started"; exit 0; }
  setup cpu
  wait_export cpu2-dinov2-s14-reg
  # Each variant: name|fp32 or int8|node flags|axon flags|ENV=value (bench/driver.ts --variant).
  IFS=';' read -r -a variants <<<"${BENCH_CPU_VARIANTS:-}"
  vflags=()
  for v in "${variants[@]}"; do [ -n "$v" ] && vflags+=(--variant "$v"); done
  taskset -c 4-15 "$STAGE/node" bench/driver.mjs --python "$PY" --device cpu --models dinov2-s14-reg \
    --requests "${BENCH_CPU_REQUESTS:-200}" --warmup 20 --rounds 4 --out "$OUT" --axon-entry bench/axon-server.mjs \
    --label "${BENCH_CPU_LABEL:-cpu2-dinov2-s14-reg-variants}" --work-dir "$MODELS/cpu2-dinov2-s14-reg" --pin-cpus 2,3 \
    --threads 2 --concurrency 1 --int8 --heldout-images 64 --pause-idle --axon-node-flags="$CPU_NODE_FLAGS" --target-p99-ratio 1:0.9 \
    --target-int8-p99-ratio 1:0.5 "${vflags[@]}" >/dev/null || echo "[device] CPU bench failed: exit $?"
  # Where one request's time goes on the same 2 pinned cores, in-process (fp32, then the driver's int8 copy).
  for b in fp32 int8; do
    dir=$MODELS/cpu2-dinov2-s14-reg; [ $b = int8 ] && dir=$dir/int8
    # shellcheck disable=SC2086 # the flags are words
    taskset -c 2,3 "$STAGE/node" $CPU_NODE_FLAGS bench/phases.mjs --model "$dir" --ep cpu --threads 2 --n 100 \
      >"$OUT/phases-cpu2-pinned-$b.json" 2>/dev/null || echo "[device] pinned phases ($b) failed"
  done
  summary
  ;;
cpu-graphs) # which graph and session options make the model itself beat torch on two pinned cores
  wait_export cpu2-dinov2-s14-reg
  G=$OUT/graph-bench-cpu2-dinov2-s14-reg.json
  (cd bench/baseline && taskset -c "${BENCH_PIN_CPUS:-2,3}" "$PY" graph_bench.py --dir "$MODELS/cpu2-dinov2-s14-reg" --threads 2 \
    --runs "${BENCH_GRAPH_RUNS:-40}") >"$G" 2>"$STAGE/graph-bench.log" ||
    { echo "[device] graph bench failed"; tail -5 "$STAGE/graph-bench.log"; }
  grep '^\[graph-bench\]' "$STAGE/graph-bench.log" || true
  ;;
sweep) # does a change of batch size cost a new convolution-algorithm search? (ConvNeXt, fp32 and fp16)
  cp .gpucarry/p4/* "$STAGE/"
  setup
  wait_export sweep-convnext-b
  M=$MODELS/sweep-convnext-b
  "$STAGE/node" bench/batch-sweep.mjs --ep "$DEVICE" --batches 2,4,8,16 --runs 5 --alternate 4 \
    "$M/convnext-b.backbone.onnx" "$M/convnext-b.backbone.fp16.onnx" >"$OUT/batch-sweep-alternating.json"
  summary
  ;;
*)
  echo "usage: $0 stage N | run | extra | all | cpu | cpu-graphs | sweep" >&2
  exit 2
  ;;
esac
