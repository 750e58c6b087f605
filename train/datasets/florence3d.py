"""Florence 3D Actions (``a{AA}_s{S}_id{N}.txt``) → samples (``openni15``, 3D metres, ~12 fps measured).

Seidenari et al., CVPR Workshops 2013: 9 actions, 10 subjects, 2–5 repetitions each, 215 clips, Kinect v1
through OpenNI. Each file is plain text, one joint per line, ``x y z`` in millimetres (camera space), 15 lines per
frame (``openni.read_joint_text``); ``N`` numbers the clip in the original single file. Actions 1..9 → labels
0..8 (``labels/florence3d_classes.txt``); ``meta`` keeps the action, the clip number and the repetition (the
clip's rank among its subject's clips of that action, by ``N``).

**Joint order** (the dataset's: head, neck, spine, left shoulder, left elbow, left wrist, right shoulder, right
elbow, right wrist, left hip, left knee, left ankle, right hip, right knee, right ankle) holds on the data: the
head is the highest joint in 90 % of frames, bones keep their lengths, the neck is exactly the shoulders'
midpoint and the "spine" exactly halfway between neck and mid-hip — NITE's torso. The joints named wrist and
ankle are NITE's hand and foot: forearm 293 mm and shin 415 mm, as Kinect's elbow–hand (290–311) and knee–foot
(418–434) on UTD-MHAD and NW-UCLA, not its elbow–wrist (226–236) or knee–ankle (359–378). The loader names them
``*_hand`` and ``*_foot`` (``openni15``).

**Sides and the camera, checked on the data.** The joints the file calls *right* are the person's right. The
dataset has no direction-named action, so the evidence is handedness: a subject's first wave, drink and phone
answer are done with the file's right hand in 10, 10 and 8 of 10 subjects (later repetitions often switch hands:
the file's right hand moves more in 75 %, 76 % and 73 % of all clips). People face the sensor and the left
shoulder has the *smaller* x: raw x points to the camera's left (a mirror image, like UTD-MHAD's raw files and
unlike KARD's), so the loader negates x — then x points to the camera's right, y up, z away from the sensor.

**Frame rate: not documented; about 12 fps, measured, to within a factor ~1.6.** The same movements — the hand
raised (wave, drink, answer phone), the hips dropping (sit down) or rising (stand up), the head dropping (bow
against KARD's bend) — take 3–4 frames here (20 → 80 % of the way) against 4.4–14 frames in KARD, UTD-MHAD and
NTU at 30 fps. Against KARD's slow people that gives 8–10 fps, against NTU's one timed performer 10–15 fps, against
UTD-MHAD's quick people 13–21 fps: the answer depends on how fast one assumes Florence's people move, so treat 12 as
an estimate between 8 and 21 (``tests/test_datasets_kard_florence3d_realdata.py`` prints the table with ``-s``).
Clips are short segments (7–34 frames): a drink clip ends with the bottle at the mouth.

Protocols: ``cross_subject`` (default, a fixed split): odd subjects 1, 3, 5, 7, 9 train, even 2, 4, 6, 8, 10
test (the rule UTD-MHAD and KARD use); ``cross_subject_val``: 1, 3, 5, 7 train, 9 in the test split's place;
``loso_<k>`` (the literature's protocol, 10 folds): subject k tests, the other nine train.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from .openni import parse_clip_name, read_joint_text, subject_splits, to_openni15
from .sample import DatasetInfo, Sample, find_files, read_class_names

FPS = 12.0
NAME_RE = re.compile(r"^a(\d+)_s(\d+)_id(\d+)$")
# Line k of each frame, by openni15 joint name: the dataset's order, its wrist/ankle being NITE's hand/foot.
FLORENCE_JOINTS: tuple[str, ...] = (
    "head", "neck", "torso", "left_shoulder", "left_elbow", "left_hand", "right_shoulder", "right_elbow",
    "right_hand", "left_hip", "left_knee", "left_foot", "right_hip", "right_knee", "right_foot",
)
FLIP_X = True  # raw x points to the camera's left


def parse_name(path: Path) -> tuple[int, int, int]:
    """``(action, subject, clip number)`` from ``a{AA}_s{S}_id{N}.txt``; a one-line error otherwise."""
    return parse_clip_name(path, NAME_RE, "a<action>_s<subject>_id<clip>.txt", "Florence 3D", 9)


def florence_sample(path: str | Path, split: str, repetition: int = 1) -> Sample:
    """One clip: ``openni15`` order, metres, x towards the camera's right, score last."""
    path = Path(path)
    action, subject, clip = parse_name(path)
    data = to_openni15(read_joint_text(path), FLORENCE_JOINTS, FLIP_X)
    return Sample(data=data, layout="openni15", label=action - 1, id=path.stem, fps=FPS, split=split,
                  subject=subject, meta={"action": action, "clip": clip, "repetition": repetition})


def load_florence3d(root: str | Path, *, protocol: str | None = None,
                    progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    """Every ``a*_s*_id*.txt`` under ``root`` (the ``clips`` folder), in clip-number order; subjects outside the
    protocol are left out."""
    protocol = protocol or "cross_subject"
    split_of = subject_splits("Florence 3D", protocol)
    from tqdm import tqdm

    files = find_files(root, "a*_s*_id*.txt", "Florence 3D clips folder (a01_s1_id1.txt …)")
    named = sorted(((parse_name(p), p) for p in files), key=lambda x: x[0][2])
    seen: dict[tuple[int, int], int] = defaultdict(int)
    samples = []
    for (action, subject, _), p in tqdm(named, desc="florence3d", unit="file", disable=not progress):
        seen[(action, subject)] += 1
        if subject in split_of:
            samples.append(florence_sample(p, split_of[subject], seen[(action, subject)]))
    return DatasetInfo(name="florence3d", layout="openni15", classes=read_class_names("florence3d_classes.txt"),
                       fps=FPS, protocol=protocol, root=str(root)), samples
