"""Notebook 13: co-training with two views of each image (Blum & Mitchell 1998).

The first view is the pixels, read by the course's CNN. The second is a short hand-made
description of the same image: which colours it holds (a joint RGB histogram) and which way
its edges run (a histogram of gradient orientations per cell, in the spirit of HOG, Dalal &
Triggs 2005), read by a linear classifier. Each round, each view pseudo-labels the unlabelled
pool and its most confident picks, per class, become training labels for the *other* view.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..train import fit, predict_proba
from .domain import GRAY_WEIGHTS

VIEWS = ("pixels", "features")


def colour_histogram(x: torch.Tensor, bins: int = 4) -> torch.Tensor:
    """uint8 images N x 3 x H x W -> N x bins**3: the share of each image's pixels in each cell
    of a bins x bins x bins grid over (red, green, blue). Each row sums to 1."""
    levels = (x.long() * bins) // 256  # 0 .. bins - 1 per channel
    cell = (levels[:, 0] * bins + levels[:, 1]) * bins + levels[:, 2]
    counts = torch.zeros(len(x), bins ** 3).scatter_add_(1, cell.flatten(1), torch.ones(cell.flatten(1).shape))
    return counts / cell[0].numel()


def edge_histogram(x: torch.Tensor, cells: int = 4, orientations: int = 9) -> torch.Tensor:
    """uint8 images N x 3 x H x W -> N x (cells * cells * orientations): in each of cells x cells
    blocks, the gradient magnitude summed per orientation bin (unsigned, 0 to 180 degrees),
    from central differences of the gray image; each row scaled to unit length."""
    side = x.shape[-1]
    if side % cells:
        raise ValueError(f"the image size {side} must be a multiple of cells={cells}")
    gray = (x.float() * torch.tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)).sum(1)
    padded = F.pad(gray.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    magnitude = torch.hypot(gx, gy)
    angle = torch.atan2(gy, gx) % math.pi  # unsigned: an edge and its reverse are one orientation
    orientation = (angle / math.pi * orientations).long().clamp(max=orientations - 1)
    rows = torch.arange(side) // (side // cells)
    block = rows.view(-1, 1) * cells + rows.view(1, -1)  # which block each pixel is in
    index = (block * orientations + orientation).flatten(1)
    sums = torch.zeros(len(x), cells * cells * orientations).scatter_add_(1, index, magnitude.flatten(1))
    return F.normalize(sums, dim=1)


def view_features(x: torch.Tensor) -> torch.Tensor:
    """The second view: colour histogram (64 numbers) and edge histogram (144 numbers)."""
    return torch.cat([colour_histogram(x), edge_histogram(x)], dim=1)


class FeatureClassifier(nn.Module):
    """Logistic regression on standardised features: the second view's classifier."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, num_classes: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(len(mean), num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear((features - self.mean) / self.std)


def fit_feature_classifier(features: torch.Tensor, y: torch.Tensor, num_classes: int = 2,
                           weight_decay: float = 1e-3, steps: int = 100) -> FeatureClassifier:
    """Full-batch L-BFGS on cross-entropy plus ``weight_decay`` times the squared weights.
    Deterministic: the weights start at zero, and there is no random batch order."""
    std = features.std(0).clamp_min(1e-6)
    model = FeatureClassifier(features.mean(0), std, num_classes)
    nn.init.zeros_(model.linear.weight)
    nn.init.zeros_(model.linear.bias)
    optimizer = torch.optim.LBFGS(model.linear.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(features), y) + weight_decay * model.linear.weight.pow(2).sum()
        loss.backward()
        return loss
    optimizer.step(closure)
    return model.eval()


@torch.no_grad()
def feature_proba(model: FeatureClassifier, features: torch.Tensor) -> torch.Tensor:
    return model(features).softmax(1)


def top_per_class(probs: torch.Tensor, k: int, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean mask of the ``k`` most confident images predicted as each class (fewer where a
    class has fewer), leaving out images where ``exclude`` is True. Ties go to the lower index."""
    if k < 0:
        raise ValueError(f"k must be 0 or more, not {k}")
    max_probs, labels = probs.max(1)
    mask = torch.zeros(len(probs), dtype=torch.bool)
    available = torch.ones(len(probs), dtype=torch.bool) if exclude is None else ~exclude
    for c in range(probs.shape[1]):  # one pass per class, not per image
        members = (available & (labels == c)).nonzero().squeeze(1)
        order = torch.sort(-max_probs[members], stable=True).indices[:k]
        mask[members[order]] = True
    return mask


# One keyword per setting of the run, as self_train takes them.
def co_train(x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor, cnn: nn.Module, *,
             rounds: int = 2, per_class: int = 500, round_steps: int = 80, teacher: str = "other",
             lr: float = 0.1, precision: str = "fp32", seed: int = 0,
             grade: Callable[[str, torch.Tensor, torch.Tensor], dict] | None = None) -> tuple[nn.Module, FeatureClassifier, list[dict]]:
    """``rounds`` of: each view pseudo-labels the pool and picks its ``per_class`` most confident
    images per class that it has not picked before; the picks go to the *other* view
    (``teacher="other"``, co-training) or back to the view itself (``"self"``, the control).
    The CNN then continues training ``round_steps`` steps on labelled + its picked images; the
    feature classifier is refitted on labelled + its picked images (seconds). ``grade(view,
    mask, labels)`` may add numbers to a round's record (it sees the hidden labels; training
    never does). Returns the CNN, the feature classifier and one record per round."""
    if teacher not in ("other", "self"):
        raise ValueError(f"teacher must be 'other' or 'self', not {teacher!r}")
    cnn = copy.deepcopy(cnn)
    num_classes = int(y_labeled.max()) + 1
    features_labeled, features_pool = view_features(x_labeled), view_features(x_unlabeled)
    linear = fit_feature_classifier(features_labeled, y_labeled, num_classes)
    picked = {v: torch.zeros(len(x_unlabeled), dtype=torch.bool) for v in VIEWS}   # by each view
    labels = {v: torch.zeros(len(x_unlabeled), dtype=torch.long) for v in VIEWS}   # its label for them
    records = []
    for r in range(1, rounds + 1):
        probs = {"pixels": predict_proba(cnn, x_unlabeled), "features": feature_proba(linear, features_pool)}
        record = {"round": r}
        for view in VIEWS:
            new = top_per_class(probs[view], per_class, exclude=picked[view])
            picked[view] |= new
            labels[view][new] = probs[view].argmax(1)[new]
            record[view] = {"picked": int(picked[view].sum()), **(grade(view, picked[view], labels[view]) if grade else {})}
        source = {"pixels": "features", "features": "pixels"} if teacher == "other" else {v: v for v in VIEWS}
        mask, given = picked[source["pixels"]], labels[source["pixels"]]
        x_train, y_train = torch.cat([x_labeled, x_unlabeled[mask]]), torch.cat([y_labeled, given[mask]])
        epochs = max(1, round(round_steps / math.ceil(len(x_train) / 128)))
        history = fit(cnn, x_train, y_train, epochs=epochs, lr=lr, precision=precision, seed=seed + r,
                      desc=f"co-training round {r}")
        mask, given = picked[source["features"]], labels[source["features"]]
        linear = fit_feature_classifier(torch.cat([features_labeled, features_pool[mask]]),
                                        torch.cat([y_labeled, given[mask]]), num_classes)
        record["steps"] = history["steps"][-1]
        records.append(record)
    return cnn, linear, records
