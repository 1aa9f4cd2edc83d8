"""helpers.methods.thresholds and fixmatch: selection rules, the loss and the EMA, by hand."""
from __future__ import annotations

import copy
import math

import pytest
import torch

import helpers as h
from helpers.methods.fixmatch import EMA, FixMatchStep, fixmatch_loss, train_fixmatch
from helpers.methods.thresholds import (FixedThreshold, FlexMatchThreshold, FreeMatchThreshold,
                                        percentile_threshold, select)
from tests.conftest import toy_images


def test_select_uses_each_class_threshold():
    mask = select(torch.tensor([0.8, 0.95, 0.6]), torch.tensor([0, 1, 1]), torch.tensor([0.7, 0.96]))
    assert mask.tolist() == [True, False, False]
    # Strictly above, as in the original method.
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


def test_fixmatch_step_updates_the_ema_after_each_optimizer_step():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    step = FixMatchStep(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), ema=EMA(model, decay=0.9))
    with torch.no_grad():
        model.weight.fill_(1.0)
    step.after_update(model)
    assert step.ema.model.weight.item() == pytest.approx(0.1)
    FixMatchStep(torch.zeros(4, 3, 8, 8, dtype=torch.uint8)).after_update(model)  # no EMA: nothing to do


def _warm_model(x, y):
    model = h.make_model(width=4, seed=0)
    h.fit(model, x[::4], y[::4], epochs=5, progress=False, seed=0)
    return model


@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_train_fixmatch_returns_the_ema_of_the_trained_weights(decay):
    x, y = toy_images(16, size=8)
    model = _warm_model(x, y)
    start = copy.deepcopy(model)
    ema_model, _, _ = train_fixmatch(model, x[::4], y[::4], x, epochs=2, batch_size=4, mu=2, ema_decay=decay,
                                     rule=FixedThreshold(2, 0.5), seed=0, progress=False)
    # Decay 0: the average is the last weights; decay 1: it never leaves the starting weights.
    expected = model if decay == 0.0 else start
    assert all(torch.equal(a.cpu(), b.cpu()) for a, b in zip(ema_model.parameters(), expected.parameters()))
    assert not all(torch.equal(a.cpu(), b.cpu()) for a, b in zip(model.parameters(), start.parameters()))


def test_fixmatch_step_grades_each_drawn_image_against_its_own_hidden_label():
    x, y = toy_images(16, size=8)  # dark = class 0, bright = class 1
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))
    with torch.no_grad():  # a model that is right on every image, and sure of it
        model[2].weight.copy_(torch.tensor([[-10.0] * 3, [10.0] * 3]))
        model[2].bias.zero_()
    for hidden, right in ((y, 8), (1 - y, 0)):
        step = FixMatchStep(x, FixedThreshold(2, 0.5), batch_size=8, y_unlabeled_hidden=hidden)
        for _ in range(3):
            step(model, x[:4], y[:4])
        assert step.used == [8] * 3 and step.used_correct == [right] * 3


def test_train_fixmatch_records_what_it_used():
    x, y = toy_images(16, size=8)
    model = _warm_model(x, y)
    ema_model, step, history = train_fixmatch(
        model, x[::4], y[::4], x, epochs=2, batch_size=4, mu=2, rule=FixedThreshold(2, 0.5),
        y_unlabeled_hidden=y, seed=0, progress=False)
    assert isinstance(step, FixMatchStep) and step.batch_size == 8
    assert len(step.used) == 4 and len(step.used_correct) == 4  # 2 epochs x 2 steps
    assert all(0 <= correct <= used <= 8 for used, correct in zip(step.used, step.used_correct))
    assert step.ever_used.sum() <= sum(step.used)
    assert step.thresholds == [[0.5, 0.5]] * 4
    assert history["epoch"] == [1, 2] and len(history["train_loss"]) == 2
    assert ema_model is not model and not ema_model.training
    # Without the hidden labels nothing is graded.
    _, ungraded, _ = train_fixmatch(_warm_model(x, y), x[::4], y[::4], x, epochs=1, batch_size=4, mu=2,
                                    rule=FixedThreshold(2, 0.5), seed=0, progress=False)
    assert ungraded.used_correct == [] and len(ungraded.used) == 2


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
