#!/usr/bin/env bash
# The label-efficiency sweep on one GPU machine: Penn Action and NW-UCLA; students on 10 % and 100 % of the LQ
# training clips, each trained the same number of optimiser steps; 5 seeds; per seed one teacher; per (fraction,
# seed) the baseline, the teacher-free controls, KD and its variants, in one process that degrades each epoch once.
#
#   OUT=/some/folder bash train/gpu_sweep.sh [KEY=VALUE ...]      # extra config overrides for every unit
#
# Needs runs/cache/penn_action.npz and runs/cache/nw_ucla.npz (python -m train.prepare, see docs/datasets.md) and writes to
# $OUT: sweep.md, sweep.json, sweep.csv, label_efficiency_penn_action.png, label_efficiency_nw_ucla.png and
# runs.tar.gz (every run's metrics with per-clip predictions, per-epoch CSVs, curves, heat-maps and logs; no
# checkpoints or confusion plots). Stops itself after $MINUTES (running units are checkpointed, the summary covers
# what finished; rerunning the same command continues).
# Environment: DEVICE (cuda), JOBS (20: every student group at once), MINUTES (8.3), SEEDS (0,1,2,3,4), FRACTIONS (0.1,1),
# STAGES (baseline,control,kd,kd_clip,control_clip,kd_parts,kd_evidence), WORK (runs/sweep).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that receives the results}"
WORK=${WORK:-runs/sweep}
mkdir -p "$OUT" "$WORK"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1   # one core per unit, numpy included
python -m train.sweep \
    --config train/configs/penn_action.yaml --config train/configs/nw_ucla.yaml --data runs/cache \
    --fractions "${FRACTIONS:-0.1,1}" --seeds "${SEEDS:-0,1,2,3,4}" \
    --stages "${STAGES:-baseline,control,kd,kd_clip,control_clip,kd_parts,kd_evidence}" \
    --jobs "${JOBS:-20}" --deadline-minutes "${MINUTES:-8.3}" --out "$WORK" \
    --set "train.device=${DEVICE:-cuda}" train.eval_every=20 "$@"
rc=$?
cp "$WORK"/sweep.md "$WORK"/sweep.json "$WORK"/sweep.csv "$WORK"/label_efficiency_*.png "$OUT"/ 2>/dev/null
tar czf "$OUT/runs.tar.gz" --exclude='*.pt' --exclude='confusion_*.png' -C "$WORK" .   # < 16 MB
echo "gpu_sweep: exit $rc; results in $OUT"
exit $rc
