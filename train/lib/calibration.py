"""The degradation model's calibration against MediaPipe's real error on a real NTU HQ/LQ pair.

``python -m train.calibrate`` runs it and writes the files.

NTU sample S001C001P001R001A001 has both a Kinect v2 skeleton whose joints carry ``colorX, colorY`` (pixels in
the 1920×1080 RGB frame) and its RGB video. MediaPipe runs on every frame (exactly as ``partkd-stream extract``
does), its 33 landmarks are mapped to the 25 Kinect joints (``partkd_stream.convert``), and the two are compared:

- the left/right correspondence is established **empirically**: the error is measured under the direct and the
  left/right-swapped mapping (and at small frame lags), and the better one is used;
- per joint: error in pixels and as a fraction of body height, bias (mean signed offset), jitter (std after
  removing the bias), MediaPipe's visibility; frames without a detection;
- the position error after bias is split into smooth *drift* and white *jitter* by fitting an AR(1)-plus-white
  model to its autocovariance; everything is expressed in torso lengths, the unit of ``degrade``.

The result is ``train/calibration/mediapipe_ntu.json`` (``degrade_config`` = the fitted ``DegradeConfig``, plus
``provenance`` saying which parameters are measured and which are documented priors, and the measurements) and
the markdown report ``train/calibration/README.md`` (``markdown``). The whole calibration rests on ONE clip of ONE
person.
"""
from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np

from partkd_stream.convert import convert
from partkd_stream.layouts import get_layout

from .degrade import DegradeConfig, torso_length
from .paths import REPO, shared_data
from .reporting import markdown_table

SAMPLE = "S001C001P001R001A001"
DEFAULT_SKELETON = shared_data() / "ntu" / "skeletons" / f"{SAMPLE}.skeleton"
DEFAULT_VIDEO = shared_data() / "ntu" / "videos" / f"{SAMPLE}_rgb.avi"
CALIB_DIR = REPO / "train" / "calibration"
MAX_LAG = 3           # frame lags tried between the video and the skeleton
MIN_SCORE = 0.05      # below this, preprocessing treats a joint as missing (PreprocessConfig.min_score)
MIN_FIT_FRAMES = 20   # a joint's parameters are fitted only from frames where Kinect *tracked* it (not inferred)
OUTLIER_FACTOR = 3.0  # a joint whose median error exceeds this × the all-joint median is a Kinect failure

# Parameters one frontal clip of one standing person cannot inform: documented priors. Their values are the
# defaults of ``DegradeConfig`` (one source); the reasons are recorded beside them in the calibration file.
PRIORS: dict[str, str] = {
    "bias_random": "per-clip bias variation needs many clips/people; small prior",
    "scale_std": "framing differs between datasets, not between estimators; preprocessing normalises it",
    "translate_std": "as scale_std",
    "swap_len": "typical length of a MediaPipe left/right confusion run (frames)",
    "occlusion_frac": "the clip shows a fully visible person: no part occlusion to measure",
    "occlusion_len": "half a second at 30 fps",
    "occlusion_parts": "limbs and head",
    "occlusion_noise": "MediaPipe places occluded joints near plausible poses, with a larger error",
    "occluded_score": "visibility of occluded joints, from MediaPipe's documented meaning of visibility",
    "drop_frame_len": "short detector misses",
}
# Rates used instead of a measured 0 (one easy clip cannot show a rare event; 0 would switch it off).
RATE_PRIORS = ("swap_frac", "drop_frame_frac", "dropout")


# ----- measurement ---------------------------------------------------------------------------------------------
def pair_frames(kin: np.ndarray, mp25: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Kinect frame t paired with MediaPipe frame t + lag, over the frames both have."""
    t = min(len(kin), len(mp25))
    lo, hi = max(0, -lag), min(t, t - lag)
    return kin[lo:hi], mp25[lo + lag:hi + lag]


def valid_mask(kin: np.ndarray, mp25: np.ndarray) -> np.ndarray:
    """``[T, V]``: Kinect has the joint and MediaPipe detected a person in that frame."""
    detected = (mp25[..., 2] > 0).any(-1)
    return (kin[..., 2] > 0) & detected[:, None]


def median_error(kin: np.ndarray, mp25: np.ndarray) -> float:
    ok = valid_mask(kin, mp25)
    d = np.linalg.norm(mp25[..., :2] - kin[..., :2], axis=-1)
    return float(np.median(d[ok])) if ok.any() else float("inf")


def runs_of(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a 1-D bool array."""
    padded = np.r_[False, mask, False].astype(np.int8)
    d = np.diff(padded)
    return list(np.flatnonzero(d == -1) - np.flatnonzero(d == 1))


def fit_camera(kin3d: np.ndarray, kin: np.ndarray) -> dict[str, float]:
    """Least-squares pinhole ``u = f·x/z + cx, v = −f·y/z + cy`` from Kinect camera space to colour pixels."""
    ok = (kin3d[..., 3] > 0) & (kin3d[..., 2] > 0.1)
    x, y, z = (kin3d[..., i][ok] for i in range(3))
    u, v = kin[..., 0][ok], kin[..., 1][ok]
    n = len(x)
    a = np.zeros((2 * n, 3))
    a[:n, 0], a[:n, 1] = x / z, 1.0
    a[n:, 0], a[n:, 2] = -y / z, 1.0
    sol, *_ = np.linalg.lstsq(a, np.r_[u, v], rcond=None)
    rms = float(np.sqrt(np.mean(np.square(a @ sol - np.r_[u, v]))))
    return {"focal": float(sol[0]), "cx": float(sol[1]), "cy": float(sol[2]), "rms_px": rms}


def autocov(r: np.ndarray, ok: np.ndarray, max_lag: int) -> np.ndarray:
    """``[V, max_lag+1]`` autocovariance per joint (per axis, averaged over x/y) over valid frame pairs."""
    t, v, _ = r.shape
    out = np.zeros((v, max_lag + 1))
    for k in range(max_lag + 1):
        both = ok[: t - k] & ok[k:]
        prod = (r[: t - k] * r[k:]).mean(-1)  # average of x and y products
        out[:, k] = (prod * both).sum(0) / np.maximum(both.sum(0), 1)
    return out


def fit_drift_jitter(r: np.ndarray, ok: np.ndarray, max_lag: int = 4) -> tuple[float, np.ndarray, np.ndarray]:
    """AR(1)+white fit: C(0) = σd² + σw², C(k≥1) = σd² aᵏ → (τ frames, σd [V], σw [V])."""
    c = autocov(r, ok, max_lag)
    pooled = c.sum(0)
    ks = np.arange(1, max_lag + 1)
    pos = pooled[1:] > 0
    if pos.sum() >= 2:
        slope = np.polyfit(ks[pos], np.log(pooled[1:][pos]), 1)[0]
        a = float(np.clip(np.exp(slope), np.exp(-1.0), np.exp(-1.0 / 100.0)))
    else:
        a = float(np.exp(-1.0 / 8.0))
    tau = -1.0 / np.log(a)
    var_d = np.clip(c[:, 1] / a, 0.0, c[:, 0])
    var_w = np.maximum(c[:, 0] - var_d, 0.0)
    return float(tau), np.sqrt(var_d), np.sqrt(var_w)


def measure(kin: np.ndarray, mp33: np.ndarray, kin3d: Optional[np.ndarray] = None) -> dict[str, Any]:
    """Measurements and fitted parameters from Kinect colour joints ``[T, 25, 3]`` and MediaPipe ``[T, 33, 3]``."""
    lay = get_layout("ntu25")
    perm = lay.flip_permutation()
    mp25 = convert(mp33, "mediapipe33", "ntu25")
    mappings = {"direct": mp25, "swapped": mp25[:, perm]}

    # left/right correspondence and frame lag, chosen together by the median error
    grid = {m: {lag: median_error(*pair_frames(kin, seq, lag)) for lag in range(-MAX_LAG, MAX_LAG + 1)}
            for m, seq in mappings.items()}
    mapping, lag = min(((m, k) for m in grid for k in grid[m]), key=lambda mk: grid[mk[0]][mk[1]])
    other = "swapped" if mapping == "direct" else "direct"
    k, m = pair_frames(kin, mappings[mapping], lag)
    _, m_other = pair_frames(kin, mappings[other], lag)
    t = len(k)
    ok = valid_mask(k, m)
    detected = (m[..., 2] > 0).any(-1)

    e = (m[..., :2] - k[..., :2]).astype(np.float64)        # [T, V, 2] px, image axes
    dist = np.linalg.norm(e, axis=-1)
    ys = np.where(k[..., 2] > 0, k[..., 1], np.nan)
    height = np.nanmax(ys, 1) - np.nanmin(ys, 1)               # head joint → lowest foot joint, per frame
    unit = torso_length(k, lay)                                # Kinect torso length (px), the degradation's unit

    # frames in which the *other* mapping fits the lateral joints better: MediaPipe swapped left and right
    lateral = perm != np.arange(lay.num_joints)
    d_other = np.linalg.norm(m_other[..., :2] - k[..., :2], axis=-1)
    lat_ok = ok[:, lateral]
    mean_lat = lambda d: (d[:, lateral] * lat_ok).sum(1) / np.maximum(lat_ok.sum(1), 1)  # noqa: E731
    swapped_frames = detected & (mean_lat(d_other) < mean_lat(dist))

    per_joint: dict[str, dict[str, Any]] = {}
    bias = np.zeros((lay.num_joints, 2))
    vis = m[..., 2]
    for j, name in enumerate(lay.joints):
        sel = ok[:, j]
        if not sel.any():
            continue
        dj, ej = dist[sel, j], e[sel, j]
        hj = dist[sel, j] / height[sel]
        jit = float(np.sqrt(np.mean(np.var(ej, axis=0))))
        per_joint[name] = {
            "n": int(sel.sum()),
            "mean_px": float(dj.mean()), "median_px": float(np.median(dj)), "p90_px": float(np.percentile(dj, 90)),
            "mean_height": float(hj.mean()), "median_height": float(np.median(hj)),
            "p90_height": float(np.percentile(hj, 90)),
            "bias_px": [float(b) for b in ej.mean(0)], "jitter_px": jit,
            "visibility_mean": float(vis[sel, j].mean()), "visibility_std": float(vis[sel, j].std()),
            "kinect_inferred_share": float((k[sel, j, 2] < 1).mean()),
        }

    # fit only where Kinect is trustworthy: tracked (not inferred) joints, and not gross Kinect failures
    overall_median = float(np.median(dist[ok])) if ok.any() else 0.0
    fit_ok = ok & (k[..., 2] >= 1.0)
    excluded: dict[str, str] = {}
    for j, name in enumerate(lay.joints):
        n_fit = int(fit_ok[:, j].sum())
        if n_fit < MIN_FIT_FRAMES:
            excluded[name] = f"Kinect tracked it in only {n_fit} frames (< {MIN_FIT_FRAMES})"
        elif np.median(dist[fit_ok[:, j], j]) > OUTLIER_FACTOR * overall_median:
            excluded[name] = (f"median error {np.median(dist[fit_ok[:, j], j]):.0f} px > {OUTLIER_FACTOR} x the "
                              f"all-joint median ({overall_median:.0f} px): a tracking failure, not MediaPipe's error")
        else:
            bias[j] = e[fit_ok[:, j], j].mean(0)
            continue
        fit_ok[:, j] = False
    r = (e - bias[None]) / unit
    tau, sd, sw = fit_drift_jitter(r, fit_ok)
    all_d = dist[ok]
    summary = {
        "frames_video": int(len(mp33)), "frames_skeleton": int(len(kin)), "frames_compared": t,
        "frames_without_detection": int((~detected).sum()),
        "share_without_detection": float((~detected).mean()) if t else 0.0,
        "lr_mapping": mapping, "lag_frames": int(lag),
        "median_px_by_mapping_and_lag": {mm: {str(kk): round(vv, 2) for kk, vv in g.items()} for mm, g in grid.items()},
        "median_px": float(np.median(all_d)), "mean_px": float(all_d.mean()),
        "p90_px": float(np.percentile(all_d, 90)),
        "median_height": float(np.median((dist / height[:, None])[ok])),
        "body_height_px": float(np.nanmedian(height)), "torso_length_px": unit,
        "swapped_frames": int(swapped_frames.sum()),
        "low_visibility_share": float((vis[ok] < MIN_SCORE).mean()),
        "drift_timescale_frames": tau,
    }
    if kin3d is not None:
        summary["camera"] = fit_camera(kin3d[: len(kin)], kin)

    for name, why in excluded.items():
        if name in per_joint:
            per_joint[name]["fit_excluded"] = why
    names = [n for n in lay.joints if n in per_joint and n not in excluded]
    idx = [lay.index(n) for n in names]
    fitted = {
        "jitter_joints": {n: round(float(sw[i]), 5) for n, i in zip(names, idx)},
        "drift_joints": {n: round(float(sd[i]), 5) for n, i in zip(names, idx)},
        "bias_joints": {n: [round(float(b), 5) for b in bias[i] / unit] for n, i in zip(names, idx)},
        "score_joints": {n: [round(per_joint[n]["visibility_mean"], 4), round(per_joint[n]["visibility_std"], 4)]
                         for n in lay.joints if n in per_joint},
        "jitter": round(float(np.median(sw[idx])), 5), "drift": round(float(np.median(sd[idx])), 5),
        "drift_timescale": round(tau, 3),
        "score_mean": round(float(vis[ok].mean()), 4), "score_std": round(float(vis[ok].std()), 4),
    }
    return {"summary": summary, "per_joint": per_joint, "fitted": fitted,
            "measured_rates": {"swap_frac": summary["swapped_frames"] / max(int(detected.sum()), 1),
                               "swap_runs": [int(x) for x in runs_of(swapped_frames)],
                               "drop_frame_frac": summary["share_without_detection"],
                               "drop_frame_runs": [int(x) for x in runs_of(~detected)],
                               "dropout": summary["low_visibility_share"]}}


def build_config(meas: dict[str, Any]) -> tuple[DegradeConfig, dict[str, str]]:
    """The fitted ``DegradeConfig`` and, per parameter, where its value comes from."""
    values: dict[str, Any] = dict(meas["fitted"])
    prov = {k: "measured on the clip" for k in values}
    defaults = DegradeConfig()
    for k, why in PRIORS.items():
        values[k], prov[k] = getattr(defaults, k), f"prior: {why}"
    for k in RATE_PRIORS:
        prior = getattr(defaults, k)
        measured = float(meas["measured_rates"][k])
        if measured > 0:
            values[k], prov[k] = round(measured, 5), "measured on the clip"
        else:
            values[k], prov[k] = prior, "prior: the clip shows none (measured 0), so a small prior rate is used"
    runs = meas["measured_rates"]["swap_runs"]
    if runs:
        values["swap_len"], prov["swap_len"] = float(np.mean(runs)), "measured on the clip (mean run length)"
    cam = meas["summary"].get("camera")
    if cam:
        values["camera_focal"] = round(cam["focal"], 2)
        values["camera_principal"] = (round(cam["cx"], 2), round(cam["cy"], 2))
        prov["camera_focal"] = prov["camera_principal"] = \
            f"measured: pinhole fit of Kinect camera space to colorX/colorY (rms {cam['rms_px']:.1f} px)"
    cfg = DegradeConfig.from_dict(values)
    return cfg, prov


def validate(kin: np.ndarray, mp33: np.ndarray, cfg: DegradeConfig, meas: dict[str, Any],
             seeds: int = 20) -> dict[str, Any]:
    """Close the loop: degrade the Kinect joints with the fitted position error and compare with real MediaPipe.

    Only the position-error parts (bias, drift, jitter) are switched on, since the clip shows no swaps, occlusion
    or missed frames; joints excluded from the fit are left out of both sides.
    """
    from dataclasses import replace

    from .degrade import degrade

    lay = get_layout("ntu25")
    s = meas["summary"]
    names = list(cfg.jitter_joints)
    idx = [lay.index(n) for n in names]
    perm = lay.flip_permutation() if s["lr_mapping"] == "swapped" else np.arange(lay.num_joints)
    k, m = pair_frames(kin, convert(mp33, "mediapipe33", "ntu25")[:, perm], s["lag_frames"])
    ok = valid_mask(k, m)[:, idx]
    real = np.linalg.norm(m[..., :2] - k[..., :2], axis=-1)[:, idx][ok]
    pos_only = replace(cfg, swap_frac=0.0, drop_frame_frac=0.0, occlusion_frac=0.0, dropout=0.0, scale_std=0.0,
                       translate_std=0.0)
    sim = []
    for seed in range(seeds):
        lq = degrade(k, "ntu25", "ntu25", pos_only, np.random.default_rng(seed))
        sim.append(np.linalg.norm(lq[..., :2] - k[..., :2], axis=-1)[:, idx][ok])
    sim_all = np.concatenate(sim)
    return {"joints": names, "seeds": seeds,
            "real_median_px": float(np.median(real)), "real_p90_px": float(np.percentile(real, 90)),
            "degraded_median_px": float(np.median(sim_all)), "degraded_p90_px": float(np.percentile(sim_all, 90))}


# ----- report --------------------------------------------------------------------------------------------------
def markdown(doc: dict[str, Any]) -> str:
    s, pj, cfg, prov = doc["summary"], doc["per_joint"], doc["degrade_config"], doc["provenance"]
    g = s["median_px_by_mapping_and_lag"]
    lags = list(g["direct"])
    lines = [
        "# Calibration of the degradation model: MediaPipe vs Kinect on NTU RGB+D",
        "",
        f"Produced by `{doc['command']}` (writes this file and `mediapipe_ntu.json`).",
        "",
        f"Data: NTU RGB+D `{doc['data']['sample']}`"
        f"{' (drink water, one person, facing the camera, standing)' if doc['data']['sample'] == SAMPLE else ''}"
        f": the Kinect v2 "
        f"skeleton's `colorX, colorY` (1920×1080 pixels) against MediaPipe Pose (model_complexity "
        f"{doc['data']['model_complexity']}, frames downscaled to {doc['data']['max_width']} px width before "
        f"MediaPipe, landmarks scaled back) on the RGB video, mapped to the 25 Kinect joints by "
        f"`partkd_stream.convert` (mediapipe33 → ntu25; synthesised joints as documented there).",
        "",
        "**Caveat: the whole calibration rests on ONE clip of ONE person** (103 frames). It measures MediaPipe's "
        "error on an easy, fully visible subject; the parameters this clip cannot inform are documented priors "
        "(see *provenance* below and in the JSON). The error is MediaPipe minus Kinect, so it includes Kinect's own "
        "noise and the two devices' different joint definitions (e.g. Kinect's hip joints sit inside the pelvis, "
        "MediaPipe's on its outline) — exactly the HQ → LQ gap the degradation has to reproduce.",
        "",
        "## Left/right correspondence and timing (median error, px)",
        "",
        *_table(["mapping", *(f"lag {k}" for k in lags)],
                [[m, *(f"{g[m][k]:.1f}" for k in lags)] for m in ("direct", "swapped")], right=len(lags)),
    ]
    lines += [
        "",
        f"Used: **{s['lr_mapping']}** mapping (MediaPipe's `left_*` ↔ Kinect's `*Left`"
        f"{'' if s['lr_mapping'] == 'direct' else ' swapped'}), lag {s['lag_frames']} frames (MediaPipe frame "
        f"t + lag ↔ Kinect frame t). Frames where the other mapping fits the lateral joints better "
        f"(MediaPipe left/right confusions): {s['swapped_frames']}.",
        "",
        "A swapped best mapping means Kinect's `*Left` joints lie where MediaPipe puts `right_*` on this video. A "
        "likely reason: the RGB video is a mirror image of the scene (as Kinect v2 delivers colour frames), and "
        "MediaPipe labels the sides of the person it sees. Either way, to pair extracted NTU skeletons with the "
        "Kinect ones, exchange MediaPipe's sides: `partkd-stream extract --swap-sides`. The degradation itself works "
        "in the HQ layout's own labels, so it needs no swap.",
        "",
        "## Overall",
        "",
        f"- frames: video {s['frames_video']}, skeleton {s['frames_skeleton']}, compared {s['frames_compared']}; "
        f"without a MediaPipe detection: {s['frames_without_detection']} ({100 * s['share_without_detection']:.1f} %)",
        f"- error over all joints and frames: median {s['median_px']:.1f} px, mean {s['mean_px']:.1f} px, "
        f"p90 {s['p90_px']:.1f} px; median {100 * s['median_height']:.2f} % of body height",
        f"- body height (Kinect head joint → lowest foot joint, median over frames): {s['body_height_px']:.0f} px; "
        f"torso length (mid-shoulder ↔ mid-hip, the degradation's unit): {s['torso_length_px']:.1f} px",
        f"- joints with MediaPipe visibility < {MIN_SCORE} (treated as missing): "
        f"{100 * s['low_visibility_share']:.2f} %",
        f"- drift correlation time (AR(1) fit): {s['drift_timescale_frames']:.1f} frames",
    ]
    if "camera" in s:
        c = s["camera"]
        lines.append(f"- Kinect colour camera (pinhole fit of camera-space joints to colorX/colorY, used to project "
                     f"3D data): focal {c['focal']:.0f} px, principal point ({c['cx']:.0f}, {c['cy']:.0f}), "
                     f"rms {c['rms_px']:.1f} px")
    v = doc.get("validation")
    if v:
        lines += [
            "",
            "## Check: does the fitted model reproduce the error?",
            "",
            f"Degrading the Kinect joints with the fitted position error (bias + drift + jitter; {v['seeds']} seeds) "
            f"and comparing with the clean Kinect joints, over the {len(v['joints'])} fitted joints: median "
            f"{v['degraded_median_px']:.1f} px, p90 {v['degraded_p90_px']:.1f} px — real MediaPipe on the same "
            f"joints and frames: median {v['real_median_px']:.1f} px, p90 {v['real_p90_px']:.1f} px.",
        ]
    lines += [
        "",
        "## Per joint",
        "",
        "Error = |MediaPipe − Kinect| in pixels and as % of body height; bias = mean signed offset (x right, y down, "
        "px); jitter = std of the error after removing the bias (px, per axis); vis = MediaPipe visibility; "
        "inferred = share of frames where Kinect only inferred the joint.",
        "",
        *_table(["joint", "mean px", "median px", "p90 px", "median % h", "p90 % h", "bias x", "bias y", "jitter px",
                 "vis mean", "vis std", "inferred"],
                [[name, f"{r['mean_px']:.1f}", f"{r['median_px']:.1f}", f"{r['p90_px']:.1f}",
                  f"{100 * r['median_height']:.2f}", f"{100 * r['p90_height']:.2f}", f"{r['bias_px'][0]:+.1f}",
                  f"{r['bias_px'][1]:+.1f}", f"{r['jitter_px']:.1f}", f"{r['visibility_mean']:.3f}",
                  f"{r['visibility_std']:.3f}", f"{100 * r['kinect_inferred_share']:.0f} %"] for name, r in pj.items()],
                right=11),
    ]
    lines += [
        "",
        "## Fitted parameters (torso lengths; `DegradeConfig.from_calibration()`)",
        "",
        "Fitted only on frames where Kinect *tracked* the joint (not inferred). Bias = mean signed error / torso "
        "length. Per-joint drift (smooth, AR(1)) and jitter (white) come from the autocovariance of the bias-free "
        "error: C(0) = σ_drift² + σ_jitter², C(k ≥ 1) = σ_drift² · aᵏ with a = exp(−1/τ) fitted on the pooled "
        "joints. `jitter` and `drift` (for joints without their own value) are the medians over fitted joints.",
        "",
    ]
    rows = []
    for name in pj:
        sc = cfg["score_joints"][name]
        b = cfg["bias_joints"].get(name)
        fitted = ["—"] * 4 if b is None else [f"{b[0]:+.4f}", f"{b[1]:+.4f}", f"{cfg['drift_joints'][name]:.4f}",
                                              f"{cfg['jitter_joints'][name]:.4f}"]
        rows.append([name, *fitted, f"{sc[0]:.3f}", f"{sc[1]:.3f}"])
    lines += _table(["joint", "bias x", "bias y", "drift σ", "jitter σ", "vis mean", "vis std"], rows, right=6)
    excl = {n: r["fit_excluded"] for n, r in pj.items() if "fit_excluded" in r}
    if excl:
        lines += ["", "— = not fitted; the joint takes the defaults `jitter`, `drift` and no bias:"]
        lines += [f"- `{n}`: {why}" for n, why in excl.items()]
    lines += ["", *_table(["parameter", "value", "provenance"],
                          [[f"`{key}`", f"`{json.dumps(cfg[key])}`", prov[key]] for key in sorted(prov)
                           if not key.endswith("_joints")]), ""]
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[Any]], right: int = 0) -> list[str]:
    """A markdown table as lines, its last ``right`` columns right-aligned."""
    align = ["---"] * (len(head) - right) + ["---:"] * right
    return markdown_table(head, rows, align).rstrip("\n").split("\n")
