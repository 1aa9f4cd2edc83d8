"""helpers.methods.soft_labels and the fit hooks it uses: answers worked out by hand."""
from __future__ import annotations

import pytest
import torch

import helpers as h
from helpers.methods.soft_labels import min_labeled_batches, mixup, sharpen, train_soft_mixup
from tests.conftest import toy_images


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


def test_fit_hooks_are_called_and_checked():
    x, y = toy_images(8, size=8)
    steps, orders = [], []
    model = h.make_model(width=4, seed=0)
    fixed = [torch.arange(0, 8), torch.arange(8, 16)]
    h.fit(model, x, y, epochs=2, batch_size=8, augment=None, progress=False, seed=0,
          batches=lambda: fixed, after_step=lambda m, step: steps.append(step),
          mix=lambda xb, yb: (orders.append(yb.argmax(1).tolist()) or (xb, yb)))
    assert steps == [0, 1, 2, 3]
    assert orders == [[0] * 8, [1] * 8] * 2  # the batches came in the order given
    with pytest.raises(ValueError, match="on_epoch_end returned"):
        h.fit(model, x, y, epochs=2, batch_size=8, progress=False,
              on_epoch_end=lambda m, epoch: torch.zeros(3, 2))
    with pytest.raises(ValueError, match="cannot be combined"):
        h.fit(model, x, y, epochs=1, progress=False, sample_weight=torch.ones(len(y)),
              mix=lambda xb, yb: (xb, yb))


def test_train_soft_mixup_relabels_every_epoch():
    x, y = toy_images(16, size=8)
    model = h.make_model(width=4, seed=0)
    h.fit(model, x[::4], y[::4], epochs=5, progress=False, seed=0)
    history = train_soft_mixup(model, x[::4], y[::4], x, epochs=3, batch_size=16, min_labeled=4,
                               seed=0, progress=False)
    assert len(history["soft_label_changes"]) == 2  # after epochs 1 and 2, not after the last
    assert all(0 <= c <= 1 for c in history["soft_label_changes"])
