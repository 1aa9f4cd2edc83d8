"""The one training loop, prediction, evaluation, seeds, devices and checkpoints."""
from __future__ import annotations

import random
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import distributed
from .augment import normalize, weak_augment
from .io import atomic_write
from .metrics import accuracy
from .models import make_model


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or belongs to another model; the message says what to do."""


def get_device() -> torch.device:
    """CUDA when there is a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and GPU) so that a run can be repeated exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def fast_precision(device: torch.device | None = None) -> str:
    """``"bf16"`` where the hardware computes in bfloat16 natively (a recent GPU, or a CPU with
    AVX512-BF16 or AMX), else ``"fp32"``: emulated bfloat16 would be slower than float32."""
    device = device or get_device()
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    try:
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # an older torch without these probes
        native = False
    return "bf16" if native else "fp32"


def _check_precision(precision: str) -> None:
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', not {precision!r}")


def autocast(precision: str, device: torch.device):
    """The context a training step runs in: bfloat16 autocast for ``"bf16"``, nothing for ``"fp32"``."""
    _check_precision(precision)
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def prepare(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (or 0..255 float) images -> normalised float, on ``device``, channels-last."""
    return normalize(x.to(device, non_blocking=True)).contiguous(memory_format=torch.channels_last)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a probability vector per sample (no reduction)."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)


def one_cycle(step: int, total_steps: int, warmup: float = 0.25) -> float:
    """Learning-rate factor: a linear rise over the first ``warmup`` of training, then a linear fall to 0."""
    rise = max(1, round(warmup * total_steps))
    if step < rise:
        return (step + 1) / rise
    return max(0.0, (total_steps - step) / max(1, total_steps - rise))


class TrainStep:
    """What one optimizer step computes. ``fit`` calls ``step(model, xb, yb)`` for each batch
    and expects ``(loss, n_correct)``; a method that needs more than the batch (an unlabelled
    sampler, soft targets, an EMA) keeps it on its own step object.

    Two moments around the step, no-ops here: ``after_update(model)`` runs after each
    optimizer step (e.g. an EMA of the weights), ``end_epoch(model, epoch)`` after each epoch
    but the last (e.g. re-made soft targets).
    """

    def __call__(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, int]:
        raise NotImplementedError

    def after_update(self, model: nn.Module) -> None:
        pass

    def end_epoch(self, model: nn.Module, epoch: int) -> None:
        pass


class SupervisedStep(TrainStep):
    """The step of notebook 01: augment the batch, forward, cross-entropy against its labels."""

    def __init__(self, augment: Callable[[torch.Tensor], torch.Tensor] | None = weak_augment):
        self.augment = augment

    def __call__(self, model, xb, yb):
        xb = xb if self.augment is None else self.augment(xb)
        logits = model(prepare(xb, yb.device)).float()
        return F.cross_entropy(logits, yb), int((logits.argmax(1) == yb).sum())


# tqdm.auto picked its notebook class: this process is a Jupyter kernel with ipywidgets.
IN_NOTEBOOK = any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__)


class StoredBar(tqdm):
    """tqdm's notebook bar, shown with a display id. A widget's plain-text fallback (what GitHub
    and nbviewer show) is captured when the bar appears, at 0 %; when the bar closes, the display
    is updated with the same widget and the finished bar's text, which nbclient stores."""

    def __init__(self, *args, **kwargs):
        from IPython.display import display
        super().__init__(*args, display=False, **kwargs)  # tqdm's own display has no id
        self.handle = None if self.disable else display(self.container, display_id=True)

    def close(self):
        super().close()
        handle, self.handle = getattr(self, "handle", None), None
        if handle is not None:
            handle.update({**self.container._repr_mimebundle_(), "text/plain": str(self)}, raw=True)


def progress_bar(iterable, *, desc: str, unit: str, disable: bool = False):
    """One bar for one training run. A terminal's bar is erased when done, so that the log lines
    around it read cleanly; a notebook's stays, finished, in the stored notebook too."""
    if IN_NOTEBOOK and not disable:
        return StoredBar(iterable, desc=desc, unit=unit)
    return tqdm(iterable, desc=desc, unit=unit, disable=disable, leave=False)


# A run's settings, one keyword each, so that a spec can pass them through as they are.
def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int = 40,
        batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4,
        step: TrainStep | None = None, batches: Callable[[], list[torch.Tensor]] | None = None,
        val: tuple[torch.Tensor, torch.Tensor] | None = None, precision: str = "fp32",
        seed: int | None = None, progress: bool = True, desc: str = "training") -> dict[str, list[float]]:
    """Train ``model`` on uint8 images ``x`` with labels ``y``; return its per-epoch history.

    Each epoch: batches (a random permutation cut into ``batch_size`` pieces, or ``batches()``)
    -> ``step`` (default ``SupervisedStep``: augment, forward, loss) -> backward -> SGD with
    Nesterov momentum under a one-cycle learning rate. ``precision="bf16"`` runs the step in
    bfloat16 autocast; the weights and the optimizer stay in float32. Under torchrun each process
    takes its part of every batch and the gradients are averaged (``helpers.distributed``).
    """
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as images, and at least one (got {len(x)} images, {len(y)} labels)")
    _check_precision(precision)
    if seed is not None:
        set_seed(seed + distributed.rank())  # rank 0 (the only one without torchrun) keeps the seed
    device, step = get_device(), step or SupervisedStep()
    model.to(device).to(memory_format=torch.channels_last)
    trained = distributed.wrap(model)  # the model itself, or DistributedDataParallel around it
    x, y = x.to(device), y.to(device)
    next_batches = distributed.split_batches(
        batches or (lambda: list(torch.randperm(len(x), device=device).split(batch_size))))
    plan = next_batches()
    total_steps = epochs * len(plan)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: one_cycle(s, total_steps))
    history: dict[str, list[float]] = {"epoch": [], "steps": [], "train_loss": [], "train_acc": [], "seconds": []}
    start = time.perf_counter()
    bar = progress_bar(range(1, epochs + 1), desc=desc, unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        plan = plan if epoch == 1 else next_batches()
        loss_sum = correct = seen = 0
        for batch in plan:
            batch = batch.to(device)
            with autocast(precision, device):
                loss, n_correct = step(trained, x[batch], y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step.after_update(model)
            loss_sum, correct, seen = loss_sum + loss.item() * len(batch), correct + n_correct, seen + len(batch)
        loss_sum, correct, seen = distributed.sum_over_ranks(loss_sum, correct, seen)
        history["epoch"].append(epoch)
        history["steps"].append(epoch * len(plan))
        history["train_loss"].append(loss_sum / seen)
        history["train_acc"].append(correct / seen)
        history["seconds"].append(time.perf_counter() - start)
        if val is not None:
            for name, value in zip(("val_loss", "val_acc"), _loss_and_accuracy(model, *val)):
                history.setdefault(name, []).append(value)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", acc=f"{history['train_acc'][-1]:.3f}")
        if epoch < epochs:
            step.end_epoch(model, epoch)
    model.eval()
    return history


# Images of 32 px a side per forward pass; fewer of larger images (same pixels). A few hundred keep
# the activations in cache: 1.5-1.8x the images a second of batches of 1,000 (benchmarks/predict_batch.py).
PREDICT_BATCH = 256


def predict_batch_size(x: torch.Tensor) -> int:
    """Images per forward pass: ``PREDICT_BATCH`` up to 32 px, then as many as hold the same number
    of pixels, so that a batch's activations (not the pool) set the memory at any image size."""
    pixels = x.shape[-2] * x.shape[-1] if x.ndim == 4 else 32 * 32
    return max(1, min(PREDICT_BATCH, PREDICT_BATCH * 32 * 32 // max(1, pixels)))


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int | None = None, tta: bool = True) -> torch.Tensor:
    """Logits for uint8 images, batched, in eval mode, without gradients; returned on the CPU.

    Memory is bounded by one batch, never by the pool: each batch is converted to float (and
    mirrored) on its own; a float copy of a 50,000-image pool at 64 px would take 2.5 GB.
    ``batch_size`` defaults to ``predict_batch_size(x)``. With ``tta`` (test-time augmentation)
    each image's logits are averaged with those of its mirror image: a free two-view ensemble.
    Under torchrun each process predicts its slice and all get every row, in order.
    """
    device, batch_size = get_device(), batch_size or predict_batch_size(x)
    was_training = model.training
    model.to(device).eval()
    distributed.sync_buffers(model)
    start, stop = distributed.shard(len(x))
    out = []
    for i in range(start, stop, batch_size):
        xb = prepare(x[i:min(i + batch_size, stop)], device)
        logits = model(xb)
        if tta:
            logits = (logits + model(xb.flip(3))) / 2
        out.append(logits.float().cpu())
    model.train(was_training)
    return distributed.gather(torch.cat(out) if out else torch.empty(0, 0))


def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int | None = None, tta: bool = True) -> torch.Tensor:
    """Softmax probabilities, N x C, for uint8 images (see ``predict_logits``)."""
    return predict_logits(model, x, batch_size, tta).softmax(dim=1)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tta: bool = True) -> float:
    """Accuracy of ``model`` on images ``x`` with true labels ``y``, a number in [0, 1]."""
    return accuracy(predict_proba(model, x, tta=tta).argmax(1), y)


def _loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = predict_logits(model, x, tta=False)
    model.train()
    y = y.cpu()
    return F.cross_entropy(logits, y).item(), accuracy(logits.argmax(1), y)


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(model: nn.Module, path: str | Path, **meta) -> Path:
    """Save weights, the model's architecture and ``meta`` atomically (no partial file, ever)."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": dict(getattr(model, "arch", {})),
        "meta": meta,
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _read_checkpoint(path: Path) -> dict:
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}. Train a model first (e.g. run "
                              "`python pseudo_labeling.py`) or pass the path of an existing one.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}). "
                              "Delete it and train again.") from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path} was not written by helpers.save_checkpoint; delete it and train again.")
    return payload


def load_checkpoint(path: str | Path, model: nn.Module | None = None) -> tuple[nn.Module, dict]:
    """Load a checkpoint into ``model``, or into a new model of the saved architecture.

    Returns ``(model, meta)``. A checkpoint saved for another architecture raises a
    ``CheckpointError`` that says which one it was saved for.
    """
    path = Path(path)
    payload = _read_checkpoint(path)
    arch = payload.get("arch", {})
    if model is None:
        if not arch:
            raise CheckpointError(f"{path} does not record its architecture; pass the model to load it into.")
        model = make_model(**arch)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError:
        mine = dict(getattr(model, "arch", {}))
        raise CheckpointError(
            f"{path} was saved for a model with {arch or 'another architecture'}, not {mine or 'this model'}. "
            "Load it with load_checkpoint(path) to rebuild the saved architecture, or delete it and train again."
        ) from None
    model.eval()
    return model, payload.get("meta", {})
