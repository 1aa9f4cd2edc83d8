"""Numbers the course reports: accuracy, confusion matrices, calibration error, class counts."""
from __future__ import annotations

import math

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


def standard_error(acc: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on ``n`` images: sqrt(p (1 - p) / n).
    On the 2,000 test images an accuracy near 80 % has about 0.9 points of it."""
    return math.sqrt(acc * (1 - acc) / n)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def paired_difference(method: dict, baseline: dict) -> tuple[float, float, list[float]]:
    """Per-seed differences ``method[seed] - baseline[seed]`` (each seed against its own
    baseline), their mean and standard deviation: ``(mean, std, differences)``."""
    seeds = sorted(set(method) & set(baseline))
    if not seeds:
        raise ValueError("no seed in common between the method and its baseline")
    diffs = [method[s] - baseline[s] for s in seeds]
    mean, std = mean_std(diffs)
    return mean, std, diffs


def mcnemar(fixed: int, introduced: int) -> float:
    """Exact two-sided McNemar p-value for two models graded on the same images: ``fixed``
    images only the second gets right, ``introduced`` only the first. Under "no difference"
    each discordant image is a fair coin: p = P(Binomial(n, 1/2) as far from n/2 as observed)."""
    n, k = fixed + introduced, min(fixed, introduced)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)
