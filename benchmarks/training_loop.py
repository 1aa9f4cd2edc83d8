"""Side by side: the helpers' tensor training loop against torchvision ImageFolder + DataLoader.

Both train the same model (helpers.make_model, the baseline spec's width) with the same
optimizer, batch size and augmentation (reflect-padded random crop + flip) on the same 2,000
labelled images, for the same number of epochs, on the same machine in the same process.
Prints seconds per epoch and the ratio.

    python benchmarks/training_loop.py [--epochs 3] [--workers 0 2]
"""
from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

import helpers as h
from helpers.augment import MEAN, STD
from helpers.specs import BaselineRun

BASELINE = BaselineRun()


def image_folder_epochs(root: Path, indices, epochs: int, workers: int,
                        batch_size: int = BASELINE.batch_size) -> float:
    """The classic pipeline: decode each JPEG and augment it one image at a time, every epoch."""
    tfm = transforms.Compose([
        transforms.RandomCrop(32, padding=4, padding_mode="reflect"),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([m / 255 for m in MEAN], [s / 255 for s in STD]),
    ])
    dataset = Subset(datasets.ImageFolder(str(root), transform=tfm), indices)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    h.set_seed(0)
    model = h.make_model(width=BASELINE.width).to(memory_format=torch.channels_last)
    steps = epochs * math.ceil(len(dataset) / batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=BASELINE.lr, momentum=0.9, nesterov=True,
                                weight_decay=BASELINE.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, BASELINE.lr, total_steps=steps, pct_start=0.25)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb.contiguous(memory_format=torch.channels_last)), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return (time.perf_counter() - start) / epochs


def helpers_epochs(x, y, epochs: int) -> float:
    model = h.make_model(width=BASELINE.width)
    start = time.perf_counter()
    h.fit(model, x, y, epochs=epochs, batch_size=BASELINE.batch_size, lr=BASELINE.lr,
          weight_decay=BASELINE.weight_decay, seed=0, progress=False)
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()

    data = h.load_cats_dogs()
    split = h.split_labeled_unlabeled(data.y_train, BASELINE.n_labeled, BASELINE.split_seed)
    x, y = data.x_train[split.labeled], data.y_train[split.labeled]
    # ImageFolder needs files: write the cached training images as PNG into a temporary folder,
    # in ImageFolder's order (cats first, then dogs), so the same indices pick the same images.
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        from PIL import Image
        for i, (image, label) in enumerate(zip(data.x_train, data.y_train)):
            folder = tmp / data.classes[label]
            folder.mkdir(exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
        order = torch.argsort(data.y_train, stable=True)  # ImageFolder index -> dataset index
        position = torch.empty_like(order)
        position[order] = torch.arange(len(order))
        folder_indices = position[split.labeled].tolist()

        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {h.get_device()}, "
              f"{len(x)} images, {args.epochs} epochs, batch {BASELINE.batch_size}")
        helpers_epochs(x, y, 1)  # warm-up
        ours = helpers_epochs(x, y, args.epochs)
        print(f"helpers.fit (tensors, batched augmentation): {ours:.2f} s/epoch")
        for workers in args.workers:
            theirs = image_folder_epochs(tmp, folder_indices, args.epochs, workers)
            print(f"ImageFolder + DataLoader, num_workers={workers}: {theirs:.2f} s/epoch "
                  f"-> helpers is {theirs / ours:.2f}x faster")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
