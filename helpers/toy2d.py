"""Two-dimensional problems for notebook 12, where a student can watch a decision boundary move:
numpy-made data (two moons, two Gaussians), a tiny MLP, full-batch training, and the course's
self-training rounds at a size that runs in a second.

A problem is a ``Toy``: a few labelled points, an unlabelled pool (its true labels kept only to
grade pseudo-labels, as in the image course) and a large test set from the same distribution.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import metrics
from .methods.entropy import alpha_ramp, entropy_loss, pseudo_label_loss


@dataclass(frozen=True)
class Toy:
    x_labeled: torch.Tensor
    y_labeled: torch.Tensor
    x_unlabeled: torch.Tensor
    y_unlabeled_hidden: torch.Tensor   # grading only, never trained on
    x_test: torch.Tensor
    y_test: torch.Tensor


def two_moons(n: int, noise: float = 0.1, rng: np.random.Generator | None = None,
              weights: tuple[float, float] = (0.5, 0.5)) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on two interleaved half circles with Gaussian noise; class 0 is the upper
    moon. ``weights`` is the share of each class."""
    rng = np.random.default_rng(0) if rng is None else rng
    y = (rng.random(n) < weights[1]).astype(np.int64)
    angle = rng.random(n) * np.pi
    x = np.where(y[:, None] == 0,
                 np.stack([np.cos(angle), np.sin(angle)], 1),
                 np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1))
    return x + rng.normal(0, noise, x.shape), y


def two_gaussians(n: int, distance: float = 1.0, rng: np.random.Generator | None = None,
                  weights: tuple[float, float] = (0.5, 0.5), spread: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from two round Gaussians (standard deviation ``spread``) whose centres are
    ``distance`` standard deviations apart on a horizontal line through the middle of the moons'
    window. With equal weights the best possible accuracy is Phi(distance / 2)."""
    rng = np.random.default_rng(0) if rng is None else rng
    y = (rng.random(n) < weights[1]).astype(np.int64)
    centres = np.stack([0.5 + (y - 0.5) * distance * spread, np.full(n, 0.25)], 1)
    return centres + rng.normal(0, spread, (n, 2)), y


def make_toy(kind: str = "moons", seed: int = 0, n_labeled_per_class: int = 3, n_unlabeled: int = 1000,
             n_test: int = 5000, weights: tuple[float, float] = (0.5, 0.5), **shape) -> Toy:
    """A problem drawn with ``seed``: ``n_labeled_per_class`` labelled points of each class,
    an unlabelled pool and a test set, all from the same distribution (``weights`` included).
    ``shape`` goes to the generator (``noise`` for moons, ``distance`` for Gaussians)."""
    make = {"moons": two_moons, "gaussians": two_gaussians}[kind]
    rng = np.random.default_rng(seed)
    x, y = make(n_unlabeled + 200 * n_labeled_per_class, rng=rng, weights=weights, **shape)
    labeled = np.concatenate([np.flatnonzero(y == c)[:n_labeled_per_class] for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), labeled)[:n_unlabeled]
    x_test, y_test = make(n_test, rng=rng, weights=weights, **shape)
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return Toy(as_x(x[labeled]), torch.tensor(y[labeled]), as_x(x[rest]), torch.tensor(y[rest]),
               as_x(x_test), torch.tensor(y_test))


XLIM, YLIM = (-1.6, 2.6), (-1.2, 1.7)   # the plotting window, which holds both moons


class GaussianBumps(nn.Module):
    """A hidden layer of fixed Gaussian units on a grid over the plotting window: each answers
    only to points within about ``sigma`` of its centre."""

    def __init__(self, sigma: float = 0.15, nx: int = 22, ny: int = 15):
        super().__init__()
        xs, ys = torch.linspace(*XLIM, nx), torch.linspace(*YLIM, ny)
        self.register_buffer("centres", torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2))
        self.sigma = sigma

    @torch.no_grad()  # fixed units: nothing here learns, so no gradient is needed
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(x, self.centres).square_() / (2 * self.sigma ** 2))


def make_model(kind: str = "bumps", seed: int = 0, hidden: int = 32) -> nn.Module:
    """A tiny network with weights drawn with ``seed``.

    ``"bumps"``: one hidden layer of 330 Gaussian units (``GaussianBumps``) and a linear output
    (an RBF network): away from the points it trained on only the output layer's small bias
    is left, so its confidence is high only near them. ``"relu"``: 2 -> ``hidden`` -> ``hidden`` -> 2 with
    ReLUs, whose logits grow with the distance from its boundary, so it is sure of itself far
    from any data.
    """
    torch.manual_seed(seed)
    if kind == "bumps":
        bumps = GaussianBumps()
        return nn.Sequential(bumps, nn.Linear(len(bumps.centres), 2))
    if kind == "relu":
        return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                             nn.Linear(hidden, 2))
    raise ValueError(f"unknown model kind {kind!r}: use 'bumps' or 'relu'")


def make_optimizer(model: nn.Module, lr: float | None = None) -> torch.optim.Optimizer:
    """Full-batch SGD with momentum 0.9 and a little weight decay (1e-3). Plain SGD matters for
    the Gaussian units: a unit far from every point gets almost no gradient and stays near zero,
    where Adam would scale its tiny gradient up to a full step."""
    if lr is None:
        lr = 0.5 if isinstance(model[0], GaussianBumps) else 0.1
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 200,
        x_unlabeled: torch.Tensor | None = None, unlabeled_loss: str | None = None,
        ramp: tuple[float, float, float] = (100, 400, 1.0), optimizer=None) -> nn.Module:
    """Full-batch training (``make_optimizer``) on the cross-entropy of ``(x, y)``.

    With ``unlabeled_loss`` ("pseudo-label": Lee 2013, or "entropy": Grandvalet & Bengio 2005)
    the loss adds ``alpha(t) * loss(x_unlabeled)`` with Lee's ramp ``(t1, t2, alpha_final)``,
    counted in steps. Pass ``optimizer`` to continue a run where it stopped.
    """
    optimizer = optimizer or make_optimizer(model)
    extra = {None: None, "pseudo-label": pseudo_label_loss, "entropy": entropy_loss}[unlabeled_loss]
    net = model
    if isinstance(model[0], GaussianBumps):  # fixed first layer: compute its output once, not every step
        net = model[1:]
        x = model[0](x)
        x_unlabeled = None if x_unlabeled is None else model[0](x_unlabeled)
    model.train()
    for step in range(steps):
        loss = F.cross_entropy(net(x), y)
        if extra is not None:
            alpha = alpha_ramp(step, *ramp)
            if alpha > 0:
                loss = loss + alpha * extra(net(x_unlabeled))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.softmax(model(x), dim=1)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return metrics.accuracy(predict_proba(model, x).argmax(1), y)


def self_train(toy: Toy, seed: int = 0, rounds: int = 5, threshold: float = 0.9, steps: int = 200,
               round_steps: int = 100, kind: str = "bumps", x_labeled: torch.Tensor | None = None,
               y_labeled: torch.Tensor | None = None) -> list[dict]:
    """The course's method on a toy problem: train on the labelled points, then each round predict
    the pool, keep ``max_probs > threshold`` and continue training on labelled + kept points.

    Returns one record per model (index 0 = the baseline): a copy of the model, its test
    accuracy, and the pseudo-labels and mask it was given to train on next (from the model
    before it; none for the baseline). ``x_labeled``/``y_labeled`` replace the toy's own
    labelled points (to plant a wrong label, say).
    """
    x_l = toy.x_labeled if x_labeled is None else x_labeled
    y_l = toy.y_labeled if y_labeled is None else y_labeled
    model = make_model(kind, seed)
    optimizer = make_optimizer(model)
    fit(model, x_l, y_l, steps=steps, optimizer=optimizer)
    records = [{"model": _copy(model), "test_accuracy": accuracy(model, toy.x_test, toy.y_test),
                "pseudo_labels": None, "mask": None}]
    for _ in range(rounds):
        max_probs, pseudo_labels = predict_proba(model, toy.x_unlabeled).max(dim=1)
        mask = max_probs > threshold
        fit(model, torch.cat([x_l, toy.x_unlabeled[mask]]), torch.cat([y_l, pseudo_labels[mask]]),
            steps=round_steps, optimizer=optimizer)
        records.append({"model": _copy(model), "test_accuracy": accuracy(model, toy.x_test, toy.y_test),
                        "pseudo_labels": pseudo_labels, "mask": mask})
    return records


def _copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).eval()


@torch.no_grad()
def grid_probabilities(model: nn.Module, xlim=XLIM, ylim=YLIM, resolution: int = 200):
    """The model's probability of class 1 on a ``resolution`` x ``resolution`` grid: (xs, ys, p)."""
    xs, ys = torch.linspace(*xlim, resolution), torch.linspace(*ylim, resolution)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
    return xs, ys, predict_proba(model, grid)[:, 1].reshape(resolution, resolution)
