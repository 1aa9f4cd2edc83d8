"""helpers.methods.cotraining: the second view, the per-class pick and who teaches whom."""
from __future__ import annotations

import math

import pytest
import torch

import helpers.methods.cotraining as cotraining
from helpers.methods.cotraining import (colour_histogram, co_train, edge_histogram, fit_feature_classifier,
                                        feature_proba, top_per_class, view_features)
from helpers.models import make_model


def _image(colours) -> torch.Tensor:
    """A 1 x 3 x 2 x 2 image from four (r, g, b) pixels, row by row."""
    return torch.tensor(colours, dtype=torch.uint8).T.reshape(1, 3, 2, 2)


def test_each_pixel_falls_in_its_colour_cell():
    # (255, 0, 128): levels (3, 0, 2), cell (3 * 4 + 0) * 4 + 2 = 50; black is cell 0, white 63.
    x = _image([(0, 0, 0), (255, 0, 128), (255, 255, 255), (255, 0, 128)])
    hist = colour_histogram(x)
    assert hist.shape == (1, 64)
    assert hist[0, 0] == 0.25 and hist[0, 50] == 0.5 and hist[0, 63] == 0.25
    assert hist.sum() == 1


def _edge(vertical: bool) -> torch.Tensor:
    x = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    if vertical:
        x[..., :, 4:] = 255  # dark left, bright right: the gradient points along x
    else:
        x[..., 4:, :] = 255  # dark top, bright bottom: the gradient points along y
    return x


def test_a_vertical_edge_lands_in_orientation_zero_and_a_horizontal_one_in_ninety_degrees():
    for vertical, expected_bin in ((True, 0), (False, 4)):  # 90 degrees of 180, in 9 bins: bin 4
        hist = edge_histogram(_edge(vertical), cells=2).view(2, 2, 9)
        mass = hist.sum(dim=(0, 1))
        assert mass.argmax() == expected_bin and mass[expected_bin] == pytest.approx(mass.sum())
        assert hist.norm() == pytest.approx(1.0)
    # The vertical edge sits on the border between the left and right blocks: both see it, equally.
    hist = edge_histogram(_edge(True), cells=2).view(2, 2, 9)[..., 0]
    assert torch.allclose(hist, torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="multiple"):
        edge_histogram(torch.zeros(1, 3, 10, 10, dtype=torch.uint8), cells=4)


def test_the_second_view_is_the_two_histograms_side_by_side():
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    features = view_features(x)
    assert features.shape == (3, 64 + 4 * 4 * 9)
    assert torch.equal(features[:, :64], colour_histogram(x)) and torch.equal(features[:, 64:], edge_histogram(x))


def test_top_per_class_takes_the_surest_of_each_class_and_skips_excluded_images():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7], [0.05, 0.95], [0.45, 0.55]])
    assert top_per_class(probs, 2).tolist() == [True, False, True, True, True, False]
    exclude = torch.tensor([True, False, False, False, True, False])
    assert top_per_class(probs, 2, exclude).tolist() == [False, True, True, True, False, True]
    assert top_per_class(probs, 5).all()  # fewer members than k: all of them
    assert not top_per_class(probs, 0).any()
    tied = torch.tensor([[0.8, 0.2], [0.8, 0.2], [0.8, 0.2]])
    assert top_per_class(tied, 1).tolist() == [True, False, False]  # ties: the lower index
    with pytest.raises(ValueError):
        top_per_class(probs, -1)


def test_the_feature_classifier_separates_separable_features_and_is_deterministic():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(60, 5, generator=generator)
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).long()
    first, second = fit_feature_classifier(features, labels), fit_feature_classifier(features, labels)
    assert (feature_proba(first, features).argmax(1) == labels).float().mean() > 0.95
    assert torch.equal(first.linear.weight, second.linear.weight)


@pytest.mark.parametrize("teacher", ["other", "self"])
def test_each_view_trains_on_the_picks_of_the_teacher_it_is_given(monkeypatch, teacher):
    # Record what the CNN and the feature classifier are trained on, training nothing.
    cnn_sets, feature_sets, picks = [], [], []
    monkeypatch.setattr(cotraining, "fit", lambda model, x, y, **kw: cnn_sets.append(y.clone()) or {"steps": [1]})
    real_fit = cotraining.fit_feature_classifier
    monkeypatch.setattr(cotraining, "fit_feature_classifier",
                        lambda f, y, n: feature_sets.append(y.clone()) or real_fit(f, y, n))
    generator = torch.Generator().manual_seed(0)
    x_labeled = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8, generator=generator)
    y_labeled = torch.tensor([0, 1] * 4)
    pool = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8, generator=generator)
    grade = lambda view, mask, labels: picks.append((view, mask.clone(), labels.clone())) or {}
    _, _, records = co_train(x_labeled, y_labeled, pool, make_model(2, width=4, seed=0), rounds=2, per_class=3,
                             teacher=teacher, grade=grade)
    assert [r["round"] for r in records] == [1, 2] and len(cnn_sets) == 2 and len(feature_sets) == 3
    for r in range(2):
        given = {view: (mask, labels) for view, mask, labels in picks[2 * r: 2 * r + 2]}
        source = {"pixels": "features", "features": "pixels"} if teacher == "other" else {"pixels": "pixels", "features": "features"}
        for view, trained in (("pixels", cnn_sets[r]), ("features", feature_sets[r + 1])):
            mask, labels = given[source[view]]
            assert int(mask.sum()) <= 6 * (r + 1)  # at most 3 new picks per class a round
            assert torch.equal(trained, torch.cat([y_labeled, labels[mask]]))


def test_co_train_checks_the_teacher():
    with pytest.raises(ValueError, match="teacher"):
        co_train(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1]),
                 torch.zeros(2, 3, 8, 8, dtype=torch.uint8), make_model(2, width=4), teacher="both")
