"""helpers.augment: batched crops, flips, the strong policy, normalisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers.augment import cutout, normalize, random_crop, random_flip, strong_augment, weak_augment


def _batch(n=16, size=32, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed)).to(torch.uint8)


def test_crop_is_a_window_of_the_reflect_padded_image():
    x = _batch(8)
    out = random_crop(x, padding=4, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = F.pad(x.float(), (4, 4, 4, 4), mode="reflect")
    for image, crop in zip(padded, out.float()):
        windows = [(dy, dx) for dy in range(9) for dx in range(9)
                   if torch.equal(image[:, dy:dy + 32, dx:dx + 32], crop)]
        assert windows, "a crop is not a window of the padded image"


def test_crop_without_padding_is_the_identity():
    x = _batch(4)
    assert torch.equal(random_crop(x, padding=0), x)


def test_flip_mirrors_some_images_and_keeps_the_others():
    x = _batch(64)
    out = random_flip(x, generator=torch.Generator().manual_seed(0))
    same = [torch.equal(a, b) for a, b in zip(out, x)]
    mirrored = [torch.equal(a, b.flip(2)) for a, b in zip(out, x)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 10 < sum(mirrored) < 54  # about half, not none or all


def test_weak_augment_is_reproducible_with_a_generator():
    x = _batch(8)
    a = weak_augment(x, torch.Generator().manual_seed(3))
    b = weak_augment(x, torch.Generator().manual_seed(3))
    c = weak_augment(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_strong_augment_shapes_and_range():
    x = _batch(64)
    out = strong_augment(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 255
    changed = (out - x.float()).abs().flatten(1).mean(1) > 1
    assert changed.all()  # cutout alone changes every image


def test_strong_augment_applies_operations_beyond_the_weak_view_and_cutout(monkeypatch):
    import helpers.augment as augment
    x = _batch(64)
    weak = weak_augment(x, torch.Generator().manual_seed(5)).float()  # strong_augment starts with this draw
    monkeypatch.setattr(augment, "cutout", lambda x, size, generator=None: x)
    strong = strong_augment(x, generator=torch.Generator().manual_seed(5))
    assert ((strong - weak).abs().flatten(1).mean(1) > 1).float().mean() > 0.6


def test_cutout_blanks_one_square_per_image():
    x = torch.zeros(5, 3, 32, 32)
    out = cutout(x, 8, generator=torch.Generator().manual_seed(0))
    blanked = (out[:, 0] != 0).flatten(1).sum(1)
    assert ((blanked > 0) & (blanked <= 81)).all()  # at most a 9 x 9 square, clipped at the border


def test_normalize_gives_roughly_standard_values():
    x = _batch(256)
    z = normalize(x)
    assert z.dtype == torch.float32
    assert abs(z.mean()) < 0.3 and 1.0 < z.std() < 1.6  # uniform pixels are wider than CIFAR's
    assert torch.allclose(normalize(x.float()), z)
