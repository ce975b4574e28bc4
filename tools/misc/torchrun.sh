#!/usr/bin/env bash
# Shared launcher of tools/dist_train.sh and tools/dist_test.sh:
#   bash tools/misc/torchrun.sh NPROC_PER_NODE SCRIPT [script arguments]
# runs SCRIPT (with --launcher pytorch appended by the callers) in
# NPROC_PER_NODE processes per node with torchrun. Environment:
#   single node:  PORT (default 29500), nothing else
#   multi-node:   NNODES, NODE_RANK (0..NNODES-1), MASTER_ADDR (an address
#                 of node 0 that every node reaches) and PORT, the same
#                 values on every node except NODE_RANK
#   PYTHON        the interpreter (default: python)
# Without CUDA the processes use the gloo backend (mmpfcn.utils.distributed).
set -euo pipefail

NAME=${LAUNCHER_NAME:-$(basename "$0")}
if [ $# -lt 2 ]; then
    echo "usage: bash $NAME NPROC_PER_NODE SCRIPT [arguments]" >&2
    exit 2
fi
NPROC=$1
SCRIPT=$2
shift 2
if ! [[ "$NPROC" =~ ^[1-9][0-9]*$ ]]; then
    echo "$NAME: the number of processes per node must be a positive integer, got '$NPROC'" >&2
    exit 2
fi
NNODES=${NNODES:-1}
PORT=${PORT:-29500}
PYTHON=${PYTHON:-python}

if [ "$NNODES" -gt 1 ] || [ -n "${NODE_RANK:-}" ] || [ -n "${MASTER_ADDR:-}" ]; then
    # multi-node: every node rendezvous at node 0's MASTER_ADDR:PORT
    if [ -z "${NODE_RANK:-}" ] || [ -z "${MASTER_ADDR:-}" ]; then
        echo "$NAME: NNODES=$NNODES needs NODE_RANK (0..NNODES-1) and MASTER_ADDR (the address of node 0) on every node" >&2
        exit 2
    fi
    if [ "$NODE_RANK" -ge "$NNODES" ]; then
        echo "$NAME: NODE_RANK=$NODE_RANK must be below NNODES=$NNODES" >&2
        exit 2
    fi
    echo "$NAME: node $NODE_RANK of $NNODES, $NPROC processes per node, master $MASTER_ADDR:$PORT"
else
    NODE_RANK=0
    MASTER_ADDR=127.0.0.1
    echo "$NAME: single node, $NPROC processes, master $MASTER_ADDR:$PORT"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROC" \
    "$SCRIPT" "$@"
