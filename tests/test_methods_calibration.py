"""helpers.methods.calibration: temperature scaling recovers a known temperature and keeps the argmax."""
from __future__ import annotations

import pytest
import torch

from helpers.methods.calibration import apply_temperature, fit_temperature


def _overconfident(true_temperature: float, n: int = 20000, seed: int = 0):
    """Labels drawn from softmax(z / T0): a model that outputs z is miscalibrated by exactly T0."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 2, generator=g) * 4
    labels = torch.multinomial(torch.softmax(logits / true_temperature, 1), 1, generator=g).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fit_recovers_the_temperature(true_temperature):
    logits, labels = _overconfident(true_temperature)
    assert fit_temperature(logits, labels) == pytest.approx(true_temperature, rel=0.08)


def test_temperature_changes_confidence_not_the_argmax():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 3.5]])
    softer = apply_temperature(logits, 2.0)
    assert torch.equal(softer.argmax(1), logits.argmax(1))
    assert (softer.max(1).values < torch.softmax(logits, 1).max(1).values).all()
    # By hand: softmax([1, 0]) for the first row at T = 2.
    assert softer[0, 0].item() == pytest.approx(1 / (1 + torch.exp(torch.tensor(-1.0)).item()))


def test_bad_inputs():
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(torch.zeros(1, 2), 0.0)
    with pytest.raises(ValueError, match="as many labels"):
        fit_temperature(torch.zeros(3, 2), torch.zeros(2))
