"""helpers.sliders: notebook 03's threshold slider redraws what a threshold keeps."""
from __future__ import annotations

import base64
import math

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers.sliders import GALLERY_SIZE, ThresholdSlider, kept_at  # noqa: E402


def _pool(n_per_class: int = 100):
    """A pool stored cats first, as the course's is: confidences spread over 0.5-1, a label
    wrong for every fifth image, and images whose pixels say their index."""
    generator = torch.Generator().manual_seed(1)
    max_probs = 0.5 + 0.5 * torch.rand(2 * n_per_class, generator=generator)
    pseudo_labels = torch.cat([torch.zeros(n_per_class), torch.ones(n_per_class)]).long()
    y_hidden = pseudo_labels.clone()
    y_hidden[::5] = 1 - y_hidden[::5]
    images = torch.arange(2 * n_per_class).remainder(256).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 3, 8, 8)
    return max_probs, pseudo_labels, y_hidden, images


@pytest.mark.parametrize("threshold", [0.55, 0.75, 0.95])
def test_kept_at_counts_what_the_threshold_keeps(threshold):
    max_probs, pseudo_labels, y_hidden, _ = _pool()
    kept = kept_at(threshold, max_probs, pseudo_labels, y_hidden)
    mask = max_probs > threshold
    assert kept.n_kept == int(mask.sum()) and kept.n_pool == len(max_probs)
    assert kept.coverage == pytest.approx(int(mask.sum()) / len(max_probs))
    assert kept.per_class == tuple(torch.bincount(pseudo_labels[mask], minlength=2).tolist())
    assert kept.quality == pytest.approx((pseudo_labels[mask] == y_hidden[mask]).float().mean().item())


def test_the_gallery_is_a_seeded_random_sample_of_the_kept_images_from_both_classes():
    max_probs, pseudo_labels, y_hidden, _ = _pool()
    kept = kept_at(0.6, max_probs, pseudo_labels, y_hidden)
    gallery = kept.gallery
    assert len(gallery) == GALLERY_SIZE == len(set(gallery.tolist()))
    assert bool((max_probs[gallery] > 0.6).all())
    # the first kept images of a pool stored cats first are all cats; a random sample is not
    assert set(pseudo_labels[gallery].tolist()) == {0, 1}
    assert torch.equal(gallery, kept_at(0.6, max_probs, pseudo_labels, y_hidden).gallery)
    assert not torch.equal(gallery, kept_at(0.6, max_probs, pseudo_labels, y_hidden, seed=1).gallery)


def test_moving_the_slider_redraws_the_figure_and_the_numbers():
    max_probs, pseudo_labels, y_hidden, images = _pool()
    view = ThresholdSlider(max_probs, pseudo_labels, y_hidden, images, ("cat", "dog"))
    assert view.kept.threshold == 0.9 and view.kept.n_kept == int((max_probs > 0.9).sum())
    first_png = bytes(view.image.value)
    assert first_png.startswith(b"\x89PNG")
    view.slider.value = 0.6  # what a move in JupyterLab does to the model
    assert view.kept.n_kept == int((max_probs > 0.6).sum()) > int((max_probs > 0.9).sum())
    assert bytes(view.image.value) != first_png
    assert view.redraw(0.8).coverage != view.redraw(0.95).coverage


def test_a_stored_notebook_shows_the_figure_and_the_numbers_without_the_widget():
    max_probs, pseudo_labels, y_hidden, images = _pool()
    view = ThresholdSlider(max_probs, pseudo_labels, y_hidden, images, ("cat", "dog"), threshold=0.7)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == view.image.value
    assert f"keeps {int((max_probs > 0.7).sum()):,} of 200" in bundle["text/plain"]


def test_a_threshold_that_keeps_nothing_draws_an_empty_figure():
    max_probs, pseudo_labels, y_hidden, images = _pool()
    view = ThresholdSlider(max_probs * 0.9, pseudo_labels, y_hidden, images, ("cat", "dog"), threshold=0.95)
    assert view.kept.n_kept == 0 and math.isnan(view.kept.quality) and len(view.kept.gallery) == 0
    assert bytes(view.image.value).startswith(b"\x89PNG")
