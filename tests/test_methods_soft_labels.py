"""helpers.methods.soft_labels and its training step: answers worked out by hand."""
from __future__ import annotations

import pytest
import torch

import helpers as h
from helpers.augment import weak_augment
from helpers.methods.soft_labels import (SoftMixupStep, align_distribution, min_labeled_batches, mixup, sharpen,
                                         soft_pseudo_labels, train_soft_mixup)
from helpers.train import prepare, soft_cross_entropy
from tests.conftest import toy_images


def test_align_distribution_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.7, 0.3]])  # pool mean (0.8, 0.2)
    aligned = align_distribution(probs, torch.tensor([0.5, 0.5]))
    # x (0.5/0.8, 0.5/0.2): (9/16, 4/16) -> (9/13, 4/13); (7/16, 12/16) -> (7/19, 12/19)
    assert torch.allclose(aligned, torch.tensor([[9 / 13, 4 / 13], [7 / 19, 12 / 19]]))
    assert torch.allclose(align_distribution(probs, probs.mean(0)), probs)  # already aligned: unchanged


def test_sharpen_by_hand():
    probs = torch.tensor([[0.6, 0.4], [0.5, 0.5]])
    # T = 0.5 squares: 0.36 / (0.36 + 0.16) = 9/13; a tie stays a tie.
    assert torch.allclose(sharpen(probs, 0.5), torch.tensor([[9 / 13, 4 / 13], [0.5, 0.5]]))
    assert torch.allclose(sharpen(probs, 1.0), probs)
    assert sharpen(probs, 0.01)[0, 0].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="temperature"):
        sharpen(probs, 0.0)


def test_mixup_mixes_images_and_targets_alike():
    # Each image is a constant 100 * its class, so the mixed image's value must equal
    # 100 * the mixed target's class-1 probability.
    y = torch.tensor([0, 1, 1, 0, 1])
    x = (100 * y).view(-1, 1, 1, 1).expand(-1, 3, 4, 4).to(torch.uint8)
    targets = torch.nn.functional.one_hot(y, 2).float()
    torch.manual_seed(0)
    x_mix, y_mix = mixup(x, targets, lam=0.75)
    assert x_mix.dtype == torch.float32
    assert torch.allclose(x_mix.mean((1, 2, 3)) / 100, y_mix[:, 1])
    assert set(y_mix[:, 1].tolist()) <= {0.0, 0.25, 0.75, 1.0}
    assert torch.allclose(y_mix.sum(1), torch.ones(5))


def test_min_labeled_batches_by_hand():
    batches = min_labeled_batches(n_labeled=10, n_unlabeled=20, batch_size=8, min_labeled=3)
    assert len(batches) == 4  # 20 unlabelled images, 5 per batch
    for batch in batches:
        assert (batch < 10).sum() == 3 and (batch >= 10).sum() == 5
    unlabeled = torch.cat([b[b >= 10] for b in batches])
    assert sorted(unlabeled.tolist()) == list(range(10, 30))  # each exactly once
    labeled = torch.cat([b[b < 10] for b in batches])
    assert set(labeled.tolist()) == set(range(10))            # 12 draws cover all 10
    with pytest.raises(ValueError, match="min_labeled"):
        min_labeled_batches(10, 20, batch_size=8, min_labeled=8)


def test_soft_mixup_step_looks_up_targets_by_index_and_scores_against_them():
    x, y = toy_images(8, size=8)
    targets = torch.nn.functional.one_hot(y, 2).float() * 0.7 + 0.15
    step = SoftMixupStep(x, targets, n_labeled=len(x), alpha=0.0, relabel=False)
    model = h.make_model(width=4, seed=0).eval()  # eval: no dropout, so only the augmentation draws
    index = torch.tensor([0, 9, 3, 12])
    torch.manual_seed(0)
    loss, n_correct = step(model, x[index], index)
    torch.manual_seed(0)
    logits = model(prepare(weak_augment(x[index]), index.device)).float()
    assert loss.item() == pytest.approx(soft_cross_entropy(logits, targets[index]).mean().item(), rel=1e-6)
    assert n_correct == int((logits.argmax(1) == y[index]).sum())


def test_soft_mixup_step_relabels_only_the_unlabelled_rows_after_an_epoch():
    x, y = toy_images(8, size=8)
    model = h.make_model(width=4, seed=0)
    h.fit(model, x[::4], y[::4], epochs=3, progress=False, seed=0)
    labelled = torch.nn.functional.one_hot(y[:4], 2).float()
    targets = torch.cat([labelled, torch.full((12, 2), 0.5)])
    step = SoftMixupStep(x, targets, n_labeled=4, temperature=0.5)
    model.eval()
    step.end_epoch(model, 1)
    expected = soft_pseudo_labels(model, x[4:], temperature=0.5)
    assert torch.equal(step.targets[:4], labelled)
    assert torch.allclose(step.targets[4:], expected)
    assert step.changes == [pytest.approx((expected - 0.5).abs().sum(1).mean().item() / 2)]
    assert model.training  # fit's next epoch trains again
    frozen = SoftMixupStep(x, targets, n_labeled=4, relabel=False)
    frozen.end_epoch(model, 1)
    assert torch.equal(frozen.targets, targets) and frozen.changes == []


def test_train_soft_mixup_relabels_every_epoch():
    x, y = toy_images(16, size=8)
    model = h.make_model(width=4, seed=0)
    h.fit(model, x[::4], y[::4], epochs=5, progress=False, seed=0)
    history = train_soft_mixup(model, x[::4], y[::4], x, epochs=3, batch_size=16, min_labeled=4,
                               seed=0, progress=False)
    assert len(history["soft_label_changes"]) == 2  # after epochs 1 and 2, not after the last
    assert all(0 <= c <= 1 for c in history["soft_label_changes"])
