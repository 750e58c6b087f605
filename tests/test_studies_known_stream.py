"""train.studies.known_stream: a benchmark's test clips as one labelled stream for the harness."""
import numpy as np

from train.lib.annotations import load_annotations, write_annotations
from train.studies.known_stream import known_stream, mixed_order


def test_mixed_order_keeps_every_clip_once_and_avoids_neighbours_of_one_label():
    labels = np.array([0] * 5 + [1] * 4 + [2] * 3)
    order = mixed_order(labels, seed=3)
    assert sorted(order.tolist()) == list(range(len(labels)))
    seq = labels[order]
    for i in range(1, len(seq)):                       # a repeat only once no other label is left
        if seq[i] == seq[i - 1]:
            assert np.all(seq[i:] == seq[i]), seq
    assert mixed_order(labels, seed=3).tolist() == order.tolist()    # seeded


def test_known_stream_repeats_short_clips_and_annotates_each_with_a_gap(tmp_path):
    clip_a = np.ones((15, 13, 3), np.float32)          # 0.5 s at 30 fps → repeated to ≥ 2 s
    clip_b = np.full((90, 13, 3), 2, np.float32)       # 3 s, already long enough
    seq, segs = known_stream([clip_a, clip_b], [30.0, 30.0], ["a", "b"], "penn13", min_seconds=2.0, gap_s=1.0)
    assert [s[0] for s in segs] == ["a", "b"]
    assert segs[0] == ("a", 0.0, 2.0) and segs[1][1] == 3.0 and segs[1][2] == 6.0
    assert len(seq.data) == 60 + 30 + 90 + 30 and np.all(seq.data[60:90] == 0)   # nobody in the gap
    assert np.all(np.diff(seq.timestamps) > 0)
    (tmp_path / "s.npz").touch()
    write_annotations(tmp_path / "s.yaml", [("s.npz", segs)], "two clips")
    (item,) = load_annotations(tmp_path / "s.yaml")          # the one reader reads what the one writer wrote
    assert item.path == tmp_path / "s.npz"
    assert [(s.label, s.start, s.end) for s in item.segments] == [("a", 0.0, 2.0), ("b", 3.0, 6.0)]
