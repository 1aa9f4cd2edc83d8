"""helpers.data: the cat/dog loader and its sources, the cache, a user's folder, the splits."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

import helpers.data as data_module
from helpers import (DataError, config, course_data, load_cats_dogs, load_image_folder, random_per_class, split_course,
                     split_labeled_unlabeled, split_train_val, stratified_subset)
from conftest import write_image


# ---------------------------------------------------------------- the real data
def test_cats_dogs_shapes_and_balance(catdog):
    assert catdog.x_train.shape == (10000, 3, 32, 32) and catdog.x_train.dtype == torch.uint8
    assert catdog.x_test.shape == (2000, 3, 32, 32) and catdog.x_test.dtype == torch.uint8
    assert catdog.classes == ("cat", "dog")
    assert torch.bincount(catdog.y_train).tolist() == [5000, 5000]
    assert torch.bincount(catdog.y_test).tolist() == [1000, 1000]
    assert 40 < catdog.x_train.float().mean() < 200  # real pixels, not zeros


def test_second_load_comes_from_the_cache(catdog, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("images were decoded again instead of read from the cache")

    monkeypatch.setattr(data_module, "_decode", no_decoding)
    again = load_cats_dogs()
    assert torch.equal(again.x_train, catdog.x_train) and torch.equal(again.y_test, catdog.y_test)


# ---------------------------------------------------------------- splits
def test_split_is_stratified_disjoint_and_complete(catdog):
    split = split_labeled_unlabeled(catdog.y_train, n_labeled=2000, seed=0)
    assert len(split.labeled) == 2000 and len(split.unlabeled) == 8000
    assert torch.bincount(catdog.y_train[split.labeled]).tolist() == [1000, 1000]
    assert torch.bincount(catdog.y_train[split.unlabeled]).tolist() == [4000, 4000]
    both = torch.cat([split.labeled, split.unlabeled])
    assert torch.equal(both.sort().values, torch.arange(10000))


def test_split_is_deterministic_and_depends_on_the_seed(catdog):
    a = split_labeled_unlabeled(catdog.y_train, 2000, seed=0)
    b = split_labeled_unlabeled(catdog.y_train, 2000, seed=0)
    c = split_labeled_unlabeled(catdog.y_train, 2000, seed=1)
    assert torch.equal(a.labeled, b.labeled) and torch.equal(a.unlabeled, b.unlabeled)
    assert not torch.equal(a.labeled, c.labeled)


@pytest.mark.parametrize("n_labeled", [20000, 10001, 0, 1, -5])
def test_split_rejects_impossible_sizes(n_labeled):
    labels = torch.arange(10000) % 2
    with pytest.raises(ValueError, match="n_labeled"):
        split_labeled_unlabeled(labels, n_labeled)


def test_split_with_an_odd_count_and_every_image_labelled():
    labels = torch.arange(100) % 2
    odd = split_labeled_unlabeled(labels, 7)
    assert sorted(torch.bincount(labels[odd.labeled]).tolist()) == [3, 4]
    everything = split_labeled_unlabeled(labels, 100)
    assert len(everything.labeled) == 100 and len(everything.unlabeled) == 0


def test_a_stratified_subset_is_equal_per_class_sorted_and_fixed_by_its_seed():
    labels = torch.arange(1000) % 2
    part = stratified_subset(labels, 101, seed=3)
    assert len(part) == 101 and len(set(part.tolist())) == 101 and torch.equal(part, part.sort().values)
    assert sorted(torch.bincount(labels[part]).tolist()) == [50, 51]
    assert torch.equal(part, stratified_subset(labels, 101, seed=3))
    assert not torch.equal(part, stratified_subset(labels, 101, seed=4))
    assert part.max() > 900  # drawn from the whole set, not its first rows
    for bad in (1, 1001, 2.5):
        with pytest.raises(ValueError, match="n must be a whole number"):
            stratified_subset(labels, bad)


def test_course_data_can_keep_part_of_the_pool_and_of_the_test_set(catdog):
    """Quick mode's split: the same labelled images, a stratified random part of the rest."""
    whole, part = course_data(2000, 0, None, None), course_data(2000, 0, 600, 300)
    assert (len(whole.y_unlabeled_hidden), len(whole.y_test)) == (8000, 2000)
    assert torch.equal(part.x_labeled, whole.x_labeled) and torch.equal(part.y_labeled, whole.y_labeled)
    assert torch.bincount(part.y_unlabeled_hidden).tolist() == [300, 300]
    assert torch.bincount(part.y_test).tolist() == [150, 150]
    pool_rows = {bytes(x.flatten().tolist()) for x in whole.x_unlabeled}
    assert all(bytes(x.flatten().tolist()) in pool_rows for x in part.x_unlabeled[:50])  # rows of the pool...
    assert not torch.equal(part.x_unlabeled[:300], whole.x_unlabeled[:300])  # ...drawn at random, not the first ones
    test_rows = {bytes(x.flatten().tolist()): int(y) for x, y in zip(whole.x_test, whole.y_test)}
    assert all(test_rows.get(bytes(x.flatten().tolist())) == int(y) for x, y in zip(part.x_test[:50], part.y_test[:50]))
    assert (config.POOL_IMAGES, config.TEST_IMAGES) == ((2000, 1000) if config.QUICK else (None, None))


def test_split_course_keeps_at_most_the_sizes_asked_for(catdog):
    """pseudo_labeling.py splits any folder with it: a pool or test set smaller than quick mode's
    sizes is kept whole."""
    small = split_course(catdog, 9000, 0, n_unlabeled=2000, n_test=3000)
    assert (len(small.y_labeled), len(small.y_unlabeled_hidden), len(small.y_test)) == (9000, 1000, 2000)
    assert torch.equal(small.x_test, catdog.x_test)


def test_split_train_val_is_stratified_and_disjoint(catdog):
    split = split_labeled_unlabeled(catdog.y_train, 2000)
    train, val = split_train_val(split.labeled, catdog.y_train, n_val=400)
    assert len(train) == 1600 and len(val) == 400
    assert torch.bincount(catdog.y_train[val]).tolist() == [200, 200]
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert set(train.tolist()) | set(val.tolist()) == set(split.labeled.tolist())
    with pytest.raises(ValueError, match="n_val"):
        split_train_val(split.labeled, catdog.y_train, n_val=2000)


# ---------------------------------------------------------------- a user's own folder
@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "pets"
    write_image(root / "cat" / "big_red.png", np.full((60, 90, 3), (255, 0, 0)))
    write_image(root / "cat" / "gray.jpg", np.full((20, 20), 128), mode="L")
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[..., 2] = 255
    rgba[..., 3] = 255
    write_image(root / "dog" / "rgba.png", rgba, mode="RGBA")
    write_image(root / "dog" / "small.bmp", np.full((8, 8, 3), 200))
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return root


def test_image_folder_reports_a_corrupt_file_by_name(messy_folder, isolated_data):
    with pytest.raises(DataError, match="broken.jpg"):
        load_image_folder(messy_folder, 32)


def test_image_folder_converts_sizes_and_modes(messy_folder, isolated_data):
    with pytest.warns(UserWarning) as caught:
        images = load_image_folder(messy_folder, 24, on_corrupt="skip")
    messages = " ".join(str(w.message) for w in caught)
    assert "notes.txt" in messages and "broken.jpg" in messages
    assert images.classes == ("cat", "dog")
    assert images.x.shape == (4, 3, 24, 24) and images.x.dtype == torch.uint8
    assert images.y.tolist() == [0, 0, 1, 1]
    red, gray, blue, light = images.x.float().mean((2, 3))  # files are sorted per class
    assert red.tolist() == pytest.approx([255, 0, 0], abs=2)
    assert gray.tolist() == pytest.approx([128, 128, 128], abs=2)
    assert blue.tolist() == pytest.approx([0, 0, 255], abs=2)
    assert light.tolist() == pytest.approx([200, 200, 200], abs=2)


def test_image_folder_cache_notices_a_changed_folder(tmp_path, isolated_data):
    root = tmp_path / "two"
    write_image(root / "a" / "0.png", np.zeros((10, 10, 3)))
    write_image(root / "b" / "0.png", np.full((10, 10, 3), 255))
    first = load_image_folder(root, 16)
    write_image(root / "b" / "1.png", np.full((10, 10, 3), 100))
    second = load_image_folder(root, 16)
    assert len(first.y) == 2 and len(second.y) == 3
    assert len(list((isolated_data / "cache").glob("two-*.pt"))) == 2


@pytest.mark.parametrize("make", ["missing", "no_classes", "no_images"])
def test_image_folder_bad_layouts_say_what_to_do(tmp_path, make):
    root = tmp_path / "folder"
    if make == "no_classes":
        root.mkdir()
    elif make == "no_images":
        (root / "cat").mkdir(parents=True)
        (root / "cat" / "readme.txt").write_text("hi")
    expected = {"missing": r"image folder not found: .*\. Pass the path of a folder",
                "no_classes": r"has no class subfolders\. Put the images of each class",
                "no_images": r"no images found under .* \(looked for "}
    with pytest.raises(DataError, match=expected[make]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_image_folder(root)


# ---------------------------------------------------------------- CIFAR-10 batches, offline
def _fake_cifar_batches(folder, seed=0, per_batch=20):
    """A tiny CIFAR-10 python folder: random pixels, labels cycling through all ten classes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    expected = {"train": ([], []), "test": ([], [])}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.permutation(np.arange(per_batch) % 10)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": pixels, b"labels": labels}, f)
        split = "test" if name == "test_batch" else "train"
        for row, label in zip(pixels, labels):
            if label in (3, 5):  # cat, dog
                expected[split][0].append(row.reshape(3, 32, 32))
                expected[split][1].append(0 if label == 3 else 1)
    return {k: (np.stack(x), np.array(y)) for k, (x, y) in expected.items()}


def test_download_path_exports_an_image_folder(isolated_data, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    calls = []

    def fake_download(url, download_root, **kwargs):
        calls.append(url)
        fake_download.expected = _fake_cifar_batches(data_module.Path(download_root) / "cifar-10-batches-py")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download)
    first = load_cats_dogs()
    assert len(calls) == 1
    exported = isolated_data / "cifar10-catdog"
    n_cats = int((fake_download.expected["train"][1] == 0).sum())
    assert len(list((exported / "train" / "cat").glob("*.png"))) == n_cats
    # PNG is lossless: the exported images are exactly CIFAR's pixels, cats first, then dogs.
    x, y = fake_download.expected["train"]
    order = np.argsort(y, kind="stable")
    assert torch.equal(first.x_train, torch.from_numpy(x[order]))
    assert first.y_train.tolist() == y[order].tolist()

    def no_network(*args, **kwargs):
        raise AssertionError("downloaded again although the export exists")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", no_network)
    second = load_cats_dogs()
    assert str(exported) in second.source
    assert torch.equal(second.x_test, first.x_test)


def test_batches_already_under_data_are_used_without_download(isolated_data, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    monkeypatch.setattr(tv_utils, "download_and_extract_archive",
                        lambda *a, **k: pytest.fail("no download expected"))
    expected = _fake_cifar_batches(isolated_data / "cifar-10-batches-py", seed=1)
    loaded = load_cats_dogs()
    assert len(loaded.y_train) == len(expected["train"][1])
    assert (isolated_data / "cifar10-catdog" / "test").is_dir()


def test_failed_download_says_what_to_do(isolated_data, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)
    with pytest.raises(DataError, match="could not download CIFAR-10.*CATDOG_DATA"):
        load_cats_dogs()
    with pytest.raises(DataError, match="download=False"):
        load_cats_dogs(download=False)


def test_explicit_path_must_exist(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="is not a folder"):
        load_cats_dogs(tmp_path / "nowhere")
    monkeypatch.setenv("CATDOG_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="CATDOG_DATA"):
        load_cats_dogs()


def test_explicit_image_folder_of_any_size(tmp_path, isolated_data):
    root = tmp_path / "mine"
    for split in ("train", "test"):
        for label, value in (("cat", 30), ("dog", 220)):
            write_image(root / split / label / "0.png", np.full((50, 70, 3), value))
    loaded = load_cats_dogs(root)
    assert loaded.x_train.shape == (2, 3, 32, 32) and loaded.classes == ("cat", "dog")


# ---------------------------------------------------------------- galleries
def test_random_per_class_draws_k_of_each_class_not_the_first_ones():
    labels = torch.tensor([0] * 50 + [1] * 50)  # stored cats first, as the pool is
    idx = random_per_class(labels, 4, seed=0)
    assert torch.bincount(labels[idx], minlength=2).tolist() == [4, 4]
    assert len(set(idx.tolist())) == 8
    assert idx[:4].tolist() != [0, 1, 2, 3]  # at random, not the first four
    assert torch.equal(idx, random_per_class(labels, 4, seed=0))       # the same seed, the same draw
    assert not torch.equal(idx, random_per_class(labels, 4, seed=1))
    assert torch.bincount(labels[random_per_class(labels[:53], 8)], minlength=2).tolist() == [8, 3]  # a small class
