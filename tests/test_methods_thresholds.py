"""helpers.methods.thresholds and fixmatch: selection rules, the loss and the EMA, by hand."""
from __future__ import annotations

import math

import pytest
import torch

import helpers as h
from helpers.methods.fixmatch import EMA, fixmatch_loss, train_fixmatch
from helpers.methods.thresholds import (FixedThreshold, FlexMatchThreshold, FreeMatchThreshold,
                                        percentile_threshold, select)
from tests.conftest import toy_images


def test_select_uses_each_class_threshold():
    mask = select(torch.tensor([0.8, 0.95, 0.6]), torch.tensor([0, 1, 1]), torch.tensor([0.7, 0.96]))
    assert mask.tolist() == [True, False, False]
    # Strictly above, as in the seed's method.
    assert select(torch.tensor([0.9]), torch.tensor([0]), torch.tensor([0.9, 0.9])).tolist() == [False]


def test_percentile_threshold_keeps_the_top_fraction():
    max_probs = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    threshold = percentile_threshold(max_probs, 0.3)
    assert threshold == pytest.approx(0.7)
    assert (max_probs > threshold).sum() == 3
    assert percentile_threshold(max_probs, 1.0) == -1.0
    with pytest.raises(ValueError):
        percentile_threshold(max_probs, 0.0)


def _probs(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_flexmatch_by_hand():
    rule = FlexMatchThreshold(num_classes=2, n_unlabeled=10, tau=0.9)
    assert rule.thresholds().tolist() == [0.0, 0.0]  # nothing learnt yet: every label counts
    # Images 0-2 confidently cat, 3 confidently dog, 4 dog but not confident.
    rule.update(_probs([[0.95, 0.05]] * 3 + [[0.05, 0.95], [0.2, 0.8]]), torch.arange(5))
    # sigma = [3, 1]; 6 images never confident, so beta = [3/6, 1/6]; T = 0.9 * b / (2 - b).
    assert torch.allclose(rule.thresholds(), torch.tensor([0.9 * 0.5 / 1.5, 0.9 * (1 / 6) / (11 / 6)]))
    no_warmup = FlexMatchThreshold(2, 10, tau=0.9, warmup=False)
    no_warmup.latest = rule.latest.clone()
    assert torch.allclose(no_warmup.thresholds(), torch.tensor([0.9, 0.9 * (1 / 3) / (5 / 3)]))
    # An image's latest confident prediction replaces its earlier one: sigma = [2, 2].
    rule.update(_probs([[0.02, 0.98]]), torch.tensor([0]))
    assert torch.allclose(rule.thresholds(), torch.full((2,), 0.9 * (2 / 6) / (2 - 2 / 6)))


def test_freematch_by_hand():
    rule = FreeMatchThreshold(num_classes=2, momentum=0.5)
    assert torch.allclose(rule.thresholds(), torch.tensor([0.5, 0.5]))
    rule.update(_probs([[0.9, 0.1], [0.7, 0.3]]), torch.arange(2))
    # tau = 0.5 * 0.5 + 0.5 * 0.8 = 0.65; p = 0.5 * [0.5, 0.5] + 0.5 * [0.8, 0.2] = [0.65, 0.35].
    assert torch.allclose(rule.thresholds(), torch.tensor([0.65, 0.35]))


def test_fixed_threshold_never_moves():
    rule = FixedThreshold(2, 0.95)
    rule.update(_probs([[0.99, 0.01]]), torch.arange(1))
    assert rule.thresholds().tolist() == pytest.approx([0.95, 0.95])


def test_fixmatch_loss_by_hand():
    logits_weak = torch.tensor([[2.0, 0.0], [0.0, 0.1]])    # confidences 0.881 and 0.525
    logits_strong = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    loss, mask, pseudo_labels = fixmatch_loss(logits_weak, logits_strong, torch.tensor([0.8, 0.8]))
    assert mask.tolist() == [True, False] and pseudo_labels.tolist() == [0, 1]
    # Only the first image counts: -log(1/2), averaged over the whole batch of 2.
    assert loss.item() == pytest.approx(math.log(2) / 2)


def test_ema_by_hand():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert ema.model.weight.item() == pytest.approx(0.1)
    ema.update(model)
    assert ema.model.weight.item() == pytest.approx(0.19)


def test_train_fixmatch_records_what_it_used():
    x, y = toy_images(16, size=8)
    model = h.make_model(width=4, seed=0)
    h.fit(model, x[::4], y[::4], epochs=5, progress=False, seed=0)
    ema_model, consistency, history = train_fixmatch(
        model, x[::4], y[::4], x, epochs=2, batch_size=4, mu=2, rule=FixedThreshold(2, 0.5),
        y_hidden=y, seed=0, progress=False)
    assert len(consistency.used) == 4 and len(consistency.used_correct) == 4  # 2 epochs x 2 steps
    assert all(0 <= used <= 8 for used in consistency.used)
    assert consistency.ever_used.sum() <= sum(consistency.used)
    assert ema_model is not model and not ema_model.training


def test_multiple_models_by_hand():
    from helpers.methods.multiple_models import agree, labels_from_others
    a = _probs([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    b = _probs([[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    c = _probs([[0.4, 0.6], [0.7, 0.3], [0.05, 0.95]])
    assert agree([a, b, c]).tolist() == [False, False, True]
    # Model c is taught by a and b: they agree on images 0 (cat, mean 0.85) and 2 (dog, 0.85).
    mask, labels = labels_from_others([a, b, c], 2, threshold=0.8)
    assert mask.tolist() == [True, False, True] and labels[mask].tolist() == [0, 1]
    mask, _ = labels_from_others([a, b, c], 2, threshold=0.86)
    assert mask.tolist() == [False, False, False]
    with pytest.raises(ValueError):
        labels_from_others([a], 0)
