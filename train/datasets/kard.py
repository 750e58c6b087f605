"""KARD (``a{AA}_s{SS}_e{EE}_realworld.txt``) → samples (``openni15``, 3D metres, 30 fps).

Kinect Activity Recognition Dataset (Gaglio, Lo Re, Morana, IEEE THMS 2014): 18 activities × 10 subjects × 3
repetitions = 540 clips, Kinect v1 through OpenNI/NITE. Each file is plain text, one joint per line, ``x y z`` in
millimetres (camera space), 15 lines per frame (``openni.read_joint_text``). Activities 1..18 → labels 0..17
(``labels/kard_classes.txt``, the dataset's order), subject ``SS``, ``meta`` keeps the activity and repetition.

**Joint order** (the dataset's: head, neck, right shoulder, right elbow, right hand, left shoulder, left elbow,
left hand, torso, right hip, right knee, right foot, left hip, left knee, left foot) holds on the data: the head is
the highest joint in 89 % of frames (a raised hand in most others), every bone keeps its length (median, mm:
head–neck 221, neck–shoulder 173, upper arm 296, forearm 292, hip width 202, thigh 439, shin 407; left and right
alike), the neck is exactly the shoulders' midpoint and the torso exactly halfway between neck and mid-hip (NITE
computes both). The hand and foot are Kinect's hand and foot, not its wrist and ankle (``convert.py``).

**Sides and the camera, checked on the data.** The joints the file calls *right* are the person's right: in every
clip of the two one-armed waves, high throw, draw X, draw tick, phone call and drink the right hand travels
farther (30 of 30 clips each; catch cap and take umbrella are done with the left hand in 30 of 30 — scripted that
way), both kicks kick with the right foot (30 of 30), and — a check that does not assume right-handed people — the
long up-stroke of a drawn tick (✓), which goes to the drawer's right, moves towards the right shoulder's side in
26 of 30 clips (all but subjects 6 and 7). People face the sensor (a raised hand comes nearer to it than the
torso) and the right shoulder has the smaller x: x already points to the camera's right (an unmirrored webcam's
image right), y up, z away from the sensor — the loader keeps the axes and converts millimetres to metres.
``tests/test_datasets_kard_florence3d_realdata.py`` re-checks all of it.

**Frame rate.** Documented 30 fps. KARD's people move slowly: for the same movements (a hand raised to wave or
drink, the hips dropping to sit or rising to stand) they take 1.2–2.2× (median 1.7×) the frames that UTD-MHAD's
and NTU's people take at 30 fps. A Kinect v1 delivers at most 30 fps and a lower rate would make KARD's people
slower still, so the documented rate stands: KARD's actions are slow, deliberate demonstrations. In the walk clips
people turn round, the back to the sensor for part of 20 of the 30 clips.

Protocols (by subject; there is no official split file): ``cross_subject`` (default): odd subjects 1, 3, 5, 7, 9
train, even subjects 2, 4, 6, 8, 10 test — half the people, as in the literature's new-person setting, by the same
odd/even rule as UTD-MHAD so a model trained on several datasets keeps one rule. ``cross_subject_val``: subjects
1, 3, 5, 7 train and subject 9 takes the test split's place (tuning never sees a test subject). ``loso_<k>``:
subject k tests, the other nine train.
"""
from __future__ import annotations

import re
from pathlib import Path

from .openni import parse_clip_name, read_joint_text, subject_splits, to_openni15
from .sample import DatasetInfo, Sample, find_files, read_class_names

FPS = 30.0
NAME_RE = re.compile(r"^a(\d+)_s(\d+)_e(\d+)_realworld$")
# Line k of each frame, by openni15 joint name (the dataset's documented order, verified on the data).
KARD_JOINTS: tuple[str, ...] = (
    "head", "neck", "right_shoulder", "right_elbow", "right_hand", "left_shoulder", "left_elbow", "left_hand",
    "torso", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
)
FLIP_X = False  # x already points to the camera's right


def parse_name(path: Path) -> tuple[int, int, int]:
    """``(activity, subject, repetition)`` from ``a{AA}_s{SS}_e{EE}_realworld.txt``; a one-line error otherwise."""
    return parse_clip_name(path, NAME_RE, "a<activity>_s<subject>_e<repetition>_realworld.txt", "KARD", 18)


def kard_sample(path: str | Path, split: str) -> Sample:
    """One clip: ``openni15`` order, metres, x towards the camera's right, score last."""
    path = Path(path)
    activity, subject, rep = parse_name(path)
    data = to_openni15(read_joint_text(path), KARD_JOINTS, FLIP_X)
    return Sample(data=data, layout="openni15", label=activity - 1, id=path.stem.removesuffix("_realworld"),
                  fps=FPS, split=split, subject=subject, meta={"action": activity, "repetition": rep})


def load_kard(root: str | Path, *, protocol: str | None = None,
              progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    """Every ``*_realworld.txt`` under ``root`` (the ``realworld`` folder); subjects outside the protocol are left out."""
    protocol = protocol or "cross_subject"
    split_of = subject_splits("KARD", protocol)
    from tqdm import tqdm

    files = find_files(root, "*_realworld.txt", "KARD realworld folder (a01_s01_e01_realworld.txt …)")
    samples = []
    for p in tqdm(files, desc="kard", unit="file", disable=not progress):
        subject = parse_name(p)[1]
        if subject in split_of:
            samples.append(kard_sample(p, split_of[subject]))
    return DatasetInfo(name="kard", layout="openni15", classes=read_class_names("kard_classes.txt"),
                       fps=FPS, protocol=protocol, root=str(root)), samples
