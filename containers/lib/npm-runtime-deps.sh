#!/bin/sh
# The runtime node_modules of a container image (axon, trainer), run from /app in a Dockerfile's dependency stage:
# `npm ci --omit=dev` (the deploy tooling — sst, aws-cdk-lib and their aws-sdk v2 / aws-crt — is a devDependency and
# stays out), then only this platform's onnxruntime binaries are kept. Set ONNXRUNTIME_NODE_INSTALL before it:
# `skip` for the CPU provider shipped in the package, `cuda12` for the CUDA 12 provider from NuGet (checked here).
set -eu
npm ci --omit=dev --no-audit --no-fund
npm cache clean --force
ort=node_modules/onnxruntime-node/bin/napi-v6
arch="$(node -p process.arch)"
if [ "${ONNXRUNTIME_NODE_INSTALL:-}" = cuda12 ]; then
  test -f "$ort/linux/x64/libonnxruntime_providers_cuda.so" || {
    echo "npm-runtime-deps: the CUDA execution provider was not installed" >&2
    exit 1
  }
fi
rm -rf "$ort/darwin" "$ort/win32"
find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} +
