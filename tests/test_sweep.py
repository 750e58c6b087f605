"""The UTD-MHAD GPU sweep's plan: one unit per student stage (``train.sweep --split-stages``), started stage by
stage over the seeds, each waiting only for the teacher it needs; ablations get same-seed differences."""
from __future__ import annotations

import os
import subprocess
import tarfile

import pytest
from conftest import REPO, TINY
from fixtures_formats import utd_d_skel, write_utd_mat

from train import sweep
from train.lib import sweeps


def test_split_stages_plan(tmp_path):
    args = sweep.parse_args(["--config", "train/configs/utd_mhad.yaml", "--fractions", "1", "--seeds", "0,1",
                             "--stages", "baseline,kd,control,kd_paired", "--split-stages", "--out", str(tmp_path)])
    units = sweep.plan(args)
    assert [(u.stages, u.seed) for u in units[:2]] == [(["teacher"], 0), (["teacher"], 1)]
    students = units[2:]
    assert [(u.stages[0], u.seed) for u in students] == [
        ("baseline", 0), ("baseline", 1), ("kd", 0), ("kd", 1), ("control", 0), ("control", 1),
        ("kd_paired", 0), ("kd_paired", 1)]
    assert all(len(u.stages) == 1 and u.name == "utd_mhad_f100" for u in students)
    waits = {(u.stages[0], u.seed): u.after for u in students}
    assert waits[("baseline", 1)] is None and waits[("control", 0)] is None
    assert waits[("kd", 1)] == waits[("kd_paired", 1)] == ("train/configs/utd_mhad.yaml", 1)
    assert len({u.key for u in units}) == len({u.log_name for u in units}) == len(units)
    grouped = sweep.plan(sweep.parse_args(["--config", "train/configs/utd_mhad.yaml", "--fractions", "1",
                                           "--seeds", "0", "--stages", "baseline,kd", "--out", str(tmp_path)]))
    assert [u.stages for u in grouped] == [["teacher"], ["baseline", "kd"]]
    assert grouped[1].log_name == "utd_mhad_f100_seed0.log"


def test_ablations_get_same_seed_differences():
    rows = [{"dataset": "utd_mhad", "fraction": 1.0, "stage": st, "seed": s, "top1": v, "top5": 99.0,
             "stream_top1": v, "part_cosine": 0.9, "part_weight_entropy": float("nan")}
            for st, s, v in (("baseline", 0, 80.0), ("baseline", 1, 82.0), ("kd_paired", 0, 81.0),
                             ("kd_paired", 1, 81.0))]
    md, summary = sweeps.tables(rows)
    assert "kd_paired − baseline" in md and summary["utd_mhad"]["differences"]["1/kd_paired-baseline"]["diff"] == \
        [1.0, -1.0]


@pytest.mark.slow
def test_gpu_script_end_to_end_on_cpu(tmp_path):
    """The script as the GPU machine runs it (on CPU, tiny models): prepares the cache, trains, summarises, packs."""
    root = tmp_path / "skeleton"
    for action, wave in ((3, 0.25), (4, 0.0)):
        for subject in range(1, 5):
            write_utd_mat(root / f"a{action}_s{subject}_t1_skeleton.mat", utd_d_skel(30 + subject, wave=wave))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"), "CACHE": str(tmp_path / "cache"),
           "UTD_ROOT": str(root), "DEVICE": "cpu", "JOBS": "2", "SEEDS": "0", "STAGES": "baseline,kd", "MINUTES": "5"}
    res = subprocess.run(["bash", "train/utd_gpu_sweep.sh", *TINY, "train.epochs_teacher=1", "train.student_steps=2"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    md = (tmp_path / "out" / "sweep.md").read_text()
    assert "### utd_mhad" in md and "kd − baseline" in md and "(seeds: 1)" in md
    with tarfile.open(tmp_path / "out" / "runs.tar.gz") as tar:
        names = tar.getnames()
    assert "./utd_mhad_f100/seed0/kd.metrics.json" in names and not any(n.endswith(".pt") for n in names)
