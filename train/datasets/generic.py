""""Bring your own dataset": a folder of ``.npz`` sequence files plus ``classes.txt``.

Layout of the folder (any sub-folders are searched too)::

    my_dataset/
      classes.txt              one class name per line; line k (0-based) is label k
      clip_0001.npz …          one sequence per file, partkd_stream.skeleton_io format

Each ``.npz`` is what :func:`partkd_stream.skeleton_io.save_sequence` writes: ``data`` float32 ``[T, V, C]``
(score last; or ``[M, T, V, C]`` with the main actor first), ``layout`` (a ``partkd_stream.layouts`` name, the same
in every file), ``fps``, ``timestamps``, ``id``, ``label`` (0-based, required here) and ``meta``, a JSON object
with ``split`` (``"train"`` / ``"test"``, required) and optionally ``subject`` and ``view`` (integers). Other
``meta`` keys are kept. The protocol is ``default`` (the files' own split).
"""
from __future__ import annotations

from pathlib import Path

from partkd_stream.layouts import get_layout
from partkd_stream.skeleton_io import SkeletonFileError, load_sequence

from .sample import DatasetError, DatasetInfo, Sample, find_files


def generic_sample(path: Path, num_classes: int) -> Sample:
    try:
        seq = load_sequence(path)
    except SkeletonFileError as e:
        raise DatasetError(str(e)) from None
    meta = dict(seq.meta)
    split = meta.pop("split", None)
    if split not in ("train", "test"):
        raise DatasetError(f"{path}: meta.split must be 'train' or 'test', got {split!r}")
    if not 0 <= seq.label < num_classes:
        raise DatasetError(f"{path}: label {seq.label} is not a line of classes.txt (0..{num_classes - 1})")
    try:
        lay = get_layout(seq.layout)
    except ValueError as e:
        raise DatasetError(f"{path}: {e}") from None
    data = seq.data
    if data.ndim not in (3, 4) or data.shape[-2] != lay.num_joints or data.shape[-1] not in (3, 4):
        raise DatasetError(f"{path}: data must be [T, {lay.num_joints}, 3 or 4] (or [M, …]) for layout "
                           f"{seq.layout}, got {list(data.shape)}")
    others = None
    if data.ndim == 4:
        data, others = data[0], (data[1:] if len(data) > 1 else None)
    subject, view = meta.pop("subject", None), meta.pop("view", None)
    return Sample(data=data, layout=seq.layout, label=seq.label, id=seq.id or path.stem, fps=seq.fps, split=split,
                  subject=None if subject is None else int(subject), view=None if view is None else int(view),
                  others=others, meta=meta)


def load_generic(root: str | Path, *, protocol: str | None = None,
                 progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    if protocol not in (None, "default"):
        raise DatasetError(f"a generic dataset has one protocol, 'default' (the files' own split); got {protocol!r}")
    root = Path(root)
    files = find_files(root, "*.npz", "folder of .npz sequences with a classes.txt")
    classes_file = root / "classes.txt"
    if not classes_file.is_file():
        raise DatasetError(f"{classes_file}: missing; write one class name per line (line k = label k)")
    classes = [ln.strip() for ln in classes_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    from tqdm import tqdm

    samples = [generic_sample(p, len(classes)) for p in tqdm(files, desc="generic", unit="file",
                                                             disable=not progress)]
    layouts, rates = {s.layout for s in samples}, {s.fps for s in samples}
    if len(layouts) > 1:
        raise DatasetError(f"{root}: files mix layouts {sorted(layouts)}; one dataset has one layout")
    return DatasetInfo(name="generic", layout=layouts.pop(), classes=classes, fps=float(max(rates)),
                       protocol="default", root=str(root), meta={"fps_values": sorted(rates)}), samples
