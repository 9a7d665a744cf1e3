#!/usr/bin/env bash
# `npm run bench:train` on the GPU machine (no Node, no registry; Python 3.12 + PyTorch + transformers + onnx there).
# What it needs travels in .gpucarry/train/p1..p4 (bench/gpu/train-pack.sh builds them here), one part a call:
#
#   bench/gpu/train-device.sh stage 1   node, native modules, the bundle; starts in the background the DINOv2-S and
#                                       -B exports (scripts/export-backbone.py --random-weights --fp16: the real
#                                       architectures, seeded random weights, as bench/gpu/device.sh gets its models)
#                                       and the procedural scenes (outside every clock)
#   bench/gpu/train-device.sh stage 2|3 CUDA provider parts
#   bench/gpu/train-device.sh run [all|pipeline|throughput]
#                                       part 4, assemble, run the benchmarks; JSON + log + GPU samples in $OUT.
#                                       all (default): the S pipeline (10,000 → promoted, then +1,000 on the cached
#                                       10,000) first, so its figures land even when the call ends later; then S and
#                                       B throughput. pipeline: only that (one call of ~6 min once stage 1's export
#                                       and scenes are done); throughput: only S and B throughput.
#
# BENCH_DEVICE=cpu BENCH_SMALL=1 rehearses it on a machine without a GPU (tiny sizes, the CPU provider).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/out/train-gpu}
STAGE=${BENCH_STAGE:-/tmp/roadwork-train}
APP=$STAGE/app
MODELS=$STAGE/models
WORK=$STAGE/work
PY=${BENCH_PYTHON:-python3}
EP=${BENCH_DEVICE:-cuda}
if [ "${BENCH_SMALL:-0}" = 1 ]; then
  IMAGES=120 ADD=20 TPUT=64 BATCHES=8,16 SIZES=small
else
  IMAGES=10000 ADD=1000 TPUT=8192 BATCHES=${BENCH_BATCHES:-256,512} SIZES=${BENCH_SIZES:-small base}
fi
export UV_THREADPOOL_SIZE=16 # sharp's decodes run on the libuv pool: one thread per core of the 16
mkdir -p "$OUT" "$STAGE" "$APP" "$MODELS"

unpack_app() { # node, the bundle and its native modules under $APP
  [ -x "$STAGE/node" ] || { xz -dc "$STAGE/node.xz" >"$STAGE/node.tmp" && chmod +x "$STAGE/node.tmp" && mv "$STAGE/node.tmp" "$STAGE/node"; }
  [ -d "$APP/node_modules/onnxruntime-node" ] || tar -xJf "$STAGE/node_modules.tar.xz" -C "$APP"
  tar -xf "$STAGE/node_modules-extra.tar" -C "$APP"
  cp "$STAGE"/bench-train.mjs "$STAGE"/view-worker.mjs "$APP/"
}

export_model() { # size: small | base → $MODELS/<size>/backbone.fp16.onnx (skipped when already there)
  local size=$1 flags=(--random-weights --size "$1" --out "$MODELS/$1" --seed 7)
  [ -e "$MODELS/export-$size.done" ] && return
  [ "$EP" = cuda ] && flags+=(--fp16)
  if "$PY" scripts/export-backbone.py "${flags[@]}" >"$MODELS/export-$size.json" 2>"$MODELS/export-$size.log"; then
    touch "$MODELS/export-$size.done"
  else
    touch "$MODELS/export-$size.failed"
  fi
}

wait_for() { # base of the .done / .failed markers, what, its log
  local n=0
  while [ ! -e "$1.done" ]; do
    [ -e "$1.failed" ] && { echo "[device] $2 failed:"; tail -20 "$3"; exit 1; }
    n=$((n + 1))
    [ $n -gt 400 ] && { echo "[device] gave up waiting for $2"; tail -20 "$3"; exit 1; }
    sleep 1
  done
}

bench() { # label, out file, args...
  local label=$1 out=$2
  shift 2
  echo "[device] $label: $*"
  # The log goes to $OUT too, so a call cut off by its limit still brings back how far each run got.
  "$STAGE/node" "$APP/bench-train.mjs" --ep "$EP" --work "$WORK" --label "$label" --out "$OUT/$out" "$@" \
    2> >(tee -a "$OUT/bench.log" >&2) >/dev/null || echo "[device] $label failed: exit $?"
}

case "${1:-}" in
stage)
  cp ".gpucarry/train/p$2/"* "$STAGE/"
  if [ "$2" = 1 ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    nproc
    unpack_app
    for size in $SIZES; do
      mkdir -p "$MODELS/$size"
      setsid bash -c "$(declare -f export_model); MODELS=$MODELS PY=$PY EP=$EP; export_model $size" </dev/null >/dev/null 2>&1 &
    done
    setsid bash -c "if UV_THREADPOOL_SIZE=16 '$STAGE/node' '$APP/bench-train.mjs' --generate-only --work '$WORK' \
      --images $IMAGES --add $ADD --throughput-images $TPUT >'$STAGE/generate.log' 2>&1; then touch '$STAGE/generate.done'; \
      else touch '$STAGE/generate.failed'; fi" </dev/null >/dev/null 2>&1 &
  fi
  ls -la "$STAGE"
  ;;
run)
  what=${2:-all}
  case "$what" in all | pipeline | throughput) ;; *) echo "run: all, pipeline or throughput, not $what" >&2; exit 2 ;; esac
  [ -e .gpucarry/train/p4 ] && cp .gpucarry/train/p4/* "$STAGE/"
  want=$(cut -d' ' -f1 "$STAGE/ortcuda.tgz.sha256")
  got=$(cat "$STAGE"/ortcuda.tgz.part* | sha256sum | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "[device] CUDA provider parts incomplete ($got, want $want)"; ls -la "$STAGE"; exit 1; }
  unpack_app
  ORT_BIN=$(echo "$APP"/node_modules/onnxruntime-node/bin/napi-v*/linux/x64)
  cat "$STAGE"/ortcuda.tgz.part* | tar -xz -C "$STAGE" package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so \
    package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
  mv "$STAGE"/package/Plugins/Linux/x64/*.so "$ORT_BIN/"
  # CUDA 13 + cuDNN 9 for onnxruntime's provider: the pip nvidia-* packages PyTorch itself loads.
  NV=$("$PY" -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null || true)
  LIBS=$([ -n "$NV" ] && find "$NV" -maxdepth 3 -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':' || true)
  export LD_LIBRARY_PATH="$ORT_BIN:${LIBS}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" | grep -i 'not found' || echo "[device] CUDA provider libraries resolved"
  ready() { # size: wait for its export (B is waited for only when its turn comes)
    wait_for "$MODELS/export-$1" "the $1 export" "$MODELS/export-$1.log"
    echo "[device] export $1: $(cat "$MODELS/export-$1.json")"
  }
  ready small
  # GPU utilisation and memory every 250 ms beside the runs: the profile of where the time went.
  SMI=
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -lms 250 >>"$OUT/gpu-samples.csv" 2>/dev/null &
    SMI=$!
  fi
  M=$MODELS
  f16() { [ "$EP" = cuda ] && echo "$M/$1/backbone.fp16.onnx" || echo "$M/$1/backbone.onnx"; }
  # The pipeline first: 10,000 → promoted, then +1,000 on the cached 10,000 (the retrain target, 180 s); the JSON is
  # written after each of the two runs. Then throughput (S: the 5,000 images/s target), then B while time is left.
  if [ "$what" != throughput ]; then
    wait_for "$STAGE/generate" "the scenes" "$STAGE/generate.log"
    tail -1 "$STAGE/generate.log"
    bench gpu-dinov2-s14-fp16-pipeline train-gpu-dinov2-s-fp16-pipeline.json --backbone "$(f16 small)" \
      --throughput-images 0 --images $IMAGES --add $ADD --batch 256 --target-first-s 900 --target-added-s 180
  fi
  if [ "$what" != pipeline ]; then
    bench gpu-dinov2-s14-fp16 train-gpu-dinov2-s-fp16.json --backbone "$(f16 small)" --skip-pipeline \
      --throughput-images $TPUT --throughput-batches $BATCHES --batch 256 --target-throughput 5000
    if [ "${BENCH_SMALL:-0}" != 1 ] && [[ " $SIZES " == *" base "* ]]; then
      ready base
      bench gpu-dinov2-b14-fp16 train-gpu-dinov2-b-fp16.json --backbone "$(f16 base)" --skip-pipeline \
        --throughput-images $TPUT --throughput-batches $BATCHES --batch 256
    fi
  fi
  [ -n "$SMI" ] && kill "$SMI" 2>/dev/null || true
  cp "$MODELS"/export-*.json "$OUT/" 2>/dev/null || true
  for f in "$OUT"/train-*.json; do
    echo "== $f"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({k: d.get(k) for k in ("throughput", "targets")})[:1500]); p=d.get("pipeline") or {}; [print(k, json.dumps({x: r.get(x) for x in ("images","totalSeconds","phasesSeconds","head","evaluation","cache","gate")})[:1500]) for k, r in p.items() if r]' "$f"
  done
  ;;
*)
  echo "usage: $0 stage 1|2|3 | run" >&2
  exit 2
  ;;
esac
