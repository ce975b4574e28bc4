#!/usr/bin/env bash
# Run tools/analysis_tools/gpu_check.py on a CUDA machine that has torch but
# no mmcv, mmengine or mmdet and no network (the device machine of
# docs/benchmarks.md, "Checking a GPU"), from the repository root:
#
#   bash tools/analysis_tools/gpu_check_device.sh [gpu_check.py options]
#
# 1. installs the wheels of WHEELS (default wheels/gpu_check, filled by
#    tools/misc/fetch_gpu_check_wheels.sh) into SITE with
#    pip --no-index --no-deps (the machine's own numpy, torch, opencv, ...
#    stay as they are);
# 2. builds mmcv 2.1.0 from its source archive in WHEELS with its CPU ops
#    only (MMCV_WITH_OPS=1 FORCE_CUDA=0, the GPU hidden from the build:
#    mmcv's setup.py builds its CUDA ops whenever torch sees a GPU), as a
#    wheel in BUILD, which a rerun on the same machine reuses; a
#    mmcv-2.1.0-*.whl already in WHEELS is installed instead;
# 3. runs gpu_check.py --device cuda (options after the script's name are
#    passed on, e.g. --compile) under `timeout CHECK_TIMEOUT`, by default
#    what is left of BUDGET seconds (570: inside the device tool's 600 s
#    limit, so that the partial table is still printed).
#
# Writes into OUT (default work_dirs/gpu_check): gpu_check.md (the table,
# rewritten after each part of the check, so a run cut short keeps what it
# reached), gpu_check.log (its whole output), setup.log (install and build)
# and machine.txt. Exits with gpu_check.py's status (1: a check failed,
# 124: CHECK_TIMEOUT reached), or 2 if the set-up failed.
set -uo pipefail

WHEELS=${WHEELS:-wheels/gpu_check}
SITE=${SITE:-/tmp/gpu_check_site}
BUILD=${BUILD:-work_dirs/gpu_check_build}
OUT=${OUT:-work_dirs/gpu_check}
PYTHON=${PYTHON:-python3}
BUDGET=${BUDGET:-570}
MAX_JOBS=${MAX_JOBS:-$(nproc)}

mkdir -p "$OUT" "$BUILD"
SETUP_LOG="$OUT/setup.log"
start=$(date +%s)
say() { echo "==> [gpu_check_device $(( $(date +%s) - start ))s] $*"; }
die() { say "$*; see $SETUP_LOG"; tail -n 40 "$SETUP_LOG"; exit 2; }

[ -f tools/analysis_tools/gpu_check.py ] ||
  { echo "run from the repository root"; exit 2; }
ls "$WHEELS"/*.whl >/dev/null 2>&1 ||
  { echo "no wheels in $WHEELS: run tools/misc/fetch_gpu_check_wheels.sh" \
      "where pip reaches a package index, and carry $WHEELS"; exit 2; }

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  nproc
  "$PYTHON" -c "import sys, torch; print(sys.version); print('torch',
torch.__version__, 'CUDA', torch.version.cuda, 'cudnn',
torch.backends.cudnn.version(), 'GPU', torch.cuda.is_available())"
} >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

say "installing $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS into $SITE"
"$PYTHON" -m pip install --no-index --find-links "$WHEELS" --no-deps \
  --no-compile --no-cache-dir --upgrade --target "$SITE" \
  "$WHEELS"/*.whl >"$SETUP_LOG" 2>&1 || die "installing the wheels failed"
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
# the interpreter's own bin folder (ninja: torch builds serially without it)
PATH="$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))'):$PATH"

if ! "$PYTHON" -c "import mmcv.ops" >>"$SETUP_LOG" 2>&1; then
  if ! ls "$BUILD"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    [ -f "$WHEELS/mmcv-2.1.0.tar.gz" ] ||
      die "no $WHEELS/mmcv-2.1.0.tar.gz to build mmcv from"
    ninja=$("$PYTHON" -c 'from torch.utils.cpp_extension import \
is_ninja_available as n; print("ninja" if n() else "no ninja: serial")')
    say "building mmcv 2.1.0 with its CPU ops ($MAX_JOBS jobs, $ninja)"
    CUDA_VISIBLE_DEVICES= MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$MAX_JOBS \
      "$PYTHON" -m pip wheel --no-index --no-deps --no-build-isolation \
      --no-cache-dir -w "$BUILD" "$WHEELS/mmcv-2.1.0.tar.gz" \
      >>"$SETUP_LOG" 2>&1 || die "building mmcv failed"
  fi
  say "installing $(ls "$BUILD"/mmcv-2.1.0-*.whl)"
  "$PYTHON" -m pip install --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target "$SITE" "$BUILD"/mmcv-2.1.0-*.whl \
    >>"$SETUP_LOG" 2>&1 || die "installing the mmcv wheel failed"
fi
"$PYTHON" -c "import mmcv, mmcv.ops, mmdet, mmengine, mmpfcn, numpy
print('mmcv', mmcv.__version__, '(CUDA ops:',
      mmcv.ops.get_compiling_cuda_version(), ') | mmdet', mmdet.__version__,
      '| mmengine', mmengine.__version__, '| numpy', numpy.__version__)" \
  2>>"$SETUP_LOG" | tee -a "$OUT/machine.txt" ||
  die "the OpenMMLab stack does not import"

left=$(( BUDGET - ($(date +%s) - start) ))
CHECK_TIMEOUT=${CHECK_TIMEOUT:-$(( left > 60 ? left : 60 ))}
say "running gpu_check.py --device cuda $* (at most ${CHECK_TIMEOUT}s)"
PYTHONUNBUFFERED=1 OMP_NUM_THREADS=$(nproc) timeout "$CHECK_TIMEOUT" \
  "$PYTHON" tools/analysis_tools/gpu_check.py --device cuda \
  --out "$OUT/gpu_check.md" "$@" >"$OUT/gpu_check.log" 2>&1
status=$?
say "gpu_check.py exited with $status ($OUT/gpu_check.log)"
if [ -f "$OUT/gpu_check.md" ]; then
  cat "$OUT/gpu_check.md"
else
  tail -n 40 "$OUT/gpu_check.log"
fi
exit "$status"
