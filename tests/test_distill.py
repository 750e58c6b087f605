"""distill.py on tiny fixtures in the real formats: every config builds and trains a step; one end-to-end run per
distinct code path (2D teacher with every ablation; 3D heterogeneous teacher; --jobs; DDP); exact resume after a
real SIGTERM; one-line errors.

Cost: fixtures are made once per session; runs that need no real process call ``distill.main`` in-process;
subprocesses only where a process boundary is the subject (signals, --jobs, torchrun).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, TINY
from fixtures_formats import (write_ntu_tree, write_penn_tree, write_sysu_tree, write_ucla_tree, write_utd_tree)
from partkd_stream.checkpoint import load_checkpoint

FIXTURES = {"penn_action": write_penn_tree, "nw_ucla": write_ucla_tree, "ntu60": write_ntu_tree,
            "ntu120": write_ntu_tree, "sysu": write_sysu_tree, "utd_mhad": write_utd_tree}


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory):
    """``fixture_root(dataset)``: a tiny dataset in the real format, made once per session."""
    made: dict[str, Path] = {}

    def get(dataset: str) -> Path:
        if dataset not in made:
            made[dataset] = FIXTURES[dataset](tmp_path_factory.mktemp(dataset) / "data")
        return made[dataset]
    return get


@pytest.fixture
def keep_torch_threads():
    """In-process runs set torch's thread count (train.threads); the rest of the session keeps its own."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def distill_in_process(args: list[str], capsys) -> tuple[int, str, str]:
    from train.distill import main
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def run_distill(args: list[str], nproc: int = 0) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_port=29577"]
                if nproc else [sys.executable])
    return subprocess.run(launcher + ["-m", "train.distill"] + args, cwd=REPO, capture_output=True, text=True,
                          env=_env(), timeout=600)


# One benchmark per config; the multi-dataset one (dataset: multiset) has its own tests in tests/test_multiset.py.
CONFIGS = sorted(p.stem for p in (REPO / "train" / "configs").glob("*.yaml")
                 if "dataset: multiset" not in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("config", CONFIGS)
def test_every_config_builds_and_trains_a_step(config, fixture_root, keep_torch_threads):
    """Each shipped config parses, loads its dataset's fixture, builds teacher and student, and takes one training
    step of the teacher and of a distilling student (the full loop runs end to end below, per code path)."""
    from train.lib.config import load_config
    from train.lib.data import load_benchmark
    from train.lib.data import lq_train_views
    from train.lib.distillation import build_distillation
    from train.lib.loops import epoch_data, train_step
    from train.lib.models import build_model, build_optimizer
    from train.lib.stages import STAGES

    cfg = load_config(REPO / "train" / "configs" / f"{config}.yaml", TINY)
    if cfg.data.dataset not in FIXTURES:
        pytest.fail(f"{config}.yaml: no fixture maker for dataset {cfg.data.dataset!r} in tests/test_distill.py")
    cfg.data.root = str(fixture_root(cfg.data.dataset))
    bench = load_benchmark(cfg.data, seed=0)
    assert len(bench.classes) >= 2 and len(bench.train_ids) and len(bench.test_ids)
    teacher = build_model(cfg, bench, teacher=True)
    assert (teacher.cfg.layout, teacher.cfg.in_channels) == (cfg.data.hq_layout, bench.hq_pre.in_channels)
    cpu = torch.device("cpu")
    for name in ("teacher", "kd"):
        stage = STAGES[name]
        model = teacher if stage.teacher else build_model(cfg, bench, teacher=False)
        opt = build_optimizer(model, cfg.train)
        kd = build_distillation(stage, cfg, bench, teacher.eval(), model, cpu)
        data = epoch_data(stage, cfg, bench, 0, 0, lambda: lq_train_views(bench, 0, 0))
        model.train()
        losses = train_step(stage, cfg.train, _parts(model), opt, data, data.order[:8], cpu, kd)
        assert all(np.isfinite(v) for v in losses.values()) and ("part" in losses) == stage.distils


def _parts(model):
    from train.lib.loops import _PartsView
    return _PartsView(model)


def test_2d_teacher_every_student_stage_plots_and_table(fixture_root, tmp_path, capsys, keep_torch_threads):
    root = fixture_root("penn_action")
    rc, out, err = distill_in_process(["--config", "train/configs/penn_action.yaml", "--root", str(root),
                                       "--out", str(tmp_path / "runs"), "--seed", "0", "--epochs", "1",
                                       "--stage", "all", "--set", *TINY], capsys)
    assert rc == 0, err[-2000:]
    run = tmp_path / "runs" / "penn_action"
    table = (run / "results.md").read_text()
    for title in ("HQ teacher", "part-level multi-sample KD", "logit KD only", "uniform part weights",
                  "paired-only single-sample", "same seed"):
        assert title in table
    summary = json.loads((run / "results.json").read_text())
    for stage in ("teacher", "baseline", "kd", "kd_uniform", "kd_paired", "logit_kd"):
        ck = load_checkpoint(run / "seed0" / f"{stage}.pt")
        assert ck.meta["stage"] == stage and ck.meta["metrics"]["test"]["top1"] == summary[stage]["top1"]["mean"] / 100
    assert (run / "seed0" / "part_matrix.png").stat().st_size > 1000
    assert (run / "seed0" / "curves.png").exists() and (run / "seed0" / "confusion_kd.png").exists()
    assert (run / "seed0" / "kd.history.csv").read_text().startswith("epoch,")
    assert not list((run / "seed0").glob("*.last.pt")), "per-epoch checkpoints are removed once a stage finishes"


def test_3d_teacher_and_2d_student_of_another_layout(fixture_root, tmp_path, capsys, keep_torch_threads):
    root = fixture_root("nw_ucla")  # nw_ucla.yaml: kinect20 3D teacher with random yaw, coco17 2D student
    rc, out, err = distill_in_process(["--config", "train/configs/nw_ucla.yaml", "--root", str(root),
                                       "--out", str(tmp_path / "runs"), "--seed", "0", "--epochs", "1",
                                       "--stage", "teacher,kd", "--set", *TINY], capsys)
    assert rc == 0, err[-2000:]
    t, s = (load_checkpoint(tmp_path / "runs" / "nw_ucla" / "seed0" / f"{n}.pt") for n in ("teacher", "kd"))
    assert (t.preprocess.layout, t.preprocess.dims) == ("kinect20", 3)
    assert (s.preprocess.layout, s.preprocess.dims) == ("coco17", 2)


def test_a_tiny_run_learns(fixture_root, tmp_path, capsys, keep_torch_threads):
    """The fixture's two classes differ in motion speed: a few epochs of the teacher separate its test clips
    (2 of Penn's 15 classes; a model that learnt nothing names one class and scores at most 0.5)."""
    root = fixture_root("penn_action")
    rc, _, err = distill_in_process(["--config", "train/configs/penn_action.yaml", "--root", str(root),
                                     "--out", str(tmp_path / "runs"), "--seed", "0", "--stage", "teacher",
                                     "--set", *TINY, "train.epochs_teacher=12", "train.batch_size=4", "train.lr=0.01"],
                                    capsys)
    assert rc == 0, err[-2000:]
    ck = load_checkpoint(tmp_path / "runs" / "penn_action" / "seed0" / "teacher.pt")
    assert ck.meta["metrics"]["test"]["top1"] == 1.0


def test_label_efficiency_stages_control_and_variants(fixture_root, tmp_path, capsys, keep_torch_threads):
    """A student share of the clips with a fixed number of steps; the teacher-free controls (learned prototypes,
    a random teacher-size network) and the variants (evidence part weights, clip-level targets in the teacher's
    feature space) train end to end and report what the research needs (part cosine, part-weight entropy)."""
    root = fixture_root("penn_action")
    rc, out, err = distill_in_process(["--config", "train/configs/penn_action.yaml", "--root", str(root),
                                       "--out", str(tmp_path / "runs"), "--seed", "0", "--stage",
                                       "teacher,baseline,control,kd_evidence,kd_clip,control_clip,kd_parts", "--set",
                                       *TINY,
                                       "data.lq_fraction=0.5", "train.student_steps=3", "train.epochs_teacher=1",
                                       "model.teacher={channels: [16, 16], strides: [1, 2], temporal_kernel: 3, "
                                       "embed_dim: 16, part_matrix_block: 0}"], capsys)
    assert rc == 0, err[-2000:]
    seed_dir = tmp_path / "runs" / "penn_action" / "seed0"
    m = {s: json.loads((seed_dir / f"{s}.metrics.json").read_text())
         for s in ("baseline", "control", "kd_evidence", "kd_clip", "control_clip")}
    assert all(len(v["history"]) == 3 for v in m.values()), "4 of 8 clips, batch 8: 3 steps = 3 epochs"
    assert all(0.0 <= v["test"]["part_cosine"] <= 1.0 for v in m.values())
    assert m["kd_evidence"]["part_weights"]["entropy_ratio"] < 1.0 and (seed_dir / "part_weights_kd_evidence.png").exists()
    assert m["control"]["part_weights"]["entropy_ratio"] == pytest.approx(1.0)
    assert {"loss_part"} <= set(m["control"]["history"][0]) and {"loss_part"} <= set(m["kd_clip"]["history"][0])
    assert load_checkpoint(seed_dir / "kd_parts.pt").model_config.part_block == 1
    kd_clip = load_checkpoint(seed_dir / "kd_clip.pt")
    assert kd_clip.model_config.embed_dim == 16 and kd_clip.meta["train"]["kd_space"] == "features"
    table = (tmp_path / "runs" / "penn_action" / "results.md").read_text()
    assert "stage − teacher-free control, same seed" in table


def test_control_with_prototypes_needs_no_teacher(fixture_root, tmp_path, capsys, keep_torch_threads):
    rc, _, err = distill_in_process(["--config", "train/configs/penn_action.yaml", "--root",
                                     str(fixture_root("penn_action")), "--out", str(tmp_path / "runs"), "--seed", "0",
                                     "--epochs", "1", "--stage", "control", "--set", *TINY], capsys)
    assert rc == 0, err[-2000:]


def test_extra_labelled_windows_join_a_students_epoch(fixture_root, tmp_path, keep_torch_threads):
    """The hook a background class of negative windows uses: one more class, windows added every epoch."""
    import dataclasses

    from train.lib.config import load_config
    from train.lib.data import load_benchmark
    from train.lib.loops import train_stage
    from train.lib.stages import STAGES

    cfg = load_config(REPO / "train/configs/penn_action.yaml",
                      [*TINY, f"data.root={fixture_root('penn_action')}", "train.epochs_student=2"])
    bench = load_benchmark(cfg.data, seed=0)
    bench = dataclasses.replace(bench, classes=[*bench.classes, "background"], cache={})
    calls = []

    def extra(epoch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append((epoch, n))
        return np.zeros((3, 5, 16, 13), np.float32), np.full(3, len(bench.classes) - 1)

    model, metrics = train_stage(STAGES["baseline"], cfg, bench, 0, tmp_path, log=lambda *_: None,
                                 extra_windows=extra)
    assert calls == [(0, 8), (1, 8)] and model.cfg.num_classes == 16
    assert load_checkpoint(tmp_path / "baseline.pt").classes[-1] == "background"


def test_an_interrupted_run_resumes_bit_exact(fixture_root, tmp_path, keep_torch_threads):
    """Ctrl-C (raised where a stage logs epoch 2) in the teacher, then in KD; each resumed from its last checkpoint
    ends with the same weights, bit for bit, as an uninterrupted run: dropout's RNG, the KD queue and the optimiser
    carry over. (The real SIGTERM, through a --jobs parent too: ``test_sigterm_then_resume_is_bit_exact…``.)"""
    from train.lib.config import load_config
    from train.lib.data import load_benchmark
    from train.lib.loops import train_stage
    from train.lib.stages import STAGES

    cfg = load_config(REPO / "train/configs/penn_action.yaml",
                      [*TINY, f"data.root={fixture_root('penn_action')}", "train.batch_size=4", "train.queue_size=2",
                       "train.epochs_teacher=2", "train.epochs_student=2", "train.beta=1.0", "train.eval_every=5"])

    def stage(name: str, out: Path, teacher=None, stop_at: str | None = None, resume: bool = False):
        def log(line: str) -> None:
            if stop_at and stop_at in line:
                raise KeyboardInterrupt
        return train_stage(STAGES[name], cfg, load_benchmark(cfg.data, seed=0), 0, out, teacher=teacher,
                           resume=resume, log=log)[0]

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    stage("kd", whole, teacher=stage("teacher", whole))
    with pytest.raises(KeyboardInterrupt):
        stage("teacher", cut, stop_at="epoch 2/2")
    assert (cut / "teacher.last.pt").exists() and not (cut / "teacher.pt").exists()
    teacher = stage("teacher", cut, resume=True)
    with pytest.raises(KeyboardInterrupt):
        stage("kd", cut, teacher=teacher, stop_at="epoch 2/2")
    stage("kd", cut, teacher=teacher, resume=True)
    for name in ("teacher", "kd"):
        assert _same_weights(whole / f"{name}.pt", cut / f"{name}.pt"), name
    assert not list(cut.glob("*.last.pt"))


def test_sweep_plans_teachers_first_and_summarises_finished_units(tmp_path):
    from train import sweep

    args = sweep.parse_args(["--config", "train/configs/penn_action.yaml", "--config", "train/configs/nw_ucla.yaml",
                             "--fractions", "0.1,1", "--seeds", "0,1", "--stages", "baseline,kd",
                             "--out", str(tmp_path)])
    units = sweep.plan(args)
    assert [u.stages for u in units[:4]] == [["teacher"]] * 4
    students = units[4:]
    assert [(u.seed, u.name) for u in students[:4]] == [(0, "penn_action_f010"), (0, "penn_action_f100"),
                                                         (0, "nw_ucla_f010"), (0, "nw_ucla_f100")]
    assert all(u.after == (u.config, u.seed) for u in students)
    assert f"teacher={tmp_path.resolve() / 'penn_action' / 'seed{seed}' / 'teacher.pt'}" in students[0].sets
    no_teacher = sweep.plan(sweep.parse_args(["--config", "train/configs/penn_action.yaml", "--seeds", "0",
                                              "--stages", "baseline,control", "--out", str(tmp_path)]))
    assert all(u.after is None and u.stages != ["teacher"] for u in no_teacher)
    rows = [{"dataset": "penn_action", "fraction": f, "stage": st, "seed": s, "top1": v, "top5": 99.0,
             "stream_top1": v, "part_cosine": 0.9, "part_weight_entropy": float("nan")}
            for f, st, s, v in ((0.1, "baseline", 0, 60.0), (0.1, "baseline", 1, 62.0), (0.1, "kd", 0, 63.0),
                                (0.1, "kd", 1, 61.0), (1.0, "baseline", 0, 90.0), (1.0, "kd", 0, 91.0))]
    from train.lib import sweeps

    md, summary = sweeps.tables(rows)
    assert "| 10 % | 61.0 ± 1.0 (n=2) | 62.0 ± 1.0 (n=2) |" in md
    assert "| 10 % | +1.0 ± 2.0 (1 of 2) |" in md and "| 100 % | +1.0 ± 0.0 (1 of 1) |" in md
    assert summary["penn_action"]["differences"]["0.1/kd-baseline"]["diff"] == [3.0, -1.0]
    for bad, message in ((["--fractions", "0"], "must be in (0, 1]"), (["--stages", "teacher"], "not student stages")):
        with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
            sweep.plan(sweep.parse_args(["--config", "train/configs/penn_action.yaml", *bad]))


@pytest.mark.slow
def test_sweep_end_to_end_writes_the_summary(fixture_root, tmp_path, capsys):
    from train import sweep

    rc = sweep.main(["--config", "train/configs/penn_action.yaml", "--fractions", "0.5", "--seeds", "0",
                     "--stages", "baseline,control", "--jobs", "1", "--out", str(tmp_path),
                     "--set", *TINY, f"data.root={fixture_root('penn_action')}", "train.student_steps=2"])
    assert rc == 0, capsys.readouterr().err[-2000:]
    md = (tmp_path / "sweep.md").read_text()
    assert "### penn_action" in md and "| 50 % |" in md and "control − baseline" in md
    assert (tmp_path / "label_efficiency_penn_action.png").stat().st_size > 1000
    assert (tmp_path / "sweep.csv").read_text().count("penn_action,0.5,") == 2


def _wait_for(proc: subprocess.Popen, text: str, lines: list[str], timeout: float = 300) -> None:
    """Read ``proc``'s stdout until a line contains ``text``."""
    end = time.time() + timeout
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return
        if time.time() > end:
            break
    raise AssertionError(f"never printed {text!r}:\n{''.join(lines[-20:])}")


def _interrupt(args: list[str], after: str, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    """Start ``distill.py args``; when a stdout line contains ``after``, send ``sig``; return (rc, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "train.distill", *args], cwd=REPO, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    try:
        _wait_for(proc, after, lines)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, "".join(lines) + out, err


def _same_weights(a: Path, b: Path) -> bool:
    sa, sb = load_checkpoint(a).state_dict, load_checkpoint(b).state_dict
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
def test_sigterm_then_resume_is_bit_exact_for_teacher_and_kd(fixture_root, tmp_path, capsys, keep_torch_threads):
    """A real run is stopped by SIGTERM in the teacher stage, and again in the KD stage through a ``--jobs`` parent
    (which must pass the signal on); resumed, it ends with the same weights, bit for bit, as an uninterrupted run.
    Teacher dropout (torch RNG), the KD queue and the optimiser all carry over."""
    root = fixture_root("penn_action")
    common = ["--config", "train/configs/penn_action.yaml", "--root", str(root), "--seed", "0",
              "--stage", "teacher,kd", "--set", *TINY, "train.batch_size=2", "train.queue_size=2",
              "train.epochs_teacher=4", "train.epochs_student=4", "train.beta=1.0"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    rc, _, err = distill_in_process(common + ["--out", str(whole)], capsys)
    assert rc == 0, err[-2000:]

    rc, out, err = _interrupt(common + ["--out", str(cut)], after="[teacher] seed 0 epoch 2/4")
    assert rc == 143, err[-2000:]
    assert "terminated (SIGTERM)" in err and "--resume" in err and "Traceback" not in err
    seed_dir = cut / "penn_action" / "seed0"
    assert (seed_dir / "teacher.last.pt").exists() and not (seed_dir / "teacher.pt").exists()

    rc, out, err = _interrupt(common + ["--out", str(cut), "--resume", "--jobs", "2"], after="[kd] seed 0 epoch 2/4")
    assert rc == 143, err[-2000:]
    assert "[teacher] seed 0: resuming at epoch" in out and "Traceback" not in err
    assert out.index("[teacher] seed 0: clip top-1") < out.index("[kd] seed 0 epoch 1/4"), "kd waits for its teacher"
    assert (seed_dir / "kd.last.pt").exists() and not (seed_dir / "kd.pt").exists(), "the child checkpointed"

    rc, out, err = distill_in_process(common + ["--out", str(cut), "--resume"], capsys)
    assert rc == 0, err[-2000:]
    assert "[teacher] seed 0: already trained" in out and "[kd] seed 0: resuming at epoch" in out
    for stage in ("teacher", "kd"):
        assert _same_weights(whole / "penn_action" / "seed0" / f"{stage}.pt", seed_dir / f"{stage}.pt"), stage
    assert not list(seed_dir.glob("*.last.pt"))


@pytest.mark.slow
def test_jobs_skips_the_students_of_a_failed_teacher_and_summarises(fixture_root, tmp_path):
    root = fixture_root("penn_action")
    runs = tmp_path / "runs"
    broken = runs / "penn_action" / "seed0" / "teacher.last.pt"  # the teacher cannot resume: it fails
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--root", str(root), "--out", str(runs),
                     "--seed", "0", "--jobs", "2", "--epochs", "1", "--stage", "baseline,kd,teacher",
                     "--resume", "--set", *TINY, "train.eval_every=5"])
    assert r.returncode == 1
    assert "3 units, 2 at a time" in r.stdout
    assert "teacher.last.pt" in r.stderr and "Traceback" not in r.stderr
    assert "seed 0 teacher, seed 0 kd failed or skipped" in r.stderr
    run = runs / "penn_action"
    assert load_checkpoint(run / "seed0" / "baseline.pt").meta["seed"] == 0, "independent units still finish"
    assert not (run / "seed0" / "kd.pt").exists()
    assert json.loads((run / "results.json").read_text())["baseline"]["seeds"] == [0], "the parent summarises"
    assert r.stdout.count("| LQ student, CE only |") == 1, "children leave the summary to the parent"


@pytest.mark.slow
def test_ddp_with_two_processes(fixture_root, tmp_path):
    root = fixture_root("penn_action")
    r = run_distill(["--config", "train/configs/penn_action.yaml", "--root", str(root), "--out", str(tmp_path / "runs"),
                     "--seed", "0", "--epochs", "1", "--stage", "teacher,kd", "--set", *TINY], nproc=2)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "runs" / "penn_action"
    assert load_checkpoint(run / "seed0" / "kd.pt").meta["stage"] == "kd"
    assert r.stdout.count("[teacher] seed 0: clip top-1") == 1, "only rank 0 reports"


@pytest.mark.parametrize("args, message", [
    (["--config", "{tmp}/missing.yaml"], "config file not found"),
    (["--config", "train/configs/penn_action.yaml", "--root", "{tmp}/nope", "--out", "{tmp}/runs"], "nope"),
    (["--config", "train/configs/penn_action.yaml", "--stage", "bogus"], "unknown stage"),
    (["--config", "train/configs/penn_action.yaml", "--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--config", "train/configs/penn_action.yaml", "--set", "train.epochs_student=abc"],
     "config.train.epochs_student: expected an integer, got 'abc'"),
    (["--config", "train/configs/penn_action.yaml", "--set", "train.epochs_studnet=3"],
     "Did you mean train.epochs_student?"),
])
def test_errors_are_one_line(args, message, tmp_path, capsys):
    rc, _, err = distill_in_process([a.replace("{tmp}", str(tmp_path)) for a in args], capsys)
    assert rc == 2 and err.strip().count("\n") == 0 and message in err, err


def test_device_choice(monkeypatch):
    from train.lib.config import ConfigError
    from train.lib.loops import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu" and resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match=r"train\.device=cuda: no CUDA device"):
        resolve_device("cuda")


@pytest.mark.gpu
def test_a_tiny_teacher_and_distilled_student_train_on_cuda(fixture_root, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible to torch")
    from train.lib.config import load_config
    from train.lib.data import load_benchmark
    from train.lib.loops import train_stage
    from train.lib.stages import STAGES

    cfg = load_config(REPO / "train/configs/penn_action.yaml",
                      [*TINY, f"data.root={fixture_root('penn_action')}", "train.epochs_teacher=2",
                       "train.epochs_student=2", "train.device=cuda", "train.beta=1.0"])
    bench = load_benchmark(cfg.data, seed=0)
    torch.cuda.reset_peak_memory_stats()
    teacher, _ = train_stage(STAGES["teacher"], cfg, bench, 0, tmp_path, log=lambda *_: None)
    student, s_metrics = train_stage(STAGES["kd"], cfg, bench, 0, tmp_path, teacher=teacher, log=lambda *_: None)
    assert next(teacher.parameters()).is_cuda and next(student.parameters()).is_cuda
    assert torch.cuda.max_memory_allocated() > 0
    assert {"loss_ce", "loss_part", "loss_logit_kd"} <= set(s_metrics["history"][-1])
    ck = load_checkpoint(tmp_path / "kd.pt")  # saved for CPU loading
    assert all(v.device.type == "cpu" for v in ck.state_dict.values()) and "test" in ck.meta["metrics"]
