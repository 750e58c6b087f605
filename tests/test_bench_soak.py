"""``partkd-stream bench soak``: the memory soak runs the real run mode and reports sane numbers (a short soak; the
long ones are the benchmark, docs/speed.md *Memory over long runs*)."""
from __future__ import annotations

import json
import math

import pytest

from partkd_stream.bench import soak
from partkd_stream.skeleton_io import read_stream


def test_skeleton_soak_counts_every_frame_and_samples_rss(tmp_path):
    r = soak.skeleton_soak(2000, tmp_path, interval=0.02)
    header, frames = read_stream(tmp_path / "soak_skeletons.jsonl")
    ts = [t for t, _, _ in frames]
    assert len(ts) == 2000 and header["layout"] == "mediapipe33"
    assert all(b > a for a, b in zip(ts, ts[1:]))                    # timestamps keep increasing across repeats
    assert r["frames"] == r["frames_in"] == 2000                      # the run's own summary counted them all
    assert r["samples"] >= 5 and r["baseline_samples"] >= 1 and r["end_samples"] >= 1
    assert 20 < r["rss_baseline_mb"] < 4096 and r["rss_baseline_mb"] <= r["peak_mb"]
    assert math.isfinite(r["growth_mb"]) and r["growth_mb"] == pytest.approx(r["rss_end_mb"] - r["rss_baseline_mb"])
    assert r["rss_end_mb"] <= r["peak_mb"]
    assert "--skeletons" in r["command"] and "--no-display" in r["command"]
    assert json.dumps(r, allow_nan=False)                            # what --json writes
    out = [json.loads(line) for line in (tmp_path / "soak_skeletons_out.jsonl").read_text().splitlines()]
    assert any(rec.get("event") == "start" for rec in out)           # the figure's actions were recognised


def test_baseline_is_the_median_at_20_to_30_percent_and_end_the_max_of_the_last_10():
    # 100 frames; RSS 10 MB until frame 19, then 50 / 52 / 51 MB around 25 %, a 70 MB spike mid-way, 55 / 58 MB
    # near the end, 90 MB once the last record is out (closing: not the run's): baseline 51, end 58, peak 90
    rss = {0: 10, 10: 10, 20: 50, 24: 52, 28: 51, 50: 70, 60: 54, 92: 55, 99: 58, 100: 90}
    samples = [(0.1 * i, int(mb * 1024), f - 1 if f else None) for i, (f, mb) in enumerate(rss.items())]
    s = soak.summarise(samples, 100)
    assert (s["rss_baseline_mb"], s["rss_end_mb"], s["peak_mb"], s["rss_last_mb"]) == (51, 58, 90, 90)
    assert s["growth_mb"] == 7 and (s["baseline_samples"], s["end_samples"]) == (3, 2)
    assert s["slope_mb_per_10k_frames"] > 0
    flat = soak.summarise([(0.1 * i, 100 * 1024, i * 10) for i in range(10)], 100)
    assert flat["growth_mb"] == 0 and flat["slope_mb_per_10k_frames"] == 0
    with pytest.raises(ValueError, match="no RSS sample"):
        soak.summarise([], 100)


def test_last_frame_reads_the_tail_of_a_growing_output(tmp_path):
    out = tmp_path / "o.jsonl"
    assert soak.last_frame(out) is None
    out.write_text('{"t": 0.2, "frame": 5, "label": null}\n{"event": "start", "label": "x", "t": 0.2}\n'
                   '{"t": 0.4, "fra')                                 # a line still being written
    assert soak.last_frame(out) == 5


def test_a_failed_run_is_one_line_and_exit_1(tmp_path, capsys):
    rc = soak.main(["--frames", "50", "--video-repeats", "0", "--model", str(tmp_path / "absent.onnx"),
                    "--workdir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err, err
    assert err.startswith("partkd-stream bench soak: error: skeleton soak: the run mode exited 1: partkd-stream: error:")
    assert "absent.onnx" in err
