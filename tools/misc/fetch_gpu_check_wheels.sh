#!/usr/bin/env bash
# Download what tools/analysis_tools/gpu_check_device.sh installs on a device
# machine that has torch but no OpenMMLab stack and no network: the missing
# packages as Python 3.12 x86-64 wheels, and mmcv 2.1.0 as its source archive
# (built there with its CPU ops).
#
#   bash tools/misc/fetch_gpu_check_wheels.sh [DEST]   (default wheels/gpu_check)
#
# Only what the device image lacks is fetched (--no-deps), at the versions
# this project is tested with; the image's own numpy, scipy, matplotlib,
# opencv, Pillow, PyYAML, rich, tqdm, packaging, six and torch are used as
# they are (docs/benchmarks.md, "Checking a GPU", names the image's list).
# setuptools < 81 is carried because mmengine and mmcv import pkg_resources.
set -euo pipefail

DEST=${1:-wheels/gpu_check}
PYTHON=${PYTHON:-python3}
mkdir -p "$DEST"

WHEELS=(
  mmengine==0.10.7
  mmdet==3.3.0
  addict==2.4.0
  yapf==0.43.0
  platformdirs==4.14.9
  termcolor==3.3.0
  terminaltables==3.1.10
  shapely==2.2.0
  pycocotools==2.0.11
  panopticapi-lite==0.2.0
  hotcoco==1.3.0
  setuptools==80.10.2
)

"$PYTHON" -m pip download --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  -d "$DEST" "${WHEELS[@]}"
"$PYTHON" -m pip download --no-deps --no-binary :all: -d "$DEST" mmcv==2.1.0

du -sh "$DEST"
