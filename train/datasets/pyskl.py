"""PYSKL / MMAction2 skeleton pickles → samples, read through a restricted unpickler.

A pickle can run any code when loaded, so :class:`SafeUnpickler` admits only what numpy arrays need
(``_reconstruct`` / ``_frombuffer``, ``ndarray``, ``dtype``, ``scalar`` under ``numpy.core`` or ``numpy._core``),
``collections.OrderedDict`` and ``_codecs.encode`` (protocol-2 pickles spell bytes as an encoded string); plain
dicts, lists, tuples, strings and numbers need no class lookup. Anything
else (``os.system``, ``builtins.eval`` …) raises :class:`UnsafePickleError` before it is called.
Sizes are capped too: the loader is pickle's pure-Python unpickler reading through :class:`_BoundedReader`, which
refuses any read longer than what the file still holds — an object declared as 1 TiB is refused before a byte is
allocated (the C unpickler allocates the declared size first).

Format: ``{"split": {name: [frame_dir, …]}, "annotations": [{frame_dir, total_frames, img_shape, label (0-based),
keypoint [M, T, V, C], keypoint_score [M, T, V] (2D only)}, …]}``. ``V = 17`` with ``C = 2`` → ``coco17``
(pixels + ``keypoint_score``); ``V = 25`` with ``C = 3`` → ``ntu25`` (metres; score 1, 0 for an all-zero joint).
The main actor is body 0 (PYSKL orders bodies by score); bodies 1… go to ``others``.

Protocol ``P`` selects ``P_train`` → train and ``P_val`` (or ``P_test``) → test; samples in neither are left
out. Default: ``xsub`` when present, else plain ``train`` / ``val`` / ``test``, else the first ``*_train`` name.
Class names: ``classes=`` (a text file), else ``<pickle stem>.classes.txt`` or ``classes.txt`` beside the pickle,
else the NTU-120 names when the file name starts with ``ntu``, else ``class_0``, ``class_1`` ….
NTU pickles are 30 fps; ``fps=`` overrides that for other data.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from .sample import DatasetError, DatasetInfo, Sample, read_class_names

ALLOWED = {
    (mod, name)
    for core in ("numpy.core", "numpy._core")
    for mod, name in ((f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
                      (f"{core}.numeric", "_frombuffer"))
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"), ("_codecs", "encode")}


class UnsafePickleError(DatasetError):
    """A pickle that asks for something other than numpy arrays and plain containers."""


class OversizedPickleError(DatasetError):
    """A pickle that declares an object larger than the file itself."""


class _BoundedReader:
    """The file's ``read``/``readline``, refusing to ask for more bytes than the file still holds."""

    def __init__(self, f: Any, size: int) -> None:
        self._f, self._left = f, size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        if n > self._left:
            raise OversizedPickleError(f"it declares an object of {n:,} bytes but only {self._left:,} bytes are left "
                                       f"in the file (corrupt or hostile)")
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def readline(self) -> bytes:
        line = self._f.readline()
        self._left -= len(line)
        return line


class SafeUnpickler(pickle._Unpickler):  # the pure-Python unpickler: every read goes through _BoundedReader
    def __init__(self, f: Any, size: int) -> None:
        super().__init__(_BoundedReader(f, size))

    def _load_bytearray8(self) -> None:
        """As pickle's, but read first: its own version allocates ``bytearray(declared size)`` before reading."""
        (n,) = struct.unpack("<Q", self.read(8))
        self.append(bytearray(self.read(n)))

    dispatch = {**pickle._Unpickler.dispatch, pickle.BYTEARRAY8[0]: _load_bytearray8}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(f"refused to load {module}.{name}: a skeleton pickle may hold only numpy arrays "
                                f"and plain containers")


def safe_load_pickle(path: str | Path) -> Any:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f, path.stat().st_size).load()
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{path}: {e}; refusing the whole file (it may try to run code)") from None
    except OversizedPickleError as e:
        raise OversizedPickleError(f"{path}: refused: {e}") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, TypeError, KeyError,
            IndexError, struct.error, RecursionError) as e:
        raise DatasetError(f"{path}: not a readable skeleton pickle ({type(e).__name__}: {e})") from None


def _protocol_splits(split: dict[str, list[str]], protocol: str | None) -> tuple[str, str, str]:
    """(protocol name, train split name, test split name)."""
    if protocol is None:
        if "xsub_train" in split:
            protocol = "xsub"
        elif "train" in split:
            protocol = ""
        else:
            heads = sorted(k[: -len("_train")] for k in split if k.endswith("_train"))
            if not heads:
                raise DatasetError(f"no '*_train' split among {sorted(split)}; pass --protocol")
            protocol = heads[0]
    pre = f"{protocol}_" if protocol else ""
    test = next((pre + t for t in ("val", "test") if pre + t in split), None)
    if pre + "train" not in split or test is None:
        raise DatasetError(f"protocol {protocol!r} needs splits {pre}train and {pre}val (or {pre}test); the pickle "
                           f"has {sorted(split)}")
    return protocol or "train", pre + "train", test


def _class_names(path: Path, classes: str | Path | None, num: int) -> list[str]:
    candidates = [Path(classes)] if classes else [path.with_name(path.stem + ".classes.txt"),
                                                    path.with_name("classes.txt")]
    for c in candidates:
        if c.is_file():
            names = [ln.strip() for ln in c.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if len(names) < num:
                raise DatasetError(f"{c}: {len(names)} class names but labels go up to {num - 1}")
            return names
        if classes:
            raise DatasetError(f"{c}: class-name file not found")
    if path.name.lower().startswith("ntu") and num <= 120:
        return read_class_names("ntu120_classes.txt")[: 60 if num <= 60 else 120]
    return [f"class_{k}" for k in range(num)]


def pyskl_sample(ann: dict[str, Any], split: str, fps: float) -> Sample:
    kp = np.asarray(ann["keypoint"], np.float32)
    if kp.ndim != 4 or kp.shape[0] == 0:
        raise ValueError(f"keypoint must be [M, T, V, C], got {list(kp.shape)}")
    m, t, v, c = kp.shape
    if (v, c) == (17, 2):
        layout = "coco17"
        score = np.asarray(ann["keypoint_score"], np.float32) if "keypoint_score" in ann else np.ones((m, t, v))
    elif (v, c) == (25, 3):
        layout = "ntu25"
        score = (np.abs(kp).sum(-1) > 0).astype(np.float32)
    else:
        raise ValueError(f"keypoint [M, T, {v}, {c}] is neither COCO-17 2D nor NTU-25 3D")
    full = np.concatenate([kp, np.clip(score, 0, 1)[..., None].astype(np.float32)], axis=-1)
    meta = {k: np.asarray(ann[k]).tolist() for k in ("img_shape", "original_shape", "total_frames") if k in ann}
    return Sample(data=full[0], layout=layout, label=int(ann["label"]), id=str(ann["frame_dir"]), fps=fps,
                  split=split, others=full[1:] if m > 1 else None, meta=meta)


def load_pyskl(root: str | Path, *, protocol: str | None = None, progress: bool = False,
               classes: str | Path | None = None, fps: float = 30.0) -> tuple[DatasetInfo, list[Sample]]:
    """``root`` is the ``.pkl`` file itself."""
    path = Path(root)
    if not path.is_file():
        raise DatasetError(f"{path}: no such pickle file; pass --root pointing at a PYSKL .pkl file")
    d = safe_load_pickle(path)
    if not isinstance(d, dict) or not isinstance(d.get("annotations"), list) or not isinstance(d.get("split"), dict):
        raise DatasetError(f"{path}: not a PYSKL skeleton pickle (needs 'split' and 'annotations')")
    name, train_key, test_key = _protocol_splits(d["split"], protocol)
    which = {str(x): "train" for x in d["split"][train_key]} | {str(x): "test" for x in d["split"][test_key]}
    from tqdm import tqdm

    samples = []
    for i, ann in enumerate(tqdm(d["annotations"], desc="pyskl", unit="clip", disable=not progress)):
        try:
            split = which.get(str(ann["frame_dir"]))
            if split is not None:
                samples.append(pyskl_sample(ann, split, fps))
        except (KeyError, ValueError, TypeError) as e:
            raise DatasetError(f"{path}: annotation {i} is malformed ({type(e).__name__}: {e})") from None
    if not samples:
        raise DatasetError(f"{path}: no annotation belongs to {train_key} / {test_key}")
    layouts = {s.layout for s in samples}
    if len(layouts) > 1:
        raise DatasetError(f"{path}: annotations mix layouts {sorted(layouts)}")
    num = max(s.label for s in samples) + 1
    return DatasetInfo(name="pyskl", layout=layouts.pop(), classes=_class_names(path, classes, num), fps=fps,
                       protocol=name, root=str(path),
                       meta={"left_out": len(d["annotations"]) - len(samples)}), samples
