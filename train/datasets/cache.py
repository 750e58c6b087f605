"""The cached training file: every sample of a dataset in one ``.npz``, loaded without pickle.

Arrays of different lengths are stored flat: for each field (``data``, ``others``, every ``aux`` key) one float32
vector of all values, ``<field>.offsets`` ``[N + 1]`` into it and ``<field>.shapes`` ``[N, ndim]`` (``-1`` rows for
a sample without that field). Everything else — the :class:`DatasetInfo` and per-sample ``id``, ``label``,
``split``, ``fps``, ``layout``, ``subject``, ``view``, ``meta`` — is one JSON string. Written atomically and
uncompressed (loading is a few memory copies, no decompression).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from partkd_stream.atomic import atomic_write_bytes

from .sample import DatasetError, DatasetInfo, Sample

FORMAT = "partkd-samples/1"


def _pack(arrays: list[np.ndarray | None]) -> dict[str, np.ndarray]:
    ndim = max((a.ndim for a in arrays if a is not None), default=1)
    shapes = np.full((len(arrays), ndim), -1, np.int64)
    sizes = np.zeros(len(arrays) + 1, np.int64)
    for i, a in enumerate(arrays):
        if a is not None:
            if a.ndim != ndim:
                raise ValueError(f"arrays of one field must have the same rank, got {a.ndim} and {ndim}")
            shapes[i] = a.shape
            sizes[i + 1] = a.size
    present = [np.asarray(a, np.float32).ravel() for a in arrays if a is not None]
    values = np.concatenate(present) if present else np.zeros(0, np.float32)
    return {"values": values, "offsets": np.cumsum(sizes), "shapes": shapes}


def _unpack(values: np.ndarray, offsets: np.ndarray, shapes: np.ndarray) -> list[np.ndarray | None]:
    return [None if shp[0] < 0 else values[offsets[i]:offsets[i + 1]].reshape(shp) for i, shp in enumerate(shapes)]


def save_samples(path: str | Path, info: DatasetInfo, samples: list[Sample]) -> None:
    """Write ``samples`` (and ``info``) to ``path`` atomically: readers never see a half-written file."""
    fields: dict[str, list[np.ndarray | None]] = {"data": [s.data for s in samples],
                                                   "others": [s.others for s in samples]}
    for key in sorted({k for s in samples for k in s.aux}):
        fields[f"aux.{key}"] = [s.aux.get(key) for s in samples]
    arrays: dict[str, np.ndarray] = {}
    for name, items in fields.items():
        for part, arr in _pack(items).items():
            arrays[f"{name}.{part}"] = arr
    header = {"format": FORMAT, "info": asdict(info), "fields": list(fields),
              "samples": [{"id": s.id, "label": int(s.label), "split": s.split, "fps": float(s.fps),
                           "layout": s.layout, "subject": s.subject, "view": s.view, "meta": s.meta}
                          for s in samples]}
    arrays["header"] = np.array(json.dumps(header))
    atomic_write_bytes(path, lambda f: np.savez(f, **arrays))


def load_samples(path: str | Path) -> tuple[DatasetInfo, list[Sample]]:
    """Read a file written by :func:`save_samples` (``allow_pickle=False``: loading runs no code)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            if header.get("format") != FORMAT:
                raise ValueError(f"format {header.get('format')!r}, expected {FORMAT!r}")
            cols = {name: _unpack(z[f"{name}.values"], z[f"{name}.offsets"], z[f"{name}.shapes"])
                    for name in header["fields"]}
    except (OSError, KeyError, ValueError) as e:
        raise DatasetError(f"{path}: not a cached sample file ({e}); build one with python -m train.prepare") from None
    info = DatasetInfo(**header["info"])
    aux_keys = [n for n in cols if n.startswith("aux.")]
    samples = []
    for i, h in enumerate(header["samples"]):
        aux = {k[4:]: cols[k][i] for k in aux_keys if cols[k][i] is not None}
        samples.append(Sample(data=cols["data"][i], others=cols["others"][i], aux=aux, **h))
    return info, samples
