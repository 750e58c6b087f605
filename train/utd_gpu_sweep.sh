#!/usr/bin/env bash
# The UTD-MHAD benchmark (issue 14) on one GPU machine: cross-subject, 5 seeds, all LQ training clips; per seed one
# teacher (HQ Kinect 3D), then every student stage as its own process (python -m train.sweep --split-stages),
# started stage by stage over the seeds — baseline, KD, the teacher-free control, then the ablations — so a deadline
# keeps the first stages on every seed, and same-seed differences stay paired.
#
#   OUT=/some/folder bash train/utd_gpu_sweep.sh [KEY=VALUE ...]      # extra config overrides for every unit
#
# Needs $CACHE/utd_mhad.npz (CACHE: runs/cache; made from $UTD_ROOT, default ../shared/data/utd_mhad/skeleton, when
# absent: python -m train.prepare --dataset utd_mhad --protocol cross_subject). Writes to $OUT: sweep.md, sweep.json,
# sweep.csv and runs.tar.gz (every run's metrics with per-clip predictions, per-epoch CSVs, curves, part matrices and
# logs; no checkpoints or confusion plots). Stops itself after $MINUTES (running units are checkpointed, the summary
# covers what finished; rerunning the same command continues).
# Environment: DEVICE (cuda), JOBS (16), MINUTES (3.5), SEEDS (0,1,2,3,4),
# STAGES (baseline,kd,control,kd_uniform,kd_paired,logit_kd), WORK (runs/utd_sweep), CACHE, UTD_ROOT.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that receives the results}"
WORK=${WORK:-runs/utd_sweep}
CACHE=${CACHE:-runs/cache}
mkdir -p "$OUT" "$WORK" "$CACHE"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1   # one core per unit, numpy included
if [ ! -f "$CACHE/utd_mhad.npz" ]; then
    python -m train.prepare --dataset utd_mhad --protocol cross_subject \
        --root "${UTD_ROOT:-../shared/data/utd_mhad/skeleton}" --out "$CACHE/utd_mhad.npz" || exit 2
fi
python -m train.sweep --config train/configs/utd_mhad.yaml --data "$CACHE" --fractions 1 --split-stages \
    --seeds "${SEEDS:-0,1,2,3,4}" --stages "${STAGES:-baseline,kd,control,kd_uniform,kd_paired,logit_kd}" \
    --jobs "${JOBS:-16}" --deadline-minutes "${MINUTES:-3.5}" --out "$WORK" \
    --set "train.device=${DEVICE:-cuda}" train.eval_every=20 "$@"
rc=$?
cp "$WORK"/sweep.md "$WORK"/sweep.json "$WORK"/sweep.csv "$OUT"/ 2>/dev/null
tar czf "$OUT/runs.tar.gz" --exclude='*.pt' --exclude='confusion_*.png' -C "$WORK" .
echo "utd_gpu_sweep: exit $rc; results in $OUT"
exit $rc
