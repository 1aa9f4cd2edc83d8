"""One function per kind of figure the course draws. Each returns the matplotlib Axes (or Figure)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import torch

from . import style
from .io import atomic_write
from .metrics import calibration_bins
from .style import BASELINE, CLASS_COLOURS, NEUTRAL, ORACLE, RIGHT, SERIES, WRONG  # noqa: F401 (for notebooks)

style.apply()  # the course's colours, fonts and sizes for every figure, drawn here or in a notebook


def _axes(ax, figsize=style.FIGSIZE):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def image_grid(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8,
               title: str | None = None, scale: float = 1.3) -> plt.Figure:
    """Show uint8 images (N x 3 x H x W) in a grid, each with an optional caption."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def training_curves(history: dict[str, list[float]], title: str = "Training curves") -> plt.Figure:
    """Loss and accuracy per epoch, training against validation when the history has it."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
        ax.plot(history["epoch"], history[f"train_{key}"], label="training (augmented)")
        if f"val_{key}" in history:
            ax.plot(history["epoch"], history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if key == "loss" else "accuracy")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confidence_histogram(max_probs: torch.Tensor, correct: torch.Tensor | None = None,
                         threshold: float | None = None, bins: int = 25, low: float = 0.5,
                         ax=None, title: str = "Confidence of the pseudo-labels") -> plt.Axes:
    """Histogram of max softmax probability; stacked right vs wrong when ``correct`` is given."""
    ax = _axes(ax)
    edges = torch.linspace(low, 1, bins + 1).numpy()
    values = max_probs.cpu().numpy()
    if correct is None:
        ax.hist(values, bins=edges, color=NEUTRAL, label="all pseudo-labels")
    else:
        c = correct.cpu().numpy().astype(bool)
        ax.hist([values[c], values[~c]], bins=edges, stacked=True, color=[RIGHT, WRONG],
                label=["right pseudo-label", "wrong pseudo-label"])
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("confidence (max softmax probability)")
    ax.set_ylabel("number of images")
    ax.set_title(title)
    ax.legend()
    return ax


def accuracy_vs_rounds(series: dict[str, Sequence[float]], baseline: float | None = None,
                       oracle: float | None = None, ax=None, ylabel: str = "test accuracy",
                       title: str = "Accuracy against rounds", n_test: int | None = None,
                       min_span: float = 0.10) -> plt.Axes:
    """One line per series (value per round, round 0 = baseline), with reference lines.

    With ``n_test`` each point carries its binomial standard error. The y-axis spans at least
    ``min_span`` (10 points), so that a change of a point does not look like a climb.
    """
    ax = _axes(ax)
    for label, values in series.items():
        errors = None if n_test is None else [(v * (1 - v) / n_test) ** 0.5 for v in values]
        ax.errorbar(range(len(values)), values, yerr=errors, marker="o", capsize=3, label=label)
    if baseline is not None:
        ax.axhline(baseline, color=BASELINE, ls="--", label=f"baseline, 2,000 labels ({baseline:.1%})")
    if oracle is not None:
        ax.axhline(oracle, color=ORACLE, ls=":", label=f"oracle, all labels ({oracle:.1%})")
    shown = [v for values in series.values() for v in values] + [v for v in (baseline, oracle) if v is not None]
    low, high = min(shown) - 0.01, max(shown) + 0.01
    pad = max(0.0, min_span - (high - low)) / 2
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("round (0 = supervised baseline)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def confusion_matrix(cm: torch.Tensor, classes: Sequence[str], ax=None,
                     title: str = "Confusion matrix") -> plt.Axes:
    """Counts with row-normalised shading: row = true class, column = predicted class."""
    ax = _axes(ax, (3.6, 3.2))
    cm = cm.cpu().float()
    share = cm / cm.sum(1, keepdim=True).clamp_min(1)
    ax.imshow(share.numpy(), cmap="Greys", vmin=0, vmax=1)  # gray: blue would say "class 0"
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{share[i, j]:.0%}", ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return ax


def reliability_diagram(max_probs: torch.Tensor, correct: torch.Tensor, n_bins: int = 10, low: float = 0.5,
                        ax=None, label: str = "model", title: str = "Reliability diagram") -> plt.Axes:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    ax = _axes(ax, (4.5, 4.5))
    bins = calibration_bins(max_probs, correct, n_bins, low=low)
    filled = bins["count"] > 0
    centers = ((bins["edges"][1:] + bins["edges"][:-1]) / 2)[filled].numpy()
    accuracy, confidence = bins["accuracy"][filled].numpy(), bins["confidence"][filled].numpy()
    ax.plot([low, 1], [low, 1], color="k", ls="--", lw=1, label="perfect calibration")
    ax.bar(centers, accuracy, width=(1 - low) / n_bins * 0.9, alpha=0.6, color=SERIES[0],
           label=f"{label}: accuracy per bin")
    ax.plot(confidence, accuracy, "o-", color=SERIES[0], label=f"{label}: (mean confidence, accuracy)")
    ax.set_xlim(low, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (max softmax probability)")
    ax.set_ylabel("accuracy in the bin")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save a figure as PNG atomically."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))


def decision_boundary(model, x_unlabeled: torch.Tensor, x_labeled: torch.Tensor, y_labeled: torch.Tensor,
                      ax=None, title: str = "", mask: torch.Tensor | None = None,
                      pseudo_labels: torch.Tensor | None = None) -> plt.Axes:
    """A 2-D model's view of the plane (notebook 12): its probability of class 1 as a colour
    wash, the 0.5 boundary as a black line, the 0.1 and 0.9 contours dashed (inside them the
    model is more than 90 % sure), the unlabelled pool in grey, the labelled points as large
    markers. With ``mask`` and ``pseudo_labels`` the kept pseudo-labels are coloured by class."""
    from matplotlib.colors import LinearSegmentedColormap

    from .toy2d import grid_probabilities

    ax = _axes(ax, figsize=(4, 3))
    xs, ys, p = (t.numpy() for t in grid_probabilities(model))
    cmap = LinearSegmentedColormap.from_list("classes", [CLASS_COLOURS[0], "white", CLASS_COLOURS[1]])
    ax.contourf(xs, ys, p, levels=20, cmap=cmap, vmin=0, vmax=1, alpha=0.35)
    ax.contour(xs, ys, p, levels=[0.5], colors="k", linewidths=1.5)
    ax.contour(xs, ys, p, levels=[0.1, 0.9], colors="k", linewidths=0.7, linestyles="--")
    ax.scatter(*x_unlabeled.T, s=3, color=NEUTRAL, lw=0)
    if mask is not None:
        for c in (0, 1):
            kept = mask & (pseudo_labels == c)
            ax.scatter(*x_unlabeled[kept].T, s=4, color=CLASS_COLOURS[c], lw=0)
    for c in (0, 1):
        ax.scatter(*x_labeled[y_labeled == c].T, s=90, color=CLASS_COLOURS[c], edgecolor="k",
                   marker="o" if c == 0 else "s", zorder=3, label=f"labelled, class {c}")
    ax.set(xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]), xticks=[], yticks=[], title=title)
    return ax


def threshold_view(threshold: float, max_probs: torch.Tensor, pseudo_labels: torch.Tensor, correct: torch.Tensor,
                   images: torch.Tensor, classes: Sequence[str], gallery: torch.Tensor,
                   model: str = "baseline") -> plt.Figure:
    """Notebook 03's slider figure for one threshold: coverage and quality against the threshold
    with this one marked, the kept pseudo-labels per class (right and wrong, graded with the
    hidden labels), and ``gallery``, indices of kept images, with their confidence."""
    fig = plt.figure(figsize=(10.4, 6.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    ax_sweep, ax_classes = top.subplots(1, 2)
    _coverage_and_quality(ax_sweep, threshold, max_probs, correct)
    _kept_per_class(ax_classes, max_probs > threshold, pseudo_labels, correct, classes)
    for ax, i in zip(bottom.subplots(2, 8).flat, [*gallery.tolist(), *[None] * 16]):
        ax.axis("off")
        if i is not None:
            ax.imshow(images[i].permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            ax.set_title(f"{classes[pseudo_labels[i]]} {max_probs[i]:.3f} {'✓' if correct[i] else '✗'}", fontsize=8)
    bottom.suptitle(f"{model}: {len(gallery)} random pseudo-labels kept at threshold {threshold:.2f} "
                    "(✓ right, ✗ wrong, graded with the hidden labels)", fontsize=10)
    return fig


def _coverage_and_quality(ax, threshold: float, max_probs: torch.Tensor, correct: torch.Tensor) -> None:
    """The sweep of notebook 03's section 3.3, with ``threshold`` marked and its values in the title."""
    sweep = torch.linspace(0.5, 0.99, 50)
    keep = [max_probs > t for t in sweep] + [max_probs > threshold]
    coverage = [k.float().mean().item() for k in keep]
    quality = [correct[k].float().mean().item() if k.any() else float("nan") for k in keep]
    ax.plot(sweep, coverage[:-1], label="coverage: share of the pool kept")
    ax.plot(sweep, quality[:-1], label="quality: accuracy of the kept pseudo-labels")
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    ax.set(xlabel="threshold on confidence", ylabel="fraction", ylim=(0, 1.02),
           title=f"coverage {coverage[-1]:.1%}, quality {quality[-1]:.1%}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)


def _kept_per_class(ax, mask: torch.Tensor, pseudo_labels: torch.Tensor, correct: torch.Tensor,
                    classes: Sequence[str]) -> None:
    """Stacked right/wrong bars per pseudo-label. The y-axis is fixed (above the count of every
    image given that pseudo-label), so that moving the threshold moves the bars, not the axis."""
    right = [int((mask & correct & (pseudo_labels == c)).sum()) for c in range(len(classes))]
    wrong = [int((mask & ~correct & (pseudo_labels == c)).sum()) for c in range(len(classes))]
    kept = [r + w for r, w in zip(right, wrong)]
    ax.bar(classes, right, color=RIGHT, label="right pseudo-label")
    ax.bar(classes, wrong, bottom=right, color=WRONG, label="wrong pseudo-label")
    ax.axhline(sum(kept) / len(classes), color=BASELINE, ls=":", label="an equal share per class")
    most = int(torch.bincount(pseudo_labels, minlength=len(classes)).max())
    ax.set_ylim(0, 1.35 * max(1, most))  # room for the legend above the tallest bar
    ax.set(xlabel="pseudo-label", ylabel="images kept",
           title="kept: " + ", ".join(f"{name} {n:,}" for name, n in zip(classes, kept))
           + (f" ({kept[-1] / sum(kept):.0%} {classes[-1]})" if sum(kept) else ""))
    ax.legend(fontsize=8, loc="upper right")
