#!/bin/sh
# CUDA 12 user-space libraries that onnxruntime's CUDA execution provider links against (cudart, cuBLAS, cuFFT, cuRAND,
# cuDNN 9), from NVIDIA's Debian 12 repository; the driver itself comes from the host through the NVIDIA container
# runtime. Run as root in a GPU image stage: `sh cuda-runtime.sh 12.8`. CUDA 12 libraries keep soname .so.12 across
# minor versions, and the ECS GPU AMI's driver supports 12.x.
set -eu
version="$1"
apt-get update
apt-get install -y --no-install-recommends ca-certificates curl
curl -fsSL -o /tmp/cuda-keyring.deb \
  https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb
dpkg -i /tmp/cuda-keyring.deb
rm /tmp/cuda-keyring.deb
apt-get update
cuda="$(echo "$version" | tr . -)"
apt-get install -y --no-install-recommends \
  "cuda-cudart-${cuda}" "libcublas-${cuda}" "libcufft-${cuda}" "libcurand-${cuda}" libcudnn9-cuda-12
apt-get purge -y curl
apt-get autoremove -y
rm -rf /var/lib/apt/lists/*
ldconfig
