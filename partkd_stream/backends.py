"""Run the student on TensorRT, ONNX Runtime or PyTorch behind one ``predict(x) -> logits`` call.

``load_model()`` finds the model card beside the model file, validates it (sha256 of the ONNX, input shape vs
layout/window/channels, classes vs output size) and picks the fastest backend that works here:
TensorRT engine (a ``.plan`` built from this ONNX for this GPU) > ONNX Runtime (CUDA EP, then CPU EP) > PyTorch.
Anything wrong is a ``ModelLoadError`` with a one-line message: what, which file, what to do.

ONNX Runtime on CPU is tuned for batch-1 latency of a small model: full graph optimisation, sequential execution
and ONE intra-op thread by default, so the pose estimator keeps the other core of a 2-core machine (measured:
see ``partkd-stream bench --threads``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np

from .card import CardMismatch, ModelCard, card_from_checkpoint, card_path_for, sha256_file
from .errors import PartkdError
from .models import DEFAULT_MODEL, UnknownModel, engines_dir, resolve_model
from .reject import softmax

BACKENDS = ("tensorrt", "onnxruntime", "pytorch")   # fastest first: the order ``auto`` tries them in
BACKEND_CHOICES = ("auto",) + BACKENDS               # what ``--backend`` takes on every command line
# every backend with ONNX Runtime's two execution providers apart, fastest first: what the bench times, and precise
# names a caller may also force
PROVIDERS = ("tensorrt", "onnxruntime-cuda", "onnxruntime-cpu", "pytorch")
TENSORRT_HINT = "install it with: pip install 'partkd-stream[tensorrt]' (needs an NVIDIA GPU and driver)"
PLAN_INFO_SUFFIX = ".plan.json"


class ModelLoadError(PartkdError, ValueError):
    """A model that cannot be loaded or does not match its card; the message is one line."""


class BackendUnavailable(PartkdError, RuntimeError):
    """A backend that cannot run here (missing package, no GPU); the message says why."""


class Backend(Protocol):
    """What runs a model: a name and ``predict`` (model inputs → logits)."""

    name: str

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, e.g. a container's share, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_threads(threads: Optional[int], name: str = "threads") -> None:
    """A thread count for the model (``name``: how the caller spells it, e.g. ``--threads``): 1 to ``cpu_cores()``.
    More threads than cores only slow a small model down, and a hundred thousand exhaust the machine."""
    n = cpu_cores()
    if threads is not None and not 1 <= threads <= n:
        raise ModelLoadError(f"{name} {threads}: this process can use {n} CPU core{'s' if n > 1 else ''}; give 1 to "
                             f"{n} (more threads than cores only slow the model down)")


# --- ONNX Runtime ------------------------------------------------------------------------------------------------
class OnnxRuntimeBackend:
    """ONNX Runtime session; ``device``: ``auto`` (CUDA EP when available), ``cuda`` or ``cpu``."""

    def __init__(self, onnx_path: str | os.PathLike, device: str = "auto", threads: Optional[int] = None,
                 output_name: str = "logits") -> None:
        check_threads(threads)
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = int(threads or 1)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if device == "cuda" and not has_cuda:
            raise BackendUnavailable("this onnxruntime has no CUDA execution provider (install onnxruntime-gpu)")
        providers = (["CUDAExecutionProvider"] if device != "cpu" and has_cuda else []) + ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(onnx_path), so, providers=providers)
        used = self.session.get_providers()[0]
        if device == "cuda" and used != "CUDAExecutionProvider":
            raise BackendUnavailable("ONNX Runtime could not start its CUDA execution provider (no GPU visible?)")
        self.name = "onnxruntime-cuda" if used == "CUDAExecutionProvider" else "onnxruntime-cpu"
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output_name]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(self.output_names, {self.input_name: x})[0]


# --- PyTorch -----------------------------------------------------------------------------------------------------
class PyTorchBackend:
    """The checkpoint's model in eval mode; slowest, but needs nothing beyond the weights."""

    name = "pytorch"

    def __init__(self, checkpoint_path: str | os.PathLike, threads: Optional[int] = None) -> None:
        check_threads(threads)
        import torch

        from .checkpoint import load_checkpoint

        self._torch = torch
        self.checkpoint = load_checkpoint(checkpoint_path)
        self.model = self.checkpoint.build_model()
        if threads:
            torch.set_num_threads(int(threads))  # process-wide: torch has no per-model thread pool

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(np.ascontiguousarray(x))).numpy()


# --- TensorRT ----------------------------------------------------------------------------------------------------
def tensorrt_unavailable_reason() -> Optional[str]:
    """``None`` when TensorRT can run here, else a one-line reason."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return f"the tensorrt package is not installed; {TENSORRT_HINT}"
    except Exception as e:  # a broken install (e.g. missing libnvinfer) raises other errors
        return f"tensorrt does not import ({type(e).__name__}: {str(e).splitlines()[0][:160]})"
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return "PyTorch is needed for TensorRT's GPU buffers"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible to PyTorch (a CPU-only torch build or no NVIDIA driver)"
    return None


def gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""


class TensorRTBackend:
    """A deserialised TensorRT plan; picks the optimisation profile that covers each batch (splits larger ones).

    GPU buffers are PyTorch CUDA tensors, so no extra CUDA binding package is needed.
    """

    name = "tensorrt"

    def __init__(self, plan_path: str | os.PathLike, input_name: str = "skeleton",
                 output_name: str = "logits") -> None:
        reason = tensorrt_unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        import tensorrt as trt
        import torch

        self._torch = torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(Path(plan_path).read_bytes())
        if self.engine is None:
            raise BackendUnavailable(f"{plan_path}: TensorRT {trt.__version__} cannot load this plan (built for "
                                     f"another GPU or TensorRT version?); rebuild it with python -m train.build_engine")
        self.context = self.engine.create_execution_context()
        self.input_name, self.output_name = input_name, output_name
        self.num_classes = int(self.engine.get_tensor_shape(output_name)[-1])
        self.profiles = [tuple(int(s[0]) for s in self.engine.get_tensor_profile_shape(input_name, i))
                         for i in range(self.engine.num_optimization_profiles)]  # (min, opt, max) batch
        self.max_batch = max(p[2] for p in self.profiles)
        self.stream = torch.cuda.Stream()
        self._profile = 0

    def _select_profile(self, n: int) -> None:
        fits = [i for i, (lo, _, hi) in enumerate(self.profiles) if lo <= n <= hi]
        i = min(fits, key=lambda j: self.profiles[j][2])
        if i != self._profile:
            self.context.set_optimization_profile_async(i, self.stream.cuda_stream)
            self._profile = i

    def predict(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] > self.max_batch:
            return np.concatenate([self.predict(x[i:i + self.max_batch])
                                   for i in range(0, x.shape[0], self.max_batch)])
        torch = self._torch
        n = x.shape[0]
        with torch.cuda.stream(self.stream):
            self._select_profile(n)
            xin = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).cuda(non_blocking=True)
            out = torch.empty((n, self.num_classes), dtype=torch.float32, device="cuda")
            self.context.set_input_shape(self.input_name, tuple(x.shape))
            self.context.set_tensor_address(self.input_name, xin.data_ptr())
            self.context.set_tensor_address(self.output_name, out.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
            res = out.cpu()
        self.stream.synchronize()
        return res.numpy()


# --- loading -----------------------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """A validated model: its card and the backend that runs it."""

    card: ModelCard
    backend: Backend
    path: Path = Path()
    notes: list[str] = field(default_factory=list)  # why faster backends were not used (auto-selection)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 ``[N, C_in, T, V]`` (or one window ``[C_in, T, V]``) → logits ``[N, K]``."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        want = tuple(self.card.input_shape[1:])
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"model {self.card.name!r} takes windows [N, {', '.join(map(str, want))}], "
                             f"got {list(x.shape)}; preprocess with partkd_stream.preprocess.preprocess_window")
        return self.backend.predict(np.ascontiguousarray(x))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax over all the card's classes (closed set; the recognizer uses ``card.open_set.probs``)."""
        return softmax(self.predict(x)).astype(np.float32)


def load_model(model: str | os.PathLike | None = None, backend: str = "auto",
               threads: Optional[int] = None) -> LoadedModel:
    """Load ``model`` — a shipped model's name (``models.resolve_model``: ``penn``, ``everyday``), a ``.onnx``,
    ``.plan`` or ``.pt`` file, or ``None`` for the default — on ``backend``."""
    choices = BACKEND_CHOICES + tuple(p for p in PROVIDERS if p not in BACKENDS)
    if backend not in choices:
        raise ModelLoadError(f"unknown backend {backend!r}; choose one of: {', '.join(choices)}")
    default = model is None and not os.environ.get("PARTKD_MODEL")
    try:
        path = resolve_model(model)
    except UnknownModel as e:
        if default:
            raise ModelLoadError(f"no default model ({DEFAULT_MODEL}) in {engines_dir()}: build one with 'python -m "
                                 f"train.build_engine --checkpoint RUN/student.pt --name penn_student' or pass --model "
                                 f"/ set PARTKD_MODEL") from None
        raise ModelLoadError(str(e)) from None
    if not path.exists():
        if model is None:
            raise ModelLoadError(f"no default model at {path} (from $PARTKD_MODEL): build one with 'python -m "
                                 f"train.build_engine --checkpoint RUN/student.pt' or pass --model / unset "
                                 f"PARTKD_MODEL")
        raise ModelLoadError(f"{path}: model file not found")
    suffix = path.suffix.lower()
    if suffix == ".pt":
        return _load_checkpoint_model(path, backend, threads)
    if suffix not in (".onnx", ".plan"):
        raise ModelLoadError(f"{path}: unknown model file type {suffix!r}; expected .onnx, .plan or .pt")
    card = _load_card(path)
    onnx_path = path.with_suffix(".onnx")
    if onnx_path.exists():
        _check_onnx(onnx_path, card)
    plan_path, pt_path = path.with_suffix(".plan"), path.with_suffix(".pt")
    if suffix == ".plan" and backend not in ("auto", "tensorrt"):
        raise ModelLoadError(f"{path}: a TensorRT plan runs on the tensorrt backend only; pass the .onnx for "
                             f"--backend {backend}")

    notes: list[str] = []
    order = list(BACKENDS) if backend == "auto" else [backend]
    if suffix == ".plan":
        order = ["tensorrt"]
    for name in order:
        forced = backend != "auto"
        try:
            if name == "tensorrt":
                _check_plan(plan_path, card)
                be: Backend = TensorRTBackend(plan_path, card.input_name, card.output_name)
            elif name.startswith("onnxruntime"):
                device = {"onnxruntime-cpu": "cpu", "onnxruntime-cuda": "cuda"}.get(name, "auto")
                if not onnx_path.exists():
                    raise BackendUnavailable(f"no ONNX file {onnx_path.name} beside the plan")
                be = OnnxRuntimeBackend(onnx_path, device=device, threads=threads, output_name=card.output_name)
            else:
                if not pt_path.exists():
                    raise BackendUnavailable(f"the PyTorch backend needs the weights {pt_path.name} beside the "
                                             f"model (build_engine.py writes it); this model has none")
                be = _pytorch_backend(pt_path, threads)
                _check_checkpoint_card(be.checkpoint, card, pt_path)
        except (BackendUnavailable, ImportError) as e:
            if forced:
                raise ModelLoadError(f"{path}: backend {name} is not available: {e}") from None
            notes.append(f"{name}: {e}")
            continue
        return LoadedModel(card=card, backend=be, path=path, notes=notes)
    raise ModelLoadError(f"{path}: no backend can run this model ({'; '.join(notes)})")


def _load_card(path: Path) -> ModelCard:
    card_path = card_path_for(path)
    try:
        card = ModelCard.load(card_path)
    except CardMismatch as e:  # its message names the card file and says what to do
        raise ModelLoadError(str(e)) from None
    if not card.onnx_sha256:  # an empty digest must not switch the integrity check off
        raise ModelLoadError(f"{card_path}: the card has no onnx_sha256, so the model file cannot be verified; "
                             f"rebuild the card with python -m train.build_engine")
    return card


def _check_onnx(onnx_path: Path, card: ModelCard) -> None:
    digest = sha256_file(onnx_path)
    if digest != card.onnx_sha256:
        raise ModelLoadError(f"{onnx_path}: sha256 {digest[:12]}… does not match its card ({card.onnx_sha256[:12]}…);"
                             f" the ONNX was changed after the card was written — rebuild both with "
                             f"python -m train.build_engine")
    import onnx

    try:
        graph = onnx.load(str(onnx_path), load_external_data=False).graph
    except Exception as e:  # protobuf raises its own DecodeError (and others) for bytes that are not ONNX
        raise ModelLoadError(f"{onnx_path}: not a readable ONNX model ({type(e).__name__}); rebuild it with "
                             f"python -m train.build_engine") from None

    def dims(vi: Any) -> list:
        return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]

    ins = {vi.name: dims(vi) for vi in graph.input}
    outs = {vi.name: dims(vi) for vi in graph.output}
    if card.input_name not in ins or card.output_name not in outs:
        raise ModelLoadError(f"{onnx_path}: graph inputs {list(ins)} / outputs {list(outs)} do not include the "
                             f"card's {card.input_name!r} / {card.output_name!r}")
    if ins[card.input_name][1:] != list(card.input_shape[1:]):
        raise ModelLoadError(f"{onnx_path}: input shape {ins[card.input_name]} does not match the card's "
                             f"{card.input_shape} (layout {card.preprocess.layout}, window {card.preprocess.window})")
    if outs[card.output_name][1:] != [len(card.classes)]:
        raise ModelLoadError(f"{onnx_path}: the model outputs {outs[card.output_name][1:]} scores but the card "
                             f"lists {len(card.classes)} classes")


def _check_plan(plan_path: Path, card: ModelCard) -> None:
    """A plan is used only when it was built from this ONNX (sha in ``<name>.plan.json``) for this GPU."""
    if not plan_path.exists():
        raise BackendUnavailable(f"no TensorRT plan {plan_path.name} (build one on this GPU with "
                                 f"python -m train.build_engine)")
    reason = tensorrt_unavailable_reason()
    if reason:
        raise BackendUnavailable(reason)
    info_path = plan_path.with_name(plan_path.stem + PLAN_INFO_SUFFIX)
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        raise BackendUnavailable(f"{info_path.name} is missing or unreadable; rebuild the plan with "
                                 f"python -m train.build_engine") from None
    if info.get("onnx_sha256") != card.onnx_sha256:
        raise BackendUnavailable(f"{plan_path.name} was built from another ONNX file; rebuild it")
    if info.get("gpu") and info.get("gpu") != gpu_name():
        raise BackendUnavailable(f"{plan_path.name} was built for {info.get('gpu')}, this GPU is {gpu_name()}; "
                                 f"rebuild it here")


def _check_checkpoint_card(ckpt: Any, card: ModelCard, pt_path: Path) -> None:
    """The ``.pt`` beside an ONNX must be the same model: same input contract, same classes."""
    if list(ckpt.classes) != list(card.classes) or ckpt.preprocess != card.preprocess:
        raise ModelLoadError(f"{pt_path}: these weights do not belong to the card {card.name!r} (classes or "
                             f"preprocessing differ); rebuild with python -m train.build_engine")


def _pytorch_backend(path: Path, threads: Optional[int]) -> PyTorchBackend:
    """``PyTorchBackend`` with a refused or unfitting checkpoint as a one-line ``ModelLoadError``."""
    from .checkpoint import CheckpointError

    try:
        return PyTorchBackend(path, threads=threads)
    except CheckpointError as e:
        raise ModelLoadError(str(e)) from None
    except RuntimeError as e:  # load_state_dict: weights that do not fit the stored config
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelLoadError(f"{path}: weights do not fit the model config ({first[:160]})") from None


def _load_checkpoint_model(path: Path, backend: str, threads: Optional[int]) -> LoadedModel:
    if backend not in ("auto", "pytorch"):
        raise ModelLoadError(f"{path}: a .pt checkpoint runs on the pytorch backend only; export it with "
                             f"'python -m train.build_engine --checkpoint {path}' for {backend}")
    be = _pytorch_backend(path, threads)
    try:
        card = card_from_checkpoint(be.checkpoint, name=path.stem)
    except CardMismatch as e:   # a reject or presence rule in its meta that does not fit the model
        raise ModelLoadError(f"{path}: {e}") from None
    return LoadedModel(card=card, backend=be, path=path)
