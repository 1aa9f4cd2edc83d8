"""Your own images: a labelled folder (one subfolder per class), an unlabelled folder, a CSV out.

Unlike the course's data, the unlabelled pool has no hidden labels and its files are named by
the user, so every image keeps its path (the CSV's ``path`` column) and a hash of its bytes
(the same file in both folders is worth a warning). Decoded tensors go through
``helpers.data``'s cache, keyed by the files' fingerprint and the image size, so a second run
on the same folders decodes nothing. The memory check runs before any decoding: a pool too big
for memory is refused with its size and the fix, instead of the machine starting to swap.

Labelling a folder with a saved model needs no pool in memory at all: ``decode_chunks`` hands
out the images a few thousand at a time, so `pseudo_labeling.py predict` streams any number of
them to its CSV with the memory of one chunk. Files are decoded by a pool of threads: Pillow lets
go of the GIL while it decodes and resizes, so threads decode in parallel without the worker
processes (and their copies of torch) that a DataLoader would start.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from . import data
from .data import DataError
from .io import atomic_write, check_writable_dir

MIN_SIZE, MAX_SIZE = 8, 256
VAL_FRACTION = 0.1   # of each class, held out for validation when there is no --test folder
MEMORY_SHARE = 0.5   # decoded images may take this share of the available memory; training needs the rest
CSV_COLUMNS = ("path", "pseudo_label", "confidence", "selected", "first_selected_round")
RUN_FILES = ("final_model.pt", "metrics.json")  # their presence marks a folder that holds a run
CHUNK_BYTES = 128 * 2 ** 20  # decoded images per chunk when labelling a folder (two are in memory at once)
MAX_CHUNK = 4096             # images per chunk at most, however small they are
DECODE_THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass
class Folder:
    """One folder's images, decoded, with what was left out and why."""

    x: torch.Tensor             # N x 3 x S x S, uint8
    y: torch.Tensor | None      # class index per image; None for an unlabelled folder
    classes: tuple[str, ...]    # empty for an unlabelled folder
    paths: list[str]            # relative to the folder, POSIX slashes
    hashes: list[str]           # sha256 of each file's bytes
    root: Path
    n_not_images: int           # files skipped because their suffix is not an image's
    corrupt: list[str]          # image files that cannot be decoded (left out with skip_corrupt)


def available_memory() -> int:
    """Bytes the system can still hand out: Linux's MemAvailable (free memory plus caches it can
    drop), else free pages; unknown counts as unlimited rather than refusing a run."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 ** 62


def _size(n_bytes: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n_bytes < 1000:
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} TB"


@dataclass
class Listing:
    """A folder's image files, found before anything is decoded (to check memory first)."""

    root: Path
    what: str                       # the command-line flag that named it, for messages
    classes: list[str]              # empty for an unlabelled folder
    files: list[tuple[Path, int]]   # (path, class index; 0 when unlabelled)
    n_not_images: int


def check_memory(listings: Sequence[Listing], image_size: int) -> None:
    """Refuse, before decoding, folders whose uint8 tensors (N x 3 x S x S bytes) would not fit."""
    n = sum(len(listing.files) for listing in listings)
    need, limit = n * 3 * image_size ** 2, int(MEMORY_SHARE * available_memory())
    if need > limit:
        fits = int((limit / (3 * max(n, 1))) ** 0.5)
        fix = (f"pass a smaller --image-size (at most {fits})" if fits >= MIN_SIZE
               else "use fewer images (split the unlabelled folder into parts)")
        parts = ", ".join(f"{len(listing.files)} in {listing.what}" for listing in listings)
        raise DataError(f"the {n} images ({parts}) would take {_size(need)} decoded at {image_size} px, more "
                        f"than the {_size(limit)} this machine can spare (half its available memory); {fix}")


def _list_labeled(root: Path) -> tuple[list[str], list[tuple[Path, int]], int]:
    classes, files, skipped = data._list_image_folder(root)
    if len(classes) < 2:
        raise DataError(f"{root} has only one class folder ({classes[0]}/); pseudo-labeling needs at least two "
                        "classes: add one subfolder of images per class")
    counts = np.bincount([label for _, label in files], minlength=len(classes))
    for name, count in zip(classes, counts):
        if count == 0:
            raise DataError(f"the class folder {root / name} has no images; put images in it or remove it")
    return classes, files, len(skipped)


def _list_unlabeled(root: Path) -> tuple[list[tuple[Path, int]], int]:
    """Every image under ``root``, in subfolders too; hidden files and folders (.DS_Store) are ignored."""
    if not root.is_dir():
        raise DataError(f"folder not found: {root}; pass the folder that holds the unlabelled images")
    files, n_other = [], 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix.lower() in data.IMAGE_SUFFIXES:
            files.append((path, 0))
        else:
            n_other += 1
    if not files:
        raise DataError(f"no images in {root} (looked for {', '.join(sorted(data.IMAGE_SUFFIXES))} files, "
                        "subfolders included); put the unlabelled images there")
    return files, n_other


def list_folder(path: str | os.PathLike, *, labeled: bool, what: str) -> Listing:
    """A labelled folder (one subfolder per class, two or more) or an unlabelled one (images
    anywhere below it). ``what`` names the folder in messages, e.g. ``"--unlabeled"``."""
    root = Path(path).expanduser().resolve()
    if labeled:
        classes, files, n_other = _list_labeled(root)
    else:
        (files, n_other), classes = _list_unlabeled(root), []
    return Listing(root, what, classes, files, n_other)


def _read(file: Path, image_size: int, hashed: bool) -> tuple[np.ndarray, str] | None:
    """One file decoded (and the sha256 of its bytes when ``hashed``); None when unreadable."""
    try:
        raw = file.read_bytes()
        return data._decode(io.BytesIO(raw), image_size), (hashlib.sha256(raw).hexdigest() if hashed else "")
    except _UNREADABLE:
        return None


def _collect(root: Path, files: list[tuple[Path, int]], decoded, image_size: int) -> dict:
    """Stack the decoded files into one uint8 tensor; unreadable files are listed, not raised,
    so that the cache also serves a later run with --skip-corrupt."""
    arrays, labels, paths, hashes, corrupt = [], [], [], [], []
    for (file, label), result in zip(files, decoded):
        relative = file.relative_to(root).as_posix()
        if result is None:
            corrupt.append(relative)
            continue
        arrays.append(result[0])
        labels.append(label)
        paths.append(relative)
        hashes.append(result[1])
    x = (torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous() if arrays
         else torch.zeros(0, 3, image_size, image_size, dtype=torch.uint8))
    return {"x": x, "y": torch.tensor(labels, dtype=torch.int64), "paths": paths, "hashes": hashes,
            "corrupt": corrupt}


def _decode_all(root: Path, files: list[tuple[Path, int]], image_size: int, progress: bool) -> dict:
    """Decode every file once, in threads, hashing the same bytes."""
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        decoded = pool.map(lambda file: _read(file, image_size, True), [f for f, _ in files])
        bar = tqdm(decoded, total=len(files), desc=f"decoding {root.name}", unit="image", disable=not progress,
                   delay=1, leave=False)
        return _collect(root, files, list(bar), image_size)


def chunk_size(image_size: int) -> int:
    """Images per chunk of ``decode_chunks``: ``CHUNK_BYTES`` of uint8 images, at most ``MAX_CHUNK``."""
    return max(1, min(MAX_CHUNK, CHUNK_BYTES // (3 * image_size ** 2)))


def decode_chunks(listing: Listing, image_size: int, chunk: int | None = None) -> Iterator[dict]:
    """The listed images, decoded a chunk at a time (``x``, ``paths``, ``corrupt`` as ``_collect``
    gives them, no hashes, no cache): the threads decode the next chunk while the caller works on
    this one, and memory holds two chunks, never the folder."""
    files, chunk = listing.files, chunk or chunk_size(image_size)
    parts = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    pool = ThreadPoolExecutor(DECODE_THREADS)

    def submit(k: int) -> list:
        return [pool.submit(_read, file, image_size, False) for file, _ in parts[k]] if k < len(parts) else []
    try:
        ahead = submit(0)
        for k, part in enumerate(parts):
            current, ahead = ahead, submit(k + 1)  # queued behind this chunk's files: decoded while it is used
            decoded = _collect(listing.root, part, [f.result() for f in current], image_size)
            current = None  # the futures hold the chunk's arrays too; the stacked tensor is enough
            yield decoded
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # a caller that stops early leaves nothing running


def corrupt_error(corrupt: Sequence[str], what: str, root: Path) -> DataError:
    """The error for image files that cannot be decoded, naming the first few."""
    names = ", ".join(corrupt[:5]) + (" ..." if len(corrupt) > 5 else "")
    return DataError(f"{len(corrupt)} image file(s) in {what} {root} cannot be decoded: {names}; delete or "
                     "replace them, or pass --skip-corrupt to leave them out")


def load_folder(listing: Listing, image_size: int, *, skip_corrupt: bool = False, progress: bool = True) -> Folder:
    """Decode a listed folder to RGB uint8 tensors of ``image_size`` pixels (any mode, any size:
    converted and centre-cropped), from the cache when the same files were decoded before."""
    root, what, labeled = listing.root, listing.what, bool(listing.classes)
    key = data._fingerprint(root, listing.files, {"size": image_size, "layout": "own-data"})
    cache_file = data._cache_path(f"{root.name or 'images'}-own", key)
    decoded = data._load_cache(cache_file)
    if decoded is None:
        decoded = _decode_all(root, listing.files, image_size, progress)
        data._save_cache(cache_file, decoded)
    corrupt = list(decoded["corrupt"])
    if corrupt and not skip_corrupt:
        raise corrupt_error(corrupt, what, root)
    if len(decoded["paths"]) == 0:
        raise DataError(f"none of the images in {what} {root} can be decoded; check that they are images")
    y = decoded["y"] if labeled else None
    if labeled:
        for name, count in zip(listing.classes, torch.bincount(y, minlength=len(listing.classes)).tolist()):
            if count == 0:
                raise DataError(f"the class folder {root / name} has no readable images; add some or remove it")
    return Folder(decoded["x"], y, tuple(listing.classes), list(decoded["paths"]), list(decoded["hashes"]), root,
                  listing.n_not_images, corrupt)


def check_same_classes(labeled: Listing, test: Listing) -> None:
    """The test folder must name the same classes, or its labels would mean other things."""
    if list(test.classes) != list(labeled.classes):
        raise DataError(f"the class folders of --test ({', '.join(test.classes)}) differ from those of --labeled "
                        f"({', '.join(labeled.classes)}); give both folders the same class subfolders")


def duplicates(labeled: Folder, unlabeled: Folder) -> list[str]:
    """Unlabelled files with the same bytes as a labelled one (their paths in the unlabelled folder)."""
    known = set(labeled.hashes)
    return [p for p, h in zip(unlabeled.paths, unlabeled.hashes) if h in known]


def holdout_split(y: torch.Tensor, classes: Sequence[str], seed: int,
                  fraction: float = VAL_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices: ``fraction`` of each class, at least one image, held out,
    so that each round can be scored when the user has no test folder."""
    rng, val = np.random.default_rng(seed), []
    labels = y.numpy()
    for c, name in enumerate(classes):
        members = np.flatnonzero(labels == c)
        if len(members) < 2:
            raise DataError(f"class {name} has only {len(members)} labelled image(s); add at least one more so "
                            "that one can be held out for validation, or pass a --test folder")
        val.append(rng.permutation(members)[:max(1, round(fraction * len(members)))])
    val_idx = np.sort(np.concatenate(val))
    return torch.from_numpy(np.setdiff1d(np.arange(len(labels)), val_idx)), torch.from_numpy(val_idx)


def first_selected_round(masks: Sequence[torch.Tensor], accepted: Sequence[bool], n: int) -> torch.Tensor:
    """Per image, the first round whose kept model trained on its pseudo-label, -1 if none
    (scikit-learn's ``labeled_iter_``); rounds the guard rejected do not count."""
    first = torch.full((n,), -1, dtype=torch.int64)
    for r, (mask, kept) in enumerate(zip(masks, accepted), start=1):
        if kept:
            first[(first < 0) & mask] = r
    return first


def csv_rows(paths: Sequence[str], probs: torch.Tensor, classes: Sequence[str], threshold: float,
             first_round: torch.Tensor | None = None) -> Iterator[tuple]:
    """One row per image: path, pseudo-label (class name), confidence (max softmax probability),
    selected (confidence > threshold), first_selected_round. Without ``first_round`` (a saved
    model labelling a folder, no rounds) it is 0 for a selected image and -1 otherwise."""
    confidence, labels = probs.max(dim=1)
    selected = confidence > threshold
    if first_round is None:
        first_round = torch.where(selected, 0, -1)
    for path, conf, label, sel, first in zip(paths, confidence.tolist(), labels.tolist(), selected.tolist(),
                                             first_round.tolist()):
        yield path, classes[label], f"{conf:.4f}", int(sel), int(first)


def write_csv(path: str | os.PathLike, rows: Iterator[tuple]) -> Path:
    """Write the pseudo-label CSV atomically: a failure half-way leaves any earlier file whole."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(rows)
    return atomic_write(path, write)


def check_unused_output(folder: Path, overwrite: bool) -> None:
    """Refuse to write over a previous run unless asked to: its model and metrics would be lost."""
    used = [name for name in RUN_FILES if (Path(folder) / name).exists()]
    if used and not overwrite:
        raise FileExistsError(f"{folder} already holds a previous run ({used[0]}); pass --overwrite to replace "
                              "it, or choose another --output folder")


@contextmanager
def staged_outputs(folder: str | os.PathLike) -> Iterator[Path]:
    """A hidden staging folder inside ``folder`` for a run's files, moved into ``folder`` only
    when all of them are written: a run that fails half-way leaves the previous run's files as
    they were, not half old and half new. Each file is written atomically, each move is a rename."""
    folder = check_writable_dir(folder)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
    try:
        yield staging
        for file in sorted(staging.iterdir()):
            os.replace(file, folder / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
