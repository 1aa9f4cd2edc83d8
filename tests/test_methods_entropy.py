"""helpers.methods.entropy: Lee's ramp and the two unlabelled losses, against values worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.methods.entropy import alpha_ramp, entropy, entropy_loss, pseudo_label_loss


@pytest.mark.parametrize("t, expected", [(0, 0.0), (99, 0.0), (100, 0.0), (350, 1.5), (599, 2.994), (600, 3.0), (5000, 3.0)])
def test_alpha_ramp_is_lees_schedule(t, expected):
    # T1 = 100, T2 = 600, alpha_f = 3: 3 * (350 - 100) / 500 = 1.5; 3 * 499 / 500 = 2.994
    assert alpha_ramp(t) == pytest.approx(expected)


def test_alpha_ramp_refuses_an_empty_ramp():
    with pytest.raises(ValueError, match="t2 must be after t1"):
        alpha_ramp(10, t1=100, t2=100)


def test_entropy_by_hand():
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    # 0; log 2; -0.9 ln 0.9 - 0.1 ln 0.1 = 0.094824 + 0.230259
    assert entropy(probs).tolist() == pytest.approx([0.0, math.log(2), 0.325083], abs=1e-5)


def test_entropy_loss_is_the_mean_entropy_of_the_softmax():
    logits = torch.tensor([[0.0, 0.0], [math.log(9), 0.0]])  # probabilities (0.5, 0.5) and (0.9, 0.1)
    assert entropy_loss(logits).item() == pytest.approx((math.log(2) + 0.325083) / 2, abs=1e-5)


def test_pseudo_label_loss_takes_the_argmax_as_a_fixed_target():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = pseudo_label_loss(logits)
    # targets 0 and 1: mean of log(1 + e^-2) = 0.126928 and log(1 + e^-1) = 0.313262
    assert loss.item() == pytest.approx((0.126928 + 0.313262) / 2, abs=1e-5)
    loss.backward()
    # the gradient of a cross-entropy with a fixed target: (softmax - one-hot) / batch size
    expected = (torch.softmax(logits.detach(), 1) - F.one_hot(torch.tensor([0, 1]), 2)) / 2
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_both_losses_fall_as_a_two_class_prediction_grows_surer():
    margins = torch.linspace(0, 6, 13)
    logits = torch.stack([margins, torch.zeros_like(margins)], 1)
    per_point = [pseudo_label_loss(row[None]).item() for row in logits]
    per_point_entropy = entropy(torch.softmax(logits, 1)).tolist()
    assert all(a > b for a, b in zip(per_point, per_point[1:]))
    assert all(a > b for a, b in zip(per_point_entropy, per_point_entropy[1:]))
