"""distill.py end to end on tiny fixtures in the real formats: every dataset config, resume, DDP, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from fixtures_formats import ntu_body, standing_body, write_ntu_skeleton, write_penn_mat, write_sysu_mat, write_ucla_json
from partkd_stream.checkpoint import load_checkpoint

TINY = ["model.teacher={channels: [16, 16], strides: [1, 2], temporal_kernel: 3, embed_dim: 16}",
        "model.student={channels: [8, 16], strides: [2, 1], temporal_kernel: 3, embed_dim: 16}",
        "train.batch_size=8", "train.queue_size=4", "train.threads=1", "data.window=16", "data.fps=15"]


def _motion(t: int, kind: int, rng) -> np.ndarray:
    """A swinging limb whose speed depends on the class, so the tiny run has something to learn."""
    return np.sin(np.arange(t) * (0.2 + 0.3 * kind))[:, None] + 0.05 * rng.normal(size=(t, 1))


def make_penn(root: Path) -> Path:
    rng = np.random.default_rng(0)
    labels = root / "labels"
    labels.mkdir(parents=True)
    for i in range(12):
        kind = i % 2
        t = 30 + 5 * i
        x = 200 + 40 * rng.normal(size=(1, 13)) + 30 * _motion(t, kind, rng)
        y = 150 + 60 * np.linspace(0, 1, 13)[None] + np.zeros((t, 1))
        vis = (rng.random((t, 13)) > 0.1).astype(np.uint8)
        write_penn_mat(labels / f"{i + 1:04d}.mat", x, y, vis, ["squat", "pushup"][kind], train=1 if i < 8 else -1)
    return labels


def make_ucla(root: Path) -> Path:
    rng = np.random.default_rng(1)
    root.mkdir(parents=True)
    for a, label in ((1, 1), (2, 2)):
        for v in (1, 2, 3):
            for s in (1, 2):
                t = 25 + 3 * s
                sk = np.tile(standing_body()[:20], (t, 1, 1))
                sk[:, 11, 1] += 0.3 * _motion(t, label, rng)[:, 0]
                write_ucla_json(root / f"a{a:02d}_s{s:02d}_e00_v{v:02d}.json", sk, label)
    return root


def make_ntu(root: Path) -> Path:
    root.mkdir(parents=True)
    for setup in (1, 2):
        for cam in (1, 2):
            for perf in (1, 3):
                for action in (1, 2):
                    frames = [[ntu_body(7, standing_body(t=0.2 * k * action))] for k in range(24)]
                    write_ntu_skeleton(root / f"S{setup:03d}C{cam:03d}P{perf:03d}R001A{action:03d}.skeleton", frames)
    return root


def make_sysu(root: Path) -> Path:
    base = root / "3DvideoNorm"
    for subj in range(4):
        for action in (1, 2):
            for rep in range(2):
                t = 30
                sk = np.stack([standing_body(t=0.3 * k * action)[:20] for k in range(t)])  # [T, 20, 3]
                write_sysu_mat(base / f"subject{subj:02d}_{rep}" / f"video{action}" / "sklWorld.mat",
                               sk.transpose(1, 2, 0), v73=bool(subj % 2))
    return base


def run_distill(args: list[str], cwd: Path = REPO, nproc: int = 0) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_port=29577"]
                if nproc else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(launcher + ["-m", "train.distill"] + args, cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600)


CONFIGS = {
    "penn_action": make_penn, "nw_ucla": make_ucla, "ntu60_xsub": make_ntu, "ntu60_xview": make_ntu,
    "ntu120_xsub": make_ntu, "ntu120_xset": make_ntu, "sysu": make_sysu,
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_config_runs_on_fixtures(config, tmp_path):
    root = CONFIGS[config](tmp_path / "data")
    stages = "teacher,baseline,kd" if config != "penn_action" else "all"
    r = run_distill(["--config", f"train/configs/{config}.yaml", "--root", str(root), "--out", str(tmp_path / "runs"),
                     "--seed", "0", "--epochs", "1", "--stage", stages, "--set", *TINY])
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "runs" / config
    table = (run / "results.md").read_text()
    assert "HQ teacher" in table and "part-level multi-sample KD" in table
    summary = json.loads((run / "results.json").read_text())
    for stage in ("teacher", "baseline", "kd"):
        assert 0.0 <= summary[stage]["top1"]["mean"] <= 100.0
        ck = load_checkpoint(run / "seed0" / f"{stage}.pt")
        assert ck.meta["stage"] == stage and "test" in ck.meta["metrics"]
    assert (run / "seed0" / "part_matrix.png").stat().st_size > 1000
    assert (run / "seed0" / "curves.png").exists() and (run / "seed0" / "confusion_kd.png").exists()
    assert (run / "seed0" / "kd.history.csv").read_text().startswith("epoch,")
    if config == "penn_action":
        assert "logit KD only" in table and "uniform part weights" in table
    if config == "nw_ucla":  # heterogeneous: 3D kinect20 teacher, 2D coco17 student
        t, s = (load_checkpoint(run / "seed0" / f"{n}.pt") for n in ("teacher", "kd"))
        assert (t.preprocess.layout, t.preprocess.dims) == ("kinect20", 3)
        assert (s.preprocess.layout, s.preprocess.dims) == ("coco17", 2)


def test_resume_skips_finished_stages_and_continues(tmp_path):
    root = make_penn(tmp_path / "data")
    args = ["--config", "train/configs/penn_action.yaml", "--root", str(root), "--out", str(tmp_path / "runs"),
            "--seed", "0", "--epochs", "2", "--stage", "teacher,baseline", "--set", *TINY]
    assert run_distill(args).returncode == 0
    seed_dir = tmp_path / "runs" / "penn_action" / "seed0"
    before = (seed_dir / "teacher.pt").stat().st_mtime_ns
    r = run_distill(args + ["--resume"])
    assert r.returncode == 0 and "already trained" in r.stdout
    assert (seed_dir / "teacher.pt").stat().st_mtime_ns == before
    assert not list(seed_dir.glob("*.last.pt")), "per-epoch checkpoints are removed once a stage finishes"


def test_ddp_with_two_processes(tmp_path):
    root = make_penn(tmp_path / "data")
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--root", str(root), "--out", str(tmp_path / "runs"),
                     "--seed", "0", "--epochs", "1", "--stage", "teacher,kd", "--set", *TINY], nproc=2)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "runs" / "penn_action"
    assert load_checkpoint(run / "seed0" / "kd.pt").meta["stage"] == "kd"
    assert r.stdout.count("[teacher] seed 0: clip top-1") == 1, "only rank 0 reports"


def test_errors_are_one_line(tmp_path):
    r = run_distill(["--config", str(tmp_path / "missing.yaml")])
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "config file not found" in r.stderr
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--root", str(tmp_path / "nope"),
                     "--out", str(tmp_path / "runs")])
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "nope" in r.stderr
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--stage", "bogus"])
    assert r.returncode == 2 and "unknown stage" in r.stderr


def test_jobs_trains_seed_stage_units_in_parallel_processes_and_summarises(tmp_path):
    root = make_penn(tmp_path / "data")
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--root", str(root), "--out", str(tmp_path / "runs"),
                     "--seed", "0", "--seed", "1", "--jobs", "2", "--epochs", "1", "--stage", "baseline,kd,teacher",
                     "--set", *TINY, "train.eval_every=5"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "6 units, 2 at a time" in r.stdout
    run = tmp_path / "runs" / "penn_action"
    for seed in (0, 1):
        for stage in ("teacher", "baseline", "kd"):
            assert load_checkpoint(run / f"seed{seed}" / f"{stage}.pt").meta["seed"] == seed
        # a distilled student starts only after its seed's teacher process has finished (and printed)
        assert r.stdout.index(f"[teacher] seed {seed}: clip top-1") < r.stdout.index(f"[kd] seed {seed} epoch 1/1")
    summary = json.loads((run / "results.json").read_text())
    assert summary["baseline"]["seeds"] == [0, 1], "the parent's table covers every child's seed"
    assert summary["kd"]["seeds"] == [0, 1]
    assert r.stdout.count("| HQ teacher |") == 1, "children leave the summary to the parent"


def test_jobs_skips_students_whose_teacher_failed(tmp_path):
    root = make_penn(tmp_path / "data")  # the teacher cannot be built (unknown model option): its students must not run
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--root", str(root), "--out", str(tmp_path / "runs"),
                     "--seed", "0", "--jobs", "2", "--epochs", "1", "--stage", "teacher,kd,baseline",
                     "--set", *TINY, "model.teacher={no_such_option: 1}"])
    assert r.returncode == 1
    assert "model.teacher" in r.stderr and "no_such_option" in r.stderr and "Traceback" not in r.stderr
    assert "seed 0 teacher, seed 0 kd failed or skipped" in r.stderr
    run = tmp_path / "runs" / "penn_action" / "seed0"
    assert (run / "baseline.pt").exists(), "independent units still finish"
    assert not (run / "kd.pt").exists()


def test_jobs_argument_is_checked(tmp_path):
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--jobs", "0"])
    assert r.returncode == 2 and "--jobs 0" in r.stderr and r.stderr.strip().count("\n") == 0


def test_device_choice(monkeypatch):
    from train.config import ConfigError
    from train.loops import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu" and resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match=r"train\.device=cuda: no CUDA device"):
        resolve_device("cuda")


@pytest.mark.gpu
def test_a_tiny_teacher_and_distilled_student_train_on_cuda(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible to torch")
    from train.config import load_config
    from train.data import load_benchmark
    from train.loops import STAGES, train_stage

    root = make_penn(tmp_path / "data")
    cfg = load_config(REPO / "train/configs/penn_action.yaml",
                      [*TINY, f"data.root={root}", "train.epochs_teacher=2", "train.epochs_student=2",
                       "train.device=cuda", "train.beta=1.0"])
    bench = load_benchmark(cfg.data, seed=0)
    torch.cuda.reset_peak_memory_stats()
    teacher, t_metrics = train_stage(STAGES["teacher"], cfg, bench, 0, tmp_path, log=lambda *_: None)
    student, s_metrics = train_stage(STAGES["kd"], cfg, bench, 0, tmp_path, teacher=teacher, log=lambda *_: None)
    assert next(teacher.parameters()).is_cuda and next(student.parameters()).is_cuda
    assert torch.cuda.max_memory_allocated() > 0
    assert {"loss_ce", "loss_part", "loss_logit_kd"} <= set(s_metrics["history"][-1])
    ck = load_checkpoint(tmp_path / "kd.pt")  # saved for CPU loading
    assert all(v.device.type == "cpu" for v in ck.state_dict.values()) and "test" in ck.meta["metrics"]
