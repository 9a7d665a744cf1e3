#!/usr/bin/env bash
# Builds what bench/gpu/train-device.sh needs on a GPU machine with no Node and no registry, in .gpucarry/train/
# (ignored by git), in four parts of at most 57 MiB (a device call carries 64 MiB with the working tree):
#   p1/  node (xz), onnxruntime-node + sharp (+ sharp-phash), scripts/bench-train.ts and the view worker bundled by
#        esbuild, the CUDA provider's sha256
#   p2-p4/  onnxruntime 1.29's CUDA provider package (com.github.asus4.onnxruntime.linux-x64-gpu 0.4.9, the one
#        bench/gpu/pack.sh uses), its .tgz split as is: no recompression on the shared cores
# Needs the npm registry (or npm's cache) once, for the provider.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=.gpucarry/train
WORK=${TMPDIR:-/tmp}/roadwork-train-pack
PKG=com.github.asus4.onnxruntime.linux-x64-gpu
mkdir -p "$C"/p1 "$C"/p2 "$C"/p3 "$C"/p4 "$WORK"
if [ ! -e "$C/p1/ortcuda.tgz.sha256" ]; then
  (cd "$WORK" && { [ -e "$PKG-0.4.9.tgz" ] || npm pack --prefer-offline "$PKG@0.4.9" >/dev/null; } &&
    split -b 59715319 -d -a 1 "$PKG-0.4.9.tgz" ortcuda.tgz.part && sha256sum "$PKG-0.4.9.tgz" >ortcuda.tgz.sha256)
  for i in 0 1 2; do mv "$WORK/ortcuda.tgz.part$i" "$C/p$((i + 2))/"; done
  mv "$WORK/ortcuda.tgz.sha256" "$C/p1/"
fi
[ -e "$C/p1/node.xz" ] || xz -T2 -6 <"$(command -v node)" >"$C/p1/node.xz"
[ -e "$C/p1/node_modules.tar.xz" ] || tar -cf - --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' --exclude='node_modules/onnxruntime-node/bin/napi-v*/linux/arm64' \
  --exclude='node_modules/onnxruntime-node/node_modules' node_modules/onnxruntime-node node_modules/onnxruntime-common \
  node_modules/sharp node_modules/@img/colour node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 \
  node_modules/detect-libc node_modules/semver | xz -T2 -6 >"$C/p1/node_modules.tar.xz"
# sharp-phash: required at run time by @roadwork/data; @cwasm/jpeg-turbo: the .wasm of @roadwork/inference's decoder.
tar -cf "$C/p1/node_modules-extra.tar" node_modules/sharp-phash node_modules/@cwasm/jpeg-turbo
# The view worker is its own entry; the bundled trainer finds view-worker.mjs beside itself.
node_modules/.bin/esbuild scripts/bench-train.ts packages/training/src/view-worker.ts --bundle --platform=node \
  --format=esm --target=node20 --outdir="$C/p1" --entry-names=[name] --out-extension:.js=.mjs \
  --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
du -sh "$C"/p*
