"""Multi-person pose: the offline .task bundle, duplicate suppression, and people found on the real videos."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from conftest import shared_path

from partkd_stream import pose_multi
from partkd_stream.errors import PartkdError
from partkd_stream.pose_multi import MediaPipeMultiPose, PoseModelError, landmarker_bundle, suppress_duplicates
from partkd_stream.synthetic import placed


def test_bundle_holds_both_models_with_their_input_ranges():
    from mediapipe.tasks.python.metadata import metadata

    ranges = {}
    with zipfile.ZipFile(io.BytesIO(landmarker_bundle())) as zf:
        for name in zf.namelist():
            md = json.loads(metadata.MetadataDisplayer.with_model_buffer(zf.read(name)).get_metadata_json())
            stats = md["subgraph_metadata"][0]["input_tensor_metadata"][0]["stats"]
            ranges[name] = (stats["min"][0], stats["max"][0])
    assert ranges == {"pose_detector.tflite": (-1.0, 1.0), "pose_landmarks_detector.tflite": (0.0, 1.0)}


def test_missing_model_file_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(pose_multi, "_mediapipe_dir", lambda: tmp_path)
    landmarker_bundle.cache_clear()
    try:
        with pytest.raises(PoseModelError) as e:
            landmarker_bundle()
    finally:
        landmarker_bundle.cache_clear()
    msg = str(e.value)
    assert isinstance(e.value, PartkdError) and "\n" not in msg
    assert "pose_detection.tflite" in msg and "pip install --force-reinstall 'mediapipe==0.10.21'" in msg


def test_duplicates_are_suppressed_distinct_people_kept_most_prominent_first():
    a, b = placed(300), placed(700, scale=1.2)
    a_again = a.copy()
    a_again[:, :2] += 4.0                      # the same person found twice, a few pixels apart
    hug = placed(360)                          # another person, close beside a
    keep = suppress_duplicates([a, a_again, b, hug])
    assert keep[0] == 2                        # the largest person first
    assert sorted(keep) == [0, 2, 3] or sorted(keep) == [1, 2, 3]
    assert suppress_duplicates([]) == []


def test_blank_frame_has_nobody_and_max_people_is_checked():
    with pytest.raises(ValueError):
        MediaPipeMultiPose(max_people=0)
    with MediaPipeMultiPose(max_people=2) as pose:
        assert pose.process(np.zeros((240, 320, 3), np.uint8)) == []


@pytest.mark.realdata
def test_input_normalisation_reproduces_the_legacy_solution():
    """Detector in [-1, 1], landmark model in [0, 1]: the Tasks graph gives the legacy graph's landmarks."""
    import cv2
    import mediapipe as mp
    from mediapipe.python.solutions import pose as mp_pose
    from mediapipe.tasks.python import BaseOptions, vision

    cap = cv2.VideoCapture(str(shared_path("ntu", "videos", "S001C001P001R001A001_rgb.avi")))
    frames = []
    for k in range(40):
        ok, f = cap.read()
        if ok and k % 8 == 0:
            frames.append(np.ascontiguousarray(f[:, :, ::-1]))
    opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_buffer=landmarker_bundle()),
                                        running_mode=vision.RunningMode.IMAGE, num_poses=1)
    errors = []
    with mp_pose.Pose(static_image_mode=True, model_complexity=1, smooth_landmarks=False) as legacy, \
            vision.PoseLandmarker.create_from_options(opts) as tasks:
        for rgb in frames:
            h, w = rgb.shape[:2]
            a = legacy.process(rgb).pose_landmarks.landmark
            b = tasks.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).pose_landmarks[0]
            errors.append(np.median([np.hypot((p.x - q.x) * w, (p.y - q.y) * h) for p, q in zip(a, b)]))
    assert len(errors) == 5 and np.median(errors) < 0.5      # measured 0.07 px; [-1, 1] for both: 1.8 px


@pytest.mark.realdata
def test_both_hugging_people_are_found_and_tracked():
    import cv2

    from partkd_stream.tracking import PersonTracker

    cap = cv2.VideoCapture(str(shared_path("videos", "two_person_hug_ntu.mp4")))
    tracker, counts, ids = PersonTracker(), [], set()
    with MediaPipeMultiPose(max_people=2) as pose:
        for k in range(40):
            ok, frame = cap.read()
            if not ok:
                break
            people = pose.process(frame)
            counts.append(len(people))
            ids.update(pid for pid, _ in tracker.update([p.keypoints_2d() for p in people], k / 28.0).people)
    assert len(counts) == 40 and counts.count(2) >= 36           # measured: 38 of the first 40
    assert ids == {1, 2}


def test_tiles_overlap_by_a_third_and_cover_the_frame():
    t = pose_multi.tiles(1080, 1920)
    assert t == [(0, 0, 720, 1280), (0, 640, 720, 1920), (360, 0, 1080, 1280), (360, 640, 1080, 1920)]
    # any box up to a third of the frame lies wholly inside one tile
    rng = np.random.default_rng(0)
    for _ in range(200):
        y, x = rng.uniform(0, 1080 - 360), rng.uniform(0, 1920 - 640)
        assert any(y0 <= y and y + 360 <= y1 and x0 <= x and x + 640 <= x1 for y0, x0, y1, x1 in t)


def test_a_pose_cut_by_an_inner_tile_edge_is_dropped_one_at_the_frame_edge_kept():
    tile = (0, 640, 720, 1920)                                   # top right: inner edges left (x 640), bottom (y 720)
    pose = np.zeros((33, 3), np.float32)
    pose[:, 2] = 1.0
    pose[:, 0], pose[:, 1] = np.linspace(1200, 1300, 33), np.linspace(100, 400, 33)
    assert not pose_multi.cut_by_tile(pose, tile, 1080, 1920)
    at_frame_edge = pose.copy()
    at_frame_edge[:, 1] = np.linspace(0, 300, 33)                # touches the frame's top: nothing cut off there
    assert not pose_multi.cut_by_tile(at_frame_edge, tile, 1080, 1920)
    cut = pose.copy()
    cut[:, 0] = np.linspace(641, 800, 33)                        # runs into the tile's left edge
    assert pose_multi.cut_by_tile(cut, tile, 1080, 1920)
    unseen = cut.copy()
    unseen[:5, 2] = 0.1                                          # joints not seen do not count
    unseen[:5, 0] = 641
    unseen[5:, 0] = np.linspace(900, 1000, 28)
    assert not pose_multi.cut_by_tile(unseen, tile, 1080, 1920)


@pytest.mark.realdata
def test_tiles_find_small_people_the_whole_frame_misses():
    """NTU A001 shrunk to a corner of a 1920×1080 frame (a person a fifth of the frame tall): the detector sees the
    frame at 224 × 224 and misses them; a tile finds them, once (measured: 0 vs 10 of 10 frames)."""
    import cv2

    cap = cv2.VideoCapture(str(shared_path("ntu", "videos", "S001C001P001R001A001_rgb.avi")))
    frames = []
    for _ in range(10):
        ok, f = cap.read()
        assert ok
        big = np.zeros((1080, 1920, 3), np.uint8)
        big[540:, 960:] = cv2.resize(f, (960, 540))
        frames.append(big)
    with MediaPipeMultiPose(max_people=2) as plain, MediaPipeMultiPose(max_people=2, tiled=True) as tiled:
        counts = [(len(plain.process(f)), len(tiled.process(f))) for f in frames]
    assert sum(a for a, _ in counts) <= 2 and sum(b == 1 for _, b in counts) >= 8


@pytest.mark.slow
@pytest.mark.realdata
def test_tiles_estimated_at_once_give_what_one_after_another_gives():
    """The five landmarkers of ``tiled`` run on a thread pool; each keeps its own tracking, and the results are
    merged in a fixed order, so the people found are those of the serial run, to the bit."""
    import cv2

    cap = cv2.VideoCapture(str(shared_path("ntu", "videos", "S001C001P001R001A001_rgb.avi")))
    frames = [cap.read()[1] for _ in range(4)]
    cap.release()
    with MediaPipeMultiPose(max_people=2, tiled=True, threads=1) as serial, \
            MediaPipeMultiPose(max_people=2, tiled=True, threads=2) as pooled:
        assert serial._pool is None and pooled._pool is not None
        for f in frames:
            a, b = serial.process(f), pooled.process(f)
            assert len(a) == len(b) >= 1
            for p, q in zip(a, b):
                np.testing.assert_array_equal(p.keypoints_2d(), q.keypoints_2d())
