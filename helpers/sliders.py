"""Notebook 03's threshold slider: move it in JupyterLab and its figure is redrawn; a stored
notebook (GitHub, a web edition, nbval) shows the figure at the slider's starting value."""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from . import config, plots
from .metrics import accuracy

GALLERY_SIZE = 16  # two rows of eight


@dataclass(frozen=True)
class Kept:
    """What one threshold keeps of the unlabelled pool. ``quality`` is the accuracy of the kept
    pseudo-labels against the hidden labels (nan when nothing is kept): grading, never training."""

    threshold: float
    n_kept: int
    n_pool: int
    coverage: float  # n_kept / n_pool
    quality: float
    per_class: tuple[int, ...]
    gallery: torch.Tensor  # pool indices of a random sample of the kept images

    def __str__(self) -> str:
        return (f"threshold {self.threshold:.2f}: keeps {self.n_kept:,} of {self.n_pool:,} pseudo-labels "
                f"(coverage {self.coverage:.1%}), {self.quality:.1%} of them right; per class {list(self.per_class)}")


def kept_at(threshold: float, max_probs: torch.Tensor, pseudo_labels: torch.Tensor,
            y_unlabeled_hidden: torch.Tensor, n_gallery: int = GALLERY_SIZE, seed: int = config.SEED) -> Kept:
    """Coverage, quality and class counts of ``max_probs > threshold``, and a gallery drawn at
    random from all kept images with a seeded generator (the pool is stored cats first, so its
    first kept images would all be cats)."""
    mask = max_probs > threshold
    kept = mask.nonzero().squeeze(1)
    order = torch.randperm(len(kept), generator=torch.Generator().manual_seed(seed))
    num_classes = int(max(pseudo_labels.max(), y_unlabeled_hidden.max())) + 1
    return Kept(threshold, len(kept), len(max_probs), mask.float().mean().item(),
                accuracy(pseudo_labels[mask], y_unlabeled_hidden[mask]),
                tuple(torch.bincount(pseudo_labels[mask], minlength=num_classes).tolist()), kept[order[:n_gallery]])


def figure_png(fig: plt.Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes; the figure is closed, so that the notebook does not show it twice."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


class ThresholdSlider(widgets.VBox):
    """A slider (0.50 to 0.99) above the figure ``plots.threshold_view`` draws for its value."""

    def __init__(self, max_probs: torch.Tensor, pseudo_labels: torch.Tensor, y_unlabeled_hidden: torch.Tensor,
                 x_unlabeled: torch.Tensor, classes, threshold: float = 0.9, model: str = "baseline"):
        slider = widgets.FloatSlider(value=threshold, min=0.5, max=0.99, step=0.01, readout_format=".2f",
                                     description="threshold", continuous_update=False)
        super().__init__([slider, widgets.Image(format="png")])
        self.slider, self.image = self.children
        self.max_probs, self.pseudo_labels, self.y_unlabeled_hidden = max_probs, pseudo_labels, y_unlabeled_hidden
        self.x_unlabeled, self.classes, self.model = x_unlabeled, tuple(classes), model
        slider.observe(lambda change: self.redraw(change["new"]), names="value")
        self.redraw(threshold)

    def redraw(self, threshold: float) -> Kept:
        """Draw the figure for ``threshold`` into the image below the slider; return what it keeps."""
        self.kept = kept_at(round(float(threshold), 2), self.max_probs, self.pseudo_labels, self.y_unlabeled_hidden)
        fig = plots.threshold_view(self.kept.threshold, self.max_probs, self.pseudo_labels,
                                   self.pseudo_labels == self.y_unlabeled_hidden, self.x_unlabeled, self.classes,
                                   self.kept.gallery, self.model)
        self.image.value = figure_png(fig)
        return self.kept

    def _repr_mimebundle_(self, **kwargs):
        """The live widget for JupyterLab, plus the figure and a summary line at the current value
        for whoever cannot run the widget: GitHub, a web edition, nbval."""
        bundle = super()._repr_mimebundle_(**kwargs)
        return {**bundle, "image/png": base64.b64encode(self.image.value).decode("ascii"), "text/plain": str(self.kept)}
