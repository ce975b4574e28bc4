#!/usr/bin/env bash
# Distributed evaluation with torchrun, one process per GPU (gloo processes
# on the CPU when CUDA is absent):
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS_PER_NODE [test.py options]
# Multi-node: the same NNODES / NODE_RANK / MASTER_ADDR / PORT variables as
# tools/dist_train.sh (see tools/misc/torchrun.sh).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: bash $0 CONFIG CHECKPOINT NUM_GPUS_PER_NODE [test.py options]" >&2
    exit 2
fi
TOOLS="$(dirname "$0")"
LAUNCHER_NAME=dist_test.sh exec bash "$TOOLS/misc/torchrun.sh" "$3" \
    "$TOOLS/test.py" "$1" "$2" --launcher pytorch "${@:4}"
