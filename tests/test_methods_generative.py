"""The conditional VAE of notebook 14, checked against numbers worked out by hand."""
import math

import pytest
import torch

from helpers.methods.generative import (ConditionalVAE, kl_to_standard_normal, nearest_neighbours, reparameterize,
                                        sample, train_cvae, vae_loss)


def test_kl_to_standard_normal_by_hand():
    # the prior itself: nothing to pay
    assert kl_to_standard_normal(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0
    # means 1 and 2, unit variance: 1/2 * (1 + 4) = 2.5
    assert kl_to_standard_normal(torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)).item() == pytest.approx(2.5)
    # mean 0, variance 4: 1/2 * (4 - 1 - log 4) = 0.8069
    kl = kl_to_standard_normal(torch.zeros(1, 1), torch.tensor([[math.log(4.0)]]))
    assert kl.item() == pytest.approx(0.5 * (3 - math.log(4.0)))
    # one value per row
    assert kl_to_standard_normal(torch.zeros(5, 2), torch.zeros(5, 2)).shape == (5,)


def test_reparameterize_scales_the_noise_by_the_standard_deviation():
    # mean 1, variance 4 (standard deviation 2), noise 0.5: 1 + 2 * 0.5 = 2
    z = reparameterize(torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]]), torch.tensor([[0.5]]))
    assert z.item() == pytest.approx(2.0)


def test_vae_loss_by_hand():
    x = torch.full((1, 3, 2, 2), 0.5)
    recon = torch.full((1, 3, 2, 2), 0.4)
    # 12 pixels off by 0.1: squared error 0.12, over 2 sigma^2 = 0.02 -> 6.0; KL of means (1, 2): 2.5
    loss, reconstruction, kl = vae_loss(x, recon, torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2), sigma=0.1)
    assert reconstruction.item() == pytest.approx(6.0)
    assert kl.item() == pytest.approx(2.5)
    assert loss.item() == pytest.approx(8.5)
    # a noisier decoder (sigma 0.2) pays a quarter for the same pixels
    assert vae_loss(x, recon, torch.zeros(1, 2), torch.zeros(1, 2), sigma=0.2)[1].item() == pytest.approx(1.5)


def test_the_vae_maps_images_and_labels_to_images_of_the_same_size():
    vae = ConditionalVAE(num_classes=3, latent=4, width=4, image_size=16)
    x, y = torch.rand(5, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1])
    recon, mean, log_var = vae(x, y, torch.zeros(5, 4))
    assert recon.shape == x.shape and mean.shape == log_var.shape == (5, 4)
    assert 0.0 <= recon.min() and recon.max() <= 1.0
    with pytest.raises(ValueError, match="multiple of 8"):
        ConditionalVAE(image_size=12)


def test_sample_is_seeded_uint8_and_leaves_the_global_random_state_alone():
    vae = ConditionalVAE(num_classes=2, latent=4, width=4, image_size=16).eval()
    labels = torch.tensor([0, 0, 1, 1])
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = sample(vae, labels, seed=7)
    assert torch.rand(1) == before  # sampling drew from its own generator
    assert first.dtype == torch.uint8 and first.shape == (4, 3, 16, 16)
    assert torch.equal(first, sample(vae, labels, seed=7))
    assert not torch.equal(first, sample(vae, labels, seed=8))
    # temperature 0 decodes z = 0: the same image for every request of a class, another for the other class
    cold = sample(vae, labels, seed=7, temperature=0.0)
    assert torch.equal(cold[0], cold[1]) and not torch.equal(cold[0], cold[2])
    assert sample(vae, torch.zeros(0, dtype=torch.long)).shape == (0, 3, 16, 16)


def test_nearest_neighbours_by_hand():
    black, white = torch.zeros(1, 3, 2, 2, dtype=torch.uint8), torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    references = torch.cat([black, white])
    gray = torch.full((1, 3, 2, 2), 200, dtype=torch.uint8)
    index, distance = nearest_neighbours(torch.cat([gray, black]), references)
    assert index.tolist() == [1, 0]
    # every pixel 55 levels from white: root mean square 55 / 255
    assert distance[0].item() == pytest.approx(55 / 255, abs=1e-6)
    assert distance[1].item() == 0.0


def test_the_decoder_uses_the_label_only_when_the_code_does_not_carry_the_class():
    # Class 0 is dark, class 1 bright, each pixel otherwise noise: the label says all there is to
    # say. With a noisy decoder (sigma 1) coding anything in z costs more KL than it saves, the
    # code collapses to the prior and the decoder draws from the label alone. With sigma 0.1
    # (notebook 14's) the code carries the brightness and the decoder leans on it, not on the
    # label: what notebook 14 sees on cats and dogs.
    g = torch.Generator().manual_seed(0)
    dark = torch.randint(0, 60, (32, 3, 16, 16), generator=g, dtype=torch.uint8)
    bright = torch.randint(195, 256, (32, 3, 16, 16), generator=g, dtype=torch.uint8)
    x, y, asked = torch.cat([dark, bright]), torch.tensor([0] * 32 + [1] * 32), torch.tensor([0] * 16 + [1] * 16)
    gaps, kl = {}, {}
    for sigma in (1.0, 0.1):
        vae, history = train_cvae(x, y, 2, epochs=40, latent=2, width=8, batch_size=16, lr=3e-3, sigma=sigma,
                                  seed=0, progress=False)
        assert history["loss"][-1] < 0.5 * history["loss"][0]
        drawn = sample(vae, asked, seed=0).float()
        gaps[sigma], kl[sigma] = (drawn[16:].mean() - drawn[:16].mean()).item(), history["kl"][-1]
        if sigma == 1.0:
            assert drawn[:16].mean() < 60 and drawn[16:].mean() > 195  # each class's own range
    assert kl[1.0] < 0.1 < 1.0 < kl[0.1]  # collapsed code; a code that carries information
    assert gaps[0.1] < 0.5 * gaps[1.0]     # and then the label steers far less


def test_train_cvae_rejects_mismatched_inputs_with_one_clear_line():
    with pytest.raises(ValueError, match="as many labels as images"):
        train_cvae(torch.zeros(4, 3, 16, 16, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), 2)
