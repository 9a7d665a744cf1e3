#!/usr/bin/env bash
# Builds what bench/gpu/device.sh needs on a GPU machine that has no Node and no registry access, in .gpucarry/
# (keep it out of git: echo /.gpucarry/ >> .git/info/exclude). Needs the npm registry once, for the CUDA provider.
set -euo pipefail
cd "$(dirname "$0")/../.."
CARRY=.gpucarry
WORK=${TMPDIR:-/tmp}/roadwork-gpu-pack
mkdir -p "$CARRY"/p1 "$CARRY"/p2 "$CARRY"/p3 "$CARRY"/p4 "$CARRY"/p5 "$CARRY"/p6 "$CARRY"/p7 "$WORK" .whl

# onnxruntime 1.29's CUDA provider (CUDA 13, cuDNN 9): ~230 MB, ~165 MB as xz, carried in three parts under 60 MB.
if [ ! -e "$CARRY/p4/ortcuda.sha256" ]; then
  ([ -d "$WORK/package" ] || (cd "$WORK" && npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 >/dev/null && tar xzf com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz))
  tar -C "$WORK/package/Plugins/Linux/x64" -cf - libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so |
    xz -T2 -"${PACK_XZ_LEVEL:-1}" >"$WORK/ortcuda.tar.xz"
  # A call carries 64 MiB with the working tree (~5 MB): four parts of 42 MiB, in p1, p2, p3 (beside the bundles) and p5.
  split -b 42M -d -a 1 "$WORK/ortcuda.tar.xz" "$WORK/ortcuda.part"
  parts=(p1 p2 p3 p5)
  for f in "$WORK"/ortcuda.part*; do mv "$f" "$CARRY/${parts[${f##*part}]}/"; done
  (cd "$WORK" && sha256sum ortcuda.tar.xz) >"$CARRY/p4/ortcuda.sha256"
fi

# node and the native modules (+ the JPEG decoder's .wasm) change rarely: delete them from p4 to rebuild.
[ -e "$CARRY/p4/node.xz" ] || xz -T2 -"${PACK_XZ_LEVEL:-1}" <"$(command -v node)" >"$CARRY/p4/node.xz"
# The verifier pool's worker is its own entry; the bundled axon finds it beside itself (bench/ on the device).
node_modules/.bin/esbuild bench/driver.ts bench/axon-server.ts bench/phases.ts bench/hotkeys.ts bench/gpu/batch-sweep.ts bench/shrink-factor.ts \
  packages/protocol/src/sr25519-verify-worker.mjs --bundle --platform=node --format=esm --target=node20 \
  --outdir="$CARRY/p3" --entry-names=[name] --out-extension:.js=.mjs --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
# The bundles alone in p7 too: `device.sh cpu` carries p4 + p7 and none of the CUDA provider.
cp "$CARRY"/p3/*.mjs "$CARRY/p7/"
[ -e "$CARRY/p4/node_modules.tar.xz" ] || tar -cf - --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' \
  --exclude='node_modules/onnxruntime-node/node_modules' \
  node_modules/onnxruntime-node node_modules/onnxruntime-common node_modules/sharp node_modules/@img/colour \
  node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 node_modules/detect-libc node_modules/semver \
  node_modules/@cwasm/jpeg-turbo |
  xz -T2 -"${PACK_XZ_LEVEL:-1}" >"$CARRY/p4/node_modules.tar.xz"

# The int8 agreement's trained head (device.sh all) needs a labelled procedural dataset store: p6/trainset.tar.
if [ ! -e "$CARRY/p6/trainset.tar" ]; then
  rm -rf "$WORK/trainset"
  node packages/cli/bin/roadwork.mjs synth --generator procedural --count 1700 --out "$WORK/trainset" --backbone none >/dev/null
  tar -cf "$CARRY/p6/trainset.tar" -C "$WORK/trainset" images versions latest.json
fi

# starlette + uvicorn for the device's Python 3.12 (pure Python wheels).
ls .whl/starlette-1.7.0-*.whl .whl/uvicorn-0.54.0-*.whl >/dev/null 2>&1 ||
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d .whl starlette==1.7.0 uvicorn==0.54.0
du -sh "$CARRY"/p* .whl
