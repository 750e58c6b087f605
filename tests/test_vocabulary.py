"""The everyday vocabulary (``train/datasets/vocabulary.py`` and ``labels/everyday_vocabulary.yaml``): the label
map, its mirror map, mirroring skeletons, and clear errors for a faulty file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures_formats import write_kard_tree, write_utd_tree
from partkd_stream.convert import project_to_2d
from partkd_stream.layouts import LAYOUTS, get_layout
from train.datasets import DatasetError, load_dataset
from train.datasets.sample import read_class_names
from train.datasets.vocabulary import body_center_x, load_vocabulary, mirror_sequence

VOCAB = load_vocabulary()
DIRECTION = {"left": "right", "right": "left", "counter_clockwise": "clockwise",
             "clockwise": "counter_clockwise"}


def test_every_action_of_the_four_kinect_datasets_has_a_class():
    for dataset, classes_file in (("utd_mhad", "utd_mhad_classes.txt"), ("kard", "kard_classes.txt"),
                                  ("florence3d", "florence3d_classes.txt"), ("nw_ucla", "nw_ucla_classes.txt")):
        for action in read_class_names(classes_file):
            assert VOCAB.class_of(dataset, action) in VOCAB.classes, (dataset, action)
    assert VOCAB.class_of("ntu120", "hand waving") == "wave" and VOCAB.class_of("ntu60", "reading") is None
    assert VOCAB.class_of("kard", "high_arm_wave") == VOCAB.class_of("florence3d", "wave") == "wave"
    assert VOCAB.class_of("kard", "two_hand_wave") == "two_hand_wave"
    assert VOCAB.class_of("utd_mhad", "stand_to_sit") == VOCAB.class_of("nw_ucla", "sit down") == "sit_down"
    assert all(VOCAB.why[c] for c in VOCAB.classes if sum(c in VOCAB.classes_of(d) for d in VOCAB.sources) > 1)


def test_mirror_map_is_an_involution_that_swaps_exactly_the_direction_named_classes():
    for label, name in enumerate(VOCAB.classes):
        assert VOCAB.mirror_label(VOCAB.mirror_label(label)) == label
        suffix = next((d for d in DIRECTION if name.endswith(f"_{d}")), None)   # counter_clockwise before clockwise
        expected = name.removesuffix(suffix) + DIRECTION[suffix] if suffix else name
        assert VOCAB.mirror_of[name] == expected, name
    swapped = {c for c in VOCAB.classes if VOCAB.mirror_of[c] != c}
    assert swapped == {"swipe_left", "swipe_right", "draw_circle_clockwise", "draw_circle_counter_clockwise"}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("channels", [3, 4])
def test_mirroring_twice_is_the_identity_and_keeps_the_body_in_place(name, channels):
    lay = get_layout(name)
    seq = np.random.default_rng(3).normal(size=(5, lay.num_joints, channels)).astype(np.float32)
    seq[..., -1] = np.random.default_rng(4).uniform(0, 1, size=seq.shape[:-1])
    seq[2, 0, 0] = np.nan
    once = mirror_sequence(seq, lay)
    np.testing.assert_allclose(mirror_sequence(once, lay), seq, atol=1e-5)
    assert body_center_x(once, lay) == pytest.approx(body_center_x(seq, lay), abs=1e-5)
    perm = lay.flip_permutation()
    np.testing.assert_array_equal(once[..., -1], seq[..., perm, -1])       # scores follow their joints
    np.testing.assert_array_equal(once[..., 1:-1], seq[..., perm, 1:-1])   # y (and z) unchanged


@pytest.mark.parametrize("dataset", ["utd_mhad", "kard"])
def test_a_mirrored_right_hand_wave_moves_the_left_wrist_and_stays_a_wave(tmp_path, dataset):
    if dataset == "utd_mhad":
        write_utd_tree(tmp_path, subjects=2, frames=30)
    else:
        write_kard_tree(tmp_path, subjects=(1, 2), frames=30)
    info, samples = VOCAB.map_samples(*load_dataset(dataset, tmp_path))
    wave = next(s for s in samples if info.classes[s.label] == "wave")
    lay = get_layout(wave.layout)
    hand = "wrist" if "left_wrist" in lay.joints else "hand"
    left, right = lay.index(f"left_{hand}"), lay.index(f"right_{hand}")

    def paths(data):
        return np.linalg.norm(np.diff(data[:, [left, right], :3], axis=0), axis=-1).sum(0)

    assert paths(wave.data)[1] > 5 * paths(wave.data)[0]
    m = VOCAB.mirror_sample(wave)
    assert paths(m.data)[0] > 5 * paths(m.data)[1] and info.classes[m.label] == "wave"
    uv, uv_m = project_to_2d(wave.data), project_to_2d(m.data)
    ls, rs = lay.shoulders
    assert (uv[:, ls, 0] > uv[:, rs, 0]).all() and (uv_m[:, ls, 0] > uv_m[:, rs, 0]).all(), \
        "a mirrored person still faces the camera: left and right swap, and so do their sides of the image"
    centre = lay.center
    assert np.median(uv[:, right, 0]) < np.median(uv[:, centre, 0]), "a right hand waves on the image's left"
    assert np.median(uv_m[:, left, 0]) > np.median(uv_m[:, centre, 0]), "its mirror image on the image's right"


def test_mirrored_swipe_left_is_swipe_right_and_circles_swap():
    seq = np.random.default_rng(0).normal(size=(4, 20, 4)).astype(np.float32)
    for a, b in (("swipe_left", "swipe_right"), ("draw_circle_clockwise", "draw_circle_counter_clockwise"),
                 ("wave", "wave")):
        _, label = VOCAB.mirror(seq, "kinect20", VOCAB.index(a))
        assert VOCAB.classes[label] == b


def test_map_samples_relabels_and_keeps_the_source_action(tmp_path):
    write_kard_tree(tmp_path, subjects=(1, 2), frames=10)
    info, samples = load_dataset("kard", tmp_path)
    vinfo, vsamples = VOCAB.map_samples(info, samples)
    assert vinfo.classes == list(VOCAB.classes) and vinfo.meta["dataset"] == "kard"
    assert len(vsamples) == len(samples)
    assert {(vinfo.classes[s.label], s.meta["action"]) for s in vsamples} == {("wave", "high_arm_wave"),
                                                                            ("clap", "hand_clap")}
    assert all(s.meta["dataset"] == "kard" for s in vsamples) and samples[0].label == 1   # the input is untouched
    with pytest.raises(DatasetError, match="already in vocabulary everyday_vocabulary.yaml"):
        VOCAB.map_samples(vinfo, vsamples)


def test_shared_classes_for_leaving_one_dataset_out():
    assert VOCAB.shared_classes("florence3d", ["kard"]) == ("wave", "clap", "sit_down", "stand_up", "bow",
                                                           "phone_call", "drink")   # in vocabulary order
    assert set(VOCAB.shared_classes("nw_ucla", ["utd_mhad", "kard", "florence3d"])) == {
        "throw", "walk", "sit_down", "stand_up"}
    assert "read_watch" not in VOCAB.shared_classes("florence3d", ["utd_mhad", "kard", "nw_ucla"])
    assert "read_watch" in VOCAB.shared_classes("florence3d")                 # NTU has "check time (from watch)"
    assert VOCAB.shared_classes("kard", ["kard"]) == ()
    with pytest.raises(DatasetError, match="dataset 'sysu' is not in the vocabulary"):
        VOCAB.classes_of("sysu")


HEADER = """datasets:
  kard: {classes: kard_classes.txt, complete: false}
  florence3d: {classes: florence3d_classes.txt, complete: false}
classes:
"""


@pytest.mark.parametrize("body,message", [
    ("  wave: {from: {kard: [high_arm_wav]}}\n", r"class 'wave': kard has no action 'high_arm_wav' \(its actions "
                                                  r"are the lines of kard_classes.txt\)"),
    ("  wave: {from: {kard: [high_arm_wave], florence3d: [wave]}}\n", r"class 'wave' merges 2 actions: say why"),
    ("  a: {from: {kard: [drink]}}\n  b: {from: {kard: [drink]}}\n", r"kard action 'drink' is mapped twice"),
    ("  a: {from: {ntu: [drink water]}}\n", r"unknown dataset 'ntu'; list it under 'datasets'"),
    ("  a: {from: {kard: [drink]}}\n  b: {from: {kard: [bend]}}\nmirror: {a: b}\n",
     r"mirror map is not its own inverse at 'a' → 'b' → 'b': list both directions"),
    ("  a: {from: {kard: [drink]}}\nmirror: {a: c}\n", r"mirror names unknown class 'c'"),
    ("  a: {from: {kard: [drink]}}\none_sided: {kard: [bend]}\n", r"one_sided kard: 'bend' is no mapped action"),
    ("  a: {from: {kard: drink}}\n", r"class 'a', kard: expected a list of action names, got 'drink'"),
    ("  a: [drink\n", r"cannot read the vocabulary \(.*Error"),
])
def test_a_faulty_vocabulary_file_is_a_one_line_error(tmp_path, body, message):
    path = tmp_path / "v.yaml"
    path.write_text(HEADER + body)
    with pytest.raises(DatasetError, match=message) as e:
        load_vocabulary(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_a_complete_dataset_must_map_every_action(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(HEADER.replace("complete: false}\n  flo", "complete: true}\n  flo")
                    + "  a: {from: {kard: [drink]}}\n")
    with pytest.raises(DatasetError, match="kard action 'horizontal_arm_wave' is in no class"):
        load_vocabulary(path)


def test_the_shipped_file_is_the_default(tmp_path):
    assert Path(VOCAB.path).name == "everyday_vocabulary.yaml" and VOCAB.num_classes == len(set(VOCAB.classes))
