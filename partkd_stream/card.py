"""The model card: what a deployed model expects and where it came from (``engines/<name>.card.json``).

Written by ``train/build_engine.py`` beside the ONNX file, read by the runtime. It exists so the runtime can
*refuse* a model it would feed wrongly — a 3D model given 2D keypoints, a layout it cannot convert to, an ONNX
file swapped after the card was written — instead of printing confident nonsense.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from . import json_input
from .atomic import atomic_write_bytes
from .convert import conversion_matrix
from .errors import PartkdError
from .layouts import get_layout
from .preprocess import PreprocessConfig, PreprocessVersionError
from .reject import OpenSet, Reject
from .window import PresenceRule

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpoint

CARD_SUFFIX = ".card.json"
CARD_FORMAT = "partkd-stream-card/1"
class CardMismatch(PartkdError, ValueError):
    """A card that does not fit its model file or the skeleton source; the message is one line."""


class CardVersionMismatch(CardMismatch):
    """A card of a model made for another preprocessing version (rebuilding the card cannot help)."""


def card_path_for(model_path: str | os.PathLike) -> Path:
    """``engines/x.onnx`` (or ``x.plan``, ``x.pt``) → ``engines/x.card.json``."""
    p = Path(model_path)
    return p.with_name(p.stem + CARD_SUFFIX)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelCard:
    """``preprocess`` is the model-input contract; the tensor shapes follow from it and from ``classes``
    (written into the JSON for readers such as Triton, recomputed — never trusted — on load).

    Optional, absent from older cards (which load unchanged): ``reject`` — how the model says "none of these"
    (``reject.Reject``; ``None``: closed set, unless the last class is ``background``); ``presence`` — which
    joints a frame must show for the model to judge it (``window.PresenceRule``; ``None``: the full-body rule)."""

    name: str
    version: str
    classes: list[str]
    preprocess: PreprocessConfig
    input_name: str = "skeleton"
    output_name: str = "logits"
    onnx_sha256: str = ""
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    created: str = ""
    reject: Optional[Reject] = None
    presence: Optional[PresenceRule] = None

    @property
    def presence_rule(self) -> PresenceRule:
        """The rule the runtime applies: the card's, else the full-body default."""
        return self.presence if self.presence is not None else PresenceRule()

    @property
    def open_set(self) -> OpenSet:
        """The model's actions and how its logits become action + unknown probabilities."""
        return OpenSet(self.classes, self.reject)

    @property
    def num_joints(self) -> int:
        return get_layout(self.preprocess.layout).num_joints

    @property
    def input_shape(self) -> list:
        """``["batch", C_in, T, V]``."""
        p = self.preprocess
        return ["batch", p.in_channels, p.window, self.num_joints]

    @property
    def output_shape(self) -> list:
        """``["batch", K]``."""
        return ["batch", len(self.classes)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; an optional field that is ``None`` is left out, so the card reads as an old one."""
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        for k in ("reject", "presence"):
            v = getattr(self, k)
            if v is None:
                del d[k]
            else:
                d[k] = v.to_dict()
        return {"format": CARD_FORMAT, **d, "input_shape": self.input_shape, "output_shape": self.output_shape}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        d = dict(d)
        fmt = d.pop("format", CARD_FORMAT)
        if fmt != CARD_FORMAT:
            raise CardMismatch(f"card format {fmt!r} is not {CARD_FORMAT!r}")
        for derived in ("input_shape", "output_shape"):
            d.pop(derived, None)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise CardMismatch(f"unknown card fields {unknown}")
        missing = [k for k in ("name", "version", "classes", "preprocess") if k not in d]
        if missing:
            raise CardMismatch(f"card lacks {', '.join(missing)}")
        try:
            d["preprocess"] = PreprocessConfig.from_dict(d["preprocess"])
            card = cls(**d)
        except PreprocessVersionError as e:
            raise CardVersionMismatch(str(e)) from None
        except (KeyError, TypeError, ValueError) as e:
            raise CardMismatch(f"invalid card: {e}") from None
        card.reject = _optional_field(Reject, card.reject)
        card.presence = _optional_field(PresenceRule, card.presence)
        bad = [k for k, typ in (("name", str), ("version", str), ("input_name", str), ("output_name", str),
                                ("onnx_sha256", str), ("training", dict), ("metrics", dict), ("created", str))
               if not isinstance(getattr(card, k), typ)]
        if bad:
            raise CardMismatch(f"invalid card: {', '.join(bad)} of the wrong type")
        if (not isinstance(card.classes, list) or not card.classes
                or not all(isinstance(c, str) and c for c in card.classes)):
            raise CardMismatch("invalid card: classes must be a non-empty list of names")
        card.check_optional_fields()
        return card

    def check_optional_fields(self) -> None:
        """``CardMismatch`` unless the reject fits the classes and the presence rule names known joints."""
        try:
            if self.reject is not None:
                self.reject.check_classes(self.classes)
            if self.presence is not None:
                self.presence.check_names()
        except ValueError as e:
            raise CardMismatch(f"invalid card: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        try:
            d = json_input.loads(text)
        except ValueError as e:
            raise CardMismatch(f"card is not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise CardMismatch("card is not a JSON object")
        return cls.from_dict(d)

    def save(self, path: str | os.PathLike) -> None:
        data = self.to_json().encode()
        atomic_write_bytes(path, lambda f: f.write(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelCard":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CardMismatch(f"{path}: model card not found; a model needs its card beside it "
                               f"(python -m train.build_engine writes both)") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CardMismatch(f"{path}: model card cannot be read ({type(e).__name__})") from None
        try:
            return cls.from_json(text)
        except CardVersionMismatch as e:
            raise CardVersionMismatch(f"{path}: {e}") from None
        except CardMismatch as e:
            raise CardMismatch(f"{path}: {e}; rebuild the card with python -m train.build_engine") from None

    def check_source(self, source_layout: str, source_dims: int) -> None:
        """Raise ``CardMismatch`` if skeletons of this layout and dimensionality cannot feed the model."""
        want = self.preprocess
        if source_dims != want.dims:
            raise CardMismatch(f"model {self.name!r} expects {want.dims}D skeletons but the source gives "
                               f"{source_dims}D; use a {want.dims}D source or a model trained on {source_dims}D")
        try:
            conversion_matrix(source_layout, want.layout)
        except (KeyError, ValueError) as e:
            msg = str(e).splitlines()[0] if str(e) else repr(e)
            raise CardMismatch(f"model {self.name!r} expects {want.layout} skeletons and {source_layout} cannot "
                               f"be converted to it ({msg})") from None


def _optional_field(kind: type, v: Any) -> Any:
    """The card's ``reject`` / ``presence`` JSON (or ``None``) → ``Reject`` / ``PresenceRule`` (``kind``);
    ``CardMismatch`` for a bad one (both raise ``ValueError`` subclasses or ``TypeError``)."""
    if v is None or isinstance(v, kind):
        return v
    try:
        return kind.from_dict(v)
    except (TypeError, ValueError) as e:
        raise CardMismatch(f"invalid card: {e}") from None


def card_from_checkpoint(ckpt: "Checkpoint", name: str, onnx_sha256: str = "", version: str = "1",
                         training: dict | None = None, metrics: dict | None = None,
                         reject: Optional[Reject | dict] = None,
                         presence: Optional[PresenceRule | dict] = None) -> ModelCard:
    """The card of a checkpoint's deployed model; ``meta['metrics']``, ``meta['reject']`` and ``meta['presence']``
    (unless ``reject`` / ``presence`` are given) and the rest of ``meta`` fill the card. ``CardMismatch`` when the
    reject or presence rule does not fit the model."""
    meta = dict(ckpt.meta)
    meta_metrics = meta.pop("metrics", {})
    meta_reject, meta_presence = meta.pop("reject", None), meta.pop("presence", None)
    meta.pop("parity_windows", None)
    train_info = {"model_config": ckpt.model_config.to_dict(), **_jsonable(meta), **(training or {})}
    card = ModelCard(name=name, version=str(version), classes=list(ckpt.classes), preprocess=ckpt.preprocess,
                     onnx_sha256=onnx_sha256, training=train_info,
                     metrics={**_jsonable(meta_metrics if isinstance(meta_metrics, dict) else {}), **(metrics or {})},
                     created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     reject=_optional_field(Reject, reject if reject is not None else meta_reject),
                     presence=_optional_field(PresenceRule, presence if presence is not None else meta_presence))
    card.check_optional_fields()
    return card


def _jsonable(d: dict) -> dict:
    """Keep only what JSON can hold (checkpoint meta is meant to be JSON-able; be safe anyway)."""
    return json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def export_deployable(ckpt: "Checkpoint", out_dir: str | os.PathLike, name: str, version: str = "1",
                      opset: int = 17, save_weights: bool = True, training: dict | None = None,
                      reject: Optional[Reject] = None, presence: Optional[PresenceRule] = None) -> ModelCard:
    """Write ``<name>.onnx`` (checked, shape-inferred), ``<name>.card.json`` and, if asked, ``<name>.pt``.

    The ``.pt`` holds only what the PyTorch backend needs (no optimiser state) and the card's reject and presence
    rule in its meta, so it describes the same model on its own. Used by ``train/build_engine.py`` and by
    ``partkd-stream bench --checkpoint``, so both deploy a checkpoint the same way. A reject or presence rule that
    does not fit the model is a ``CardMismatch`` before anything is written.
    """
    import tempfile

    import onnx

    from .checkpoint import save_checkpoint
    from .model import export_onnx

    card = card_from_checkpoint(ckpt, name=name, version=version, training={"opset": opset, **(training or {})},
                                reject=reject, presence=presence)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    model = ckpt.build_model()
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        raw = Path(tmp) / "raw.onnx"
        export_onnx(model, str(raw), opset=opset)
        graph = onnx.load(str(raw))
        onnx.checker.check_model(graph, full_check=True)
        graph = onnx.shape_inference.infer_shapes(graph, check_type=True, strict_mode=True)
        data = graph.SerializeToString()
    atomic_write_bytes(onnx_path, lambda f: f.write(data))
    card.onnx_sha256 = hashlib.sha256(data).hexdigest()
    if save_weights:
        meta = {k: v for k, v in ckpt.meta.items() if k not in ("parity_windows", "reject", "presence")}
        meta.update({k: getattr(card, k).to_dict() for k in ("reject", "presence") if getattr(card, k) is not None})
        save_checkpoint(out_dir / f"{name}.pt", model, ckpt.classes, meta=meta)
    card.save(card_path_for(onnx_path))
    return card
