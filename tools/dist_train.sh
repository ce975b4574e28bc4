#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU (gloo processes
# on the CPU when CUDA is absent):
#   bash tools/dist_train.sh CONFIG NUM_GPUS_PER_NODE [train.py options]
# Multi-node, e.g. 2 nodes x 8 GPUs (node 0 reachable at 10.0.0.1):
#   node 0: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
#   node 1: NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
# See tools/misc/torchrun.sh for the environment variables.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG NUM_GPUS_PER_NODE [train.py options]" >&2
    exit 2
fi
TOOLS="$(dirname "$0")"
LAUNCHER_NAME=dist_train.sh exec bash "$TOOLS/misc/torchrun.sh" "$2" \
    "$TOOLS/train.py" "$1" --launcher pytorch "${@:3}"
