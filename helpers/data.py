"""Images in, uint8 tensors out: the cat/dog data, a user's own folder, the split, the cache.

Images are decoded once and cached under ``data/cache/`` as tensors, keyed by a fingerprint
of their source (file names, sizes and modification times), so a changed folder is never
served stale. Everything downstream works on whole-dataset tensors.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from . import config
from .io import atomic_write

CLASSES = ("cat", "dog")
CIFAR_CLASS_IDS = {"cat": 3, "dog": 5}  # positions in CIFAR-10's ten classes
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}
CACHE_VERSION = 1
ENV_VAR = "CATDOG_DATA"


class DataError(ValueError):
    """The data is missing or malformed; the message says what to do."""


class Images(NamedTuple):
    x: torch.Tensor  # N x 3 x S x S, uint8
    y: torch.Tensor  # N, int64
    classes: tuple[str, ...]


@dataclass(frozen=True)
class CatsDogs:
    """The course's data: 10,000 training and 2,000 test images of cats and dogs."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __repr__(self) -> str:
        return (f"CatsDogs(train={tuple(self.x_train.shape)}, test={tuple(self.x_test.shape)}, "
                f"classes={self.classes}, source={self.source!r})")


class Split(NamedTuple):
    labeled: torch.Tensor    # indices into the training images
    unlabeled: torch.Tensor  # indices whose labels are hidden from training


# ---------------------------------------------------------------- a folder of images
def _list_image_folder(root: Path) -> tuple[list[str], list[tuple[Path, int]], list[Path]]:
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}. Pass the path of a folder that has "
                        "one subfolder per class (e.g. cat/ and dog/) with images inside.")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root} has no class subfolders. Put the images of each class in its "
                        f"own subfolder, e.g. {root}/cat/*.jpg and {root}/dog/*.jpg.")
    files, skipped = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if not path.is_file():
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES:
                files.append((path, label))
            else:
                skipped.append(path)
    if not files:
        raise DataError(f"no images found under {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    return classes, files, skipped


def _fingerprint(root: Path, files: list[tuple[Path, int]], extra: dict) -> str:
    digest = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "root": str(root), **extra}).encode())
    for path, label in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{label}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def _cache_path(name: str, key: str) -> Path:
    return config.DATA_DIR / "cache" / f"{name}-{key}.pt"


def _load_cache(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception:  # a damaged cache is rebuilt, never trusted
        warnings.warn(f"ignoring unreadable cache file {path}; it will be rebuilt", stacklevel=3)
        return None


def _save_cache(path: Path, tensors: dict) -> None:
    try:
        atomic_write(path, lambda tmp: torch.save(tensors, tmp))
    except OSError as err:  # a read-only data folder only costs the speed-up
        warnings.warn(f"could not write the cache {path} ({err}); images will be decoded again next time",
                      stacklevel=3)


def _decode(path: Path, image_size: int) -> np.ndarray:
    with Image.open(path) as img:
        img = img.convert("RGB")  # grayscale, palette, RGBA, CMYK -> 3 channels
        if img.size != (image_size, image_size):
            # Scale the shorter side to image_size, then crop the centre: no distortion.
            img = ImageOps.fit(img, (image_size, image_size), method=Image.Resampling.BICUBIC)
        return np.asarray(img, dtype=np.uint8)


def load_image_folder(path: str | os.PathLike, image_size: int = 32, *, on_corrupt: str = "raise",
                      cache: bool = True) -> Images:
    """Load a folder with one subfolder per class into uint8 tensors of ``image_size`` pixels.

    Images of any size and colour mode are converted to RGB and centre-cropped to a square.
    Files that are not images are skipped with a warning. A file that claims to be an image but
    cannot be decoded is reported by name: an error by default, or skipped with a warning when
    ``on_corrupt="skip"``.
    """
    if on_corrupt not in ("raise", "skip"):
        raise ValueError(f"on_corrupt must be 'raise' or 'skip', not {on_corrupt!r}")
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be a whole number of pixels >= 8, not {image_size!r}")
    root = Path(path).expanduser().resolve()
    classes, files, skipped = _list_image_folder(root)
    if skipped:
        names = ", ".join(p.name for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(f"skipped {len(skipped)} file(s) that are not images in {root}: {names}", stacklevel=2)

    key = _fingerprint(root, files, {"size": image_size, "on_corrupt": on_corrupt})
    cache_file = _cache_path(root.name or "images", key)
    cached = _load_cache(cache_file) if cache else None
    if cached is not None:
        return Images(cached["x"], cached["y"], tuple(cached["classes"]))

    arrays, labels, corrupt = [], [], []
    for file, label in files:
        try:
            arrays.append(_decode(file, image_size))
            labels.append(label)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            corrupt.append((file, err))
    if corrupt:
        listing = "; ".join(f"{f.relative_to(root)} ({type(e).__name__})" for f, e in corrupt[:5])
        if on_corrupt == "raise":
            raise DataError(f"{len(corrupt)} image file(s) in {root} cannot be decoded: {listing}. "
                            "Delete or replace them, or pass on_corrupt='skip' to leave them out.")
        warnings.warn(f"skipped {len(corrupt)} corrupt image(s): {listing}", stacklevel=2)
    if not arrays:
        raise DataError(f"none of the images under {root} could be decoded.")

    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels, dtype=torch.int64)
    if cache:
        _save_cache(cache_file, {"x": x, "y": y, "classes": list(classes)})
    return Images(x, y, tuple(classes))


# ---------------------------------------------------------------- CIFAR-10 batches
def _read_cifar_batches(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read CIFAR-10's python batches; keep cats and dogs, relabelled 0 (cat) and 1 (dog)."""
    parts = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    keep = [CIFAR_CLASS_IDS[c] for c in CLASSES]
    out = {}
    for split, names in parts.items():
        xs, ys = [], []
        for name in names:
            file = folder / name
            if not file.exists():
                raise DataError(f"{file} is missing: {folder} is not a complete CIFAR-10 python "
                                "folder. Delete it and the course will download CIFAR-10 again.")
            with open(file, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels = np.asarray(batch[b"labels"])
            mask = np.isin(labels, keep)
            xs.append(data[mask])
            ys.append(np.searchsorted(keep, labels[mask]))
        out[split] = (np.concatenate(xs), np.concatenate(ys))
    return out


def _export_image_folder(arrays: dict[str, tuple[np.ndarray, np.ndarray]], target: Path) -> None:
    """Write the images as PNG (lossless) in ImageFolder layout, then move the folder in place."""
    staging = target.with_name(target.name + ".partial")
    for split, (x, y) in arrays.items():
        counters = {c: 0 for c in range(len(CLASSES))}
        for image, label in zip(x, y):
            folder = staging / split / CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{counters[label]:04d}.png")
            counters[label] += 1
    os.replace(staging, target)


def _download_cifar10(root: Path) -> Path:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    print(f"Downloading CIFAR-10 (about 170 MB) into {root} - only this once.")
    try:
        download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    except Exception as err:
        raise DataError(
            f"could not download CIFAR-10 ({type(err).__name__}: {err}). Check your internet "
            f"connection, or put the cat/dog images in {root / 'cifar10-catdog'} "
            f"(train/cat, train/dog, test/cat, test/dog) or set {ENV_VAR} to such a folder."
        ) from None
    return root / CIFAR10.base_folder


# ---------------------------------------------------------------- the course's data
def _from_image_folder(root: Path, source: str) -> CatsDogs:
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DataError(f"{root} has no {split}/ folder. Expected {root}/train/<class>/ and "
                            f"{root}/test/<class>/, one subfolder per class.")
    train = load_image_folder(root / "train", 32)
    test = load_image_folder(root / "test", 32)
    if train.classes != test.classes:
        raise DataError(f"train and test classes differ in {root}: {train.classes} vs {test.classes}")
    return CatsDogs(train.x, train.y, test.x, test.y, train.classes, source)


def _from_cifar_batches(folder: Path, export: bool) -> CatsDogs:
    arrays = _read_cifar_batches(folder)
    target = config.DATA_DIR / "cifar10-catdog"
    if export and not target.exists():
        _export_image_folder(arrays, target)
        return _from_image_folder(target, f"exported from CIFAR-10 batches to {target}")
    t = {k: (torch.from_numpy(x.copy()), torch.from_numpy(y).long()) for k, (x, y) in arrays.items()}
    return CatsDogs(*t["train"], *t["test"], CLASSES, f"CIFAR-10 batches in {folder}")


def _is_cifar_batches(folder: Path) -> bool:
    return (folder / "data_batch_1").exists()


def load_cats_dogs(path: str | os.PathLike | None = None, *, download: bool = True) -> CatsDogs:
    """The 10,000 training and 2,000 test images of cats and dogs, as uint8 tensors.

    Sources, first found wins: ``path`` or the ``CATDOG_DATA`` environment variable (an
    ImageFolder with train/ and test/, or a CIFAR-10 python folder); ``data/cifar10-catdog``;
    ``../shared/data/cifar10-catdog``; CIFAR-10 python batches under ``data/``; otherwise
    CIFAR-10 is downloaded, and its cats and dogs are exported to ``data/cifar10-catdog``.
    """
    explicit = path if path is not None else os.environ.get(ENV_VAR) or None
    if explicit is not None:
        folder = Path(explicit).expanduser().resolve()
        if not folder.is_dir():
            how = f"the {ENV_VAR} environment variable" if path is None else "the path given"
            raise DataError(f"{folder} (from {how}) is not a folder. Point it at a folder with "
                            "train/cat, train/dog, test/cat, test/dog, or at CIFAR-10's python batches.")
        if _is_cifar_batches(folder):
            return _from_cifar_batches(folder, export=False)
        return _from_image_folder(folder, f"{folder}")

    local = config.DATA_DIR / "cifar10-catdog"
    if local.is_dir():
        return _from_image_folder(local, f"{local}")
    if config.SHARED_DATA.is_dir():
        return _from_image_folder(config.SHARED_DATA, f"{config.SHARED_DATA}")
    batches = config.DATA_DIR / "cifar-10-batches-py"
    if _is_cifar_batches(batches):
        return _from_cifar_batches(batches, export=True)
    if not download:
        raise DataError(f"no cat/dog images found (looked in {local} and {config.SHARED_DATA}) and "
                        "download=False. Call load_cats_dogs() with download=True once.")
    return _from_cifar_batches(_download_cifar10(config.DATA_DIR), export=True)


# ---------------------------------------------------------------- splits
def _stratified_take(labels: np.ndarray, pool: np.ndarray, n_take: int, rng) -> np.ndarray:
    classes = np.unique(labels[pool])
    quota = np.full(len(classes), n_take // len(classes))
    quota[: n_take % len(classes)] += 1  # any remainder goes to the first classes
    taken = []
    for cls, k in zip(classes, quota):
        members = pool[labels[pool] == cls]
        if k > len(members):
            raise ValueError(f"asked for {k} images of class {cls} but there are only {len(members)}; "
                             "ask for fewer labelled images")
        taken.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(taken))


def split_labeled_unlabeled(labels: torch.Tensor, n_labeled: int = 2000, seed: int = config.SEED) -> Split:
    """Stratified, deterministic split: ``n_labeled`` labelled (equal per class), the rest unlabelled.

    The same labels and seed always give the same indices. The unlabelled images keep their
    true labels in the dataset, but only to grade pseudo-labels, never to train.
    """
    y = np.asarray(labels)
    if not isinstance(n_labeled, (int, np.integer)) or n_labeled < len(np.unique(y)):
        raise ValueError(f"n_labeled must be a whole number of at least one per class, not {n_labeled!r}")
    if n_labeled > len(y):
        raise ValueError(f"n_labeled={n_labeled} is more than the {len(y)} training images; "
                         f"use at most {len(y)}")
    rng = np.random.default_rng(seed)
    labeled = _stratified_take(y, np.arange(len(y)), int(n_labeled), rng)
    unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
    return Split(torch.from_numpy(labeled), torch.from_numpy(unlabeled))


def stratified_subset(labels: torch.Tensor, n: int, seed: int = config.SEED) -> torch.Tensor:
    """The sorted indices of ``n`` of ``labels``'s rows, equal per class, drawn at random with ``seed``:
    the same labels, ``n`` and seed always give the same indices."""
    y = np.asarray(labels)
    if not isinstance(n, (int, np.integer)) or not len(np.unique(y)) <= n <= len(y):
        raise ValueError(f"n must be a whole number from one per class to {len(y)}, not {n!r}")
    return torch.from_numpy(_stratified_take(y, np.arange(len(y)), int(n), np.random.default_rng(seed)))


def split_train_val(indices: torch.Tensor, labels: torch.Tensor, n_val: int,
                    seed: int = config.SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """Carve a stratified validation part of ``n_val`` images out of ``indices``."""
    y = np.asarray(labels)
    pool = np.asarray(indices)
    if not 0 < n_val < len(pool):
        raise ValueError(f"n_val must be between 1 and {len(pool) - 1}, not {n_val}")
    val = _stratified_take(y, pool, n_val, np.random.default_rng(seed + 1))
    train = np.setdiff1d(pool, val)
    return torch.from_numpy(train), torch.from_numpy(val)


def random_per_class(labels: torch.Tensor, k: int, seed: int = config.SEED) -> torch.Tensor:
    """Indices of ``k`` images of each class (fewer where a class has fewer), drawn at random with
    a seeded generator, class by class. For galleries and examples: the pool is stored cats first,
    so its first ``k`` images would all be cats."""
    generator = torch.Generator().manual_seed(seed)
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    members = [(labels == c).nonzero().squeeze(1) for c in range(num_classes)]
    picks = [m[torch.randperm(len(m), generator=generator)[:k]] for m in members]
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)
