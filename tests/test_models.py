"""helpers.models: the CNN's shapes, stored architecture and argument checks."""
from __future__ import annotations

import pytest
import torch

from helpers import make_model


@pytest.mark.parametrize("size", [8, 32, 64, 96])
def test_logits_for_any_image_size(size):
    model = make_model(num_classes=3, width=4).eval()
    assert model(torch.randn(2, 3, size, size)).shape == (2, 3)


def test_architecture_is_recorded_and_width_scales_parameters():
    small, big = make_model(width=8), make_model(width=16)
    assert big.arch == {"num_classes": 2, "width": 16, "dropout": 0.2}
    n = lambda m: sum(p.numel() for p in m.parameters())
    assert n(big) > 3 * n(small)


@pytest.mark.parametrize("kwargs", [dict(num_classes=1), dict(width=0), dict(dropout=1.0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_model(**kwargs)


def test_seeded_initialisation_is_reproducible_and_leaves_global_state_alone():
    state = torch.random.get_rng_state()
    a, b, c = make_model(seed=3), make_model(seed=3), make_model(seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    first = lambda m: next(m.parameters())
    assert torch.equal(first(a), first(b)) and not torch.equal(first(a), first(c))
