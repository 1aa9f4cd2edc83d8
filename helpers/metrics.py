"""Numbers the course reports: accuracy, confusion matrices, calibration error, class counts."""
from __future__ import annotations

import torch


def accuracy(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Fraction of predictions equal to the truth (nan for an empty set)."""
    if len(pred) == 0:
        return float("nan")
    return (pred.cpu() == truth.cpu()).float().mean().item()


def confusion_matrix(truth: torch.Tensor, pred: torch.Tensor, num_classes: int = 2) -> torch.Tensor:
    """C x C counts: row = true class, column = predicted class."""
    index = truth.cpu().long() * num_classes + pred.cpu().long()
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def class_counts(labels: torch.Tensor, num_classes: int = 2) -> list[int]:
    return torch.bincount(labels.cpu().long(), minlength=num_classes).tolist()


def calibration_bins(max_probs: torch.Tensor, correct: torch.Tensor, n_bins: int = 10,
                     low: float = 0.0) -> dict[str, torch.Tensor]:
    """Group predictions into equal-width confidence bins over [low, 1]: count, mean confidence
    and accuracy per bin (nan where a bin is empty)."""
    edges = torch.linspace(low, 1, n_bins + 1)
    which = torch.bucketize(max_probs.cpu().clamp(low, 1), edges[1:-1], right=True)
    count = torch.bincount(which, minlength=n_bins).float()
    conf = torch.bincount(which, weights=max_probs.cpu().float(), minlength=n_bins) / count
    acc = torch.bincount(which, weights=correct.cpu().float(), minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": conf, "accuracy": acc}


def expected_calibration_error(max_probs: torch.Tensor, correct: torch.Tensor, n_bins: int = 10) -> float:
    """ECE (Guo et al. 2017, arXiv 1706.04599): sum over bins of (bin size / n) * |accuracy - confidence|."""
    bins = calibration_bins(max_probs, correct, n_bins)
    filled = bins["count"] > 0
    gap = (bins["accuracy"][filled] - bins["confidence"][filled]).abs()
    return (bins["count"][filled] / len(max_probs) * gap).sum().item()
