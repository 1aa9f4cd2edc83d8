"""helpers.methods.domain: the target domain of notebook 13 and AdaBN, checked by hand."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from helpers.augment import normalize
from helpers.methods.domain import adapt_batchnorm, gaussian_kernel, shift_domain


def test_the_gaussian_kernel_is_the_normalised_bell():
    kernel = gaussian_kernel(1.0)
    raw = torch.tensor([math.exp(-2), math.exp(-0.5), 1.0, math.exp(-0.5), math.exp(-2)])
    assert torch.allclose(kernel, raw / raw.sum())
    assert kernel[2].item() == pytest.approx(1 / (1 + 2 * math.exp(-0.5) + 2 * math.exp(-2)))  # 0.4026
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel(0.0)


def test_a_flat_colour_becomes_its_gray_value_in_all_three_channels():
    x = torch.empty(2, 3, 32, 32, dtype=torch.uint8)
    x[:, 0], x[:, 1], x[:, 2] = 100, 150, 200
    target = shift_domain(x)
    # 0.299 * 100 + 0.587 * 150 + 0.114 * 200 = 140.75, rounded
    assert target.dtype == torch.uint8 and target.shape == x.shape
    assert (target == 141).all()


def test_the_finest_detail_is_gone_after_the_shift():
    # A one-pixel checkerboard of black and white. The 5-tap blur keeps sum_i k_i (-1)^i = 0.023
    # of an alternating pattern per direction (0.0005 in 2-D), and every 2 x 2 block averages to
    # 127.5 anyway: away from the border (where the padding repeats the edge) all is mid-gray.
    rows, cols = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    board = (((rows + cols) % 2) * 255).to(torch.uint8).expand(1, 3, 32, 32).contiguous()
    target = shift_domain(board).int()
    assert set(target[:, :, 4:-4, 4:-4].unique().tolist()) <= {127, 128}
    assert target.min() >= 100 and target.max() <= 155  # the border: softened, never black or white
    assert torch.equal(target[:, 0], target[:, 1]) and torch.equal(target[:, 1], target[:, 2])


def test_the_shift_is_deterministic_and_checks_its_input():
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(shift_domain(x), shift_domain(x))
    with pytest.raises(ValueError, match="N x 3"):
        shift_domain(x[:, :1])
    with pytest.raises(ValueError, match="size"):
        shift_domain(x, size=0)


def _norm_model() -> nn.Module:
    model = nn.Sequential(nn.BatchNorm2d(3))
    model[0].running_mean.fill_(5.0)  # the "source" statistics, far from the target's
    model[0].running_var.fill_(9.0)
    return model.eval()


def test_adabn_sets_the_statistics_of_the_normalised_target_images():
    x = torch.randint(0, 256, (40, 3, 4, 4), dtype=torch.uint8)
    model = _norm_model()
    adapted = adapt_batchnorm(model, x, batch_size=40)  # one batch: the statistics are exact
    z = normalize(x)
    mean = z.mean(dim=(0, 2, 3))
    var = z.var(dim=(0, 2, 3), unbiased=True)  # what BatchNorm keeps as its running variance
    assert torch.allclose(adapted[0].running_mean.cpu(), mean, atol=1e-5)  # the copy is on the GPU when there is one
    assert torch.allclose(adapted[0].running_var.cpu(), var, atol=1e-4)
    # The weights are the model's, the model itself is untouched, and the copy is ready to predict.
    assert torch.equal(adapted[0].weight.cpu(), model[0].weight)
    assert (model[0].running_mean == 5.0).all() and (model[0].running_var == 9.0).all()
    assert not adapted.training and adapted[0].momentum == 0.1


def test_adabn_averages_equal_batches_so_the_mean_is_the_whole_sets():
    x = torch.randint(0, 256, (40, 3, 4, 4), dtype=torch.uint8)
    adapted = adapt_batchnorm(_norm_model(), x, batch_size=10)  # four shuffled batches of 10
    assert torch.allclose(adapted[0].running_mean.cpu(), normalize(x).mean(dim=(0, 2, 3)), atol=1e-5)


def test_adabn_needs_a_batch_norm_layer():
    with pytest.raises(ValueError, match="batch-norm"):
        adapt_batchnorm(nn.Sequential(nn.Conv2d(3, 3, 1)), torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


def test_adabn_batch_is_its_own_setting_not_the_prediction_batch(monkeypatch):
    # The running variance averages the batches' variances, so the batch size changes the result:
    # a faster prediction batch must never change AdaBN's statistics (notebook 13's cached runs).
    from helpers import train
    from helpers.methods import domain
    x = torch.randint(0, 256, (2 * domain.ADABN_BATCH, 3, 4, 4), dtype=torch.uint8)
    monkeypatch.setattr(train, "PREDICT_BATCH", 10)
    default = adapt_batchnorm(_norm_model(), x)
    assert torch.equal(default[0].running_var, adapt_batchnorm(_norm_model(), x, batch_size=domain.ADABN_BATCH)[0].running_var)
    assert not torch.allclose(default[0].running_var, adapt_batchnorm(_norm_model(), x, batch_size=10)[0].running_var)
