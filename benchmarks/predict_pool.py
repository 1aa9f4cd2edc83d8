"""Labelling a large folder: `pseudo_labeling.py predict` against a Dataset of the files + DataLoader.

Why: an unlabelled pool is the big part of a user's data, and the classic way to run a model over
a folder (a torchvision-style Dataset, a DataLoader with worker processes, batches of 256) is what
`predict` has to beat. Both paths label the same synthetic JPEGs - coloured shapes on a gradient,
drawn at twice --size a side and saved at quality 90 in one flat temporary folder, deleted
afterwards - with the same untrained model (helpers.make_model, 2 classes, default width; its
last bias set so that the two classes split the pool about evenly, so that the agreement below
means something), the same preprocessing (Pillow bicubic resize and centre crop to --size px, the
normalisation of helpers.augment), the same test-time augmentation (the mean of an image's and its
mirror's logits), and both write a CSV of path, label and confidence.

Each path runs in its own fresh Python process, so that the peak resident memory each reports
(its own ru_maxrss, and RUSAGE_CHILDREN's for its DataLoader workers: the largest worker) is its
alone and one path's pages cannot help the next. The clock runs from loading the model to the
written CSV, after the imports; the memory column shows the peak and, in brackets, what torch and
the imports already held when the clock started. Worker RSS counts the pages they share with the
main process (torch's libraries) again, so "main + workers x largest" overstates their sum.
Prints images per second, ours/theirs, peak memory and how often the labels agree; the issue's
goal is at least 1.5x the DataLoader's throughput with at most 2 GB of peak memory.

What to expect: `predict` gains by decoding in threads on free cores while the model runs, so the
gap shows where the model is cheap next to decoding (a GPU, several free cores). On a CPU the
model's forward pass, the same in both paths, takes most of the time and the ratio nears 1;
--width 4 shows the pipelines with a cheaper model.

    python benchmarks/predict_pool.py                                  # 50,000 images at 64 px
    python benchmarks/predict_pool.py --n 600 --size 32 --workers 0 2  # a quick look
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader, Dataset

import helpers as h
from helpers import own_data

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ["class0", "class1"]
GOAL_RATIO, GOAL_MEMORY_MB = 1.5, 2000


def make_images(folder: Path, n: int, size: int, seed: int = 0) -> None:
    """``n`` JPEGs of 2 x ``size`` pixels a side: a two-colour gradient and one to three shapes."""
    rng, side = np.random.default_rng(seed), 2 * size
    ramp = np.linspace(0, 1, side)[:, None, None]
    for i in range(n):
        a, b = rng.integers(0, 256, (2, 3))
        gradient = a + (b - a) * (ramp if i % 2 else ramp.transpose(1, 0, 2))  # top to bottom, or left to right
        image = Image.fromarray(np.ascontiguousarray(np.broadcast_to(gradient, (side, side, 3)), dtype=np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.integers(0, side - 8, 2)
            x1, y1 = x0 + rng.integers(8, side // 2), y0 + rng.integers(8, side // 2)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            [draw.ellipse, draw.rectangle][int(rng.integers(2))]((int(x0), int(y0), int(x1), int(y1)), fill=colour)
        image.save(folder / f"{i:06d}.jpg", quality=90)


def make_model_file(folder: Path, images: Path, size: int, width: int) -> Path:
    """The untrained model, its last bias moved to the median logit gap of 256 images (a balanced split)."""
    model = h.make_model(len(CLASSES), width, seed=0)
    listing = own_data.Listing(images, "--images", [], [(p, 0) for p in sorted(images.iterdir())[:256]], 0)
    logits = h.predict_logits(model, next(own_data.decode_chunks(listing, size))["x"])
    with torch.no_grad():
        model[-1].bias[1] -= (logits[:, 1] - logits[:, 0]).median()
    return h.save_checkpoint(model, folder / "model.pt", classes=CLASSES, image_size=size, config={"threshold": 0.9})


def ours(images: Path, model: Path, out: Path, size: int, workers: int) -> None:
    """This project's path: `pseudo_labeling.py predict` (threads decode chunks, predict_proba, CSV)."""
    import pseudo_labeling
    code = pseudo_labeling.main(["predict", "--model", model, "--images", images, "--output", out, "--no-progress"])
    assert code == 0, "pseudo_labeling.py predict failed"


class Files(Dataset):
    """A folder's files, one decoded and transformed image per item, as ImageFolder's loader does it."""

    def __init__(self, files: list[Path], transform):
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.files[i]) as img:
            return self.transform(img.convert("RGB"))


def theirs(images: Path, model_file: Path, out: Path, size: int, workers: int) -> None:
    """The classic path: a Dataset of the file list, a DataLoader, per-image torchvision transforms."""
    from torchvision import transforms
    from helpers.augment import MEAN, STD

    files = sorted(p for p in images.iterdir() if p.suffix == ".jpg")
    tfm = transforms.Compose([transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
                              transforms.CenterCrop(size), transforms.ToTensor(),
                              transforms.Normalize([m / 255 for m in MEAN], [s / 255 for s in STD])])
    device = h.get_device()
    model, _ = h.load_checkpoint(model_file)
    model.to(device).eval()
    loader = DataLoader(Files(files, tfm), batch_size=256, num_workers=workers, pin_memory=device.type == "cuda")
    probs = []
    with torch.no_grad():
        for xb in loader:
            xb = xb.to(device, non_blocking=True)
            probs.append(((model(xb) + model(xb.flip(3))) / 2).float().softmax(1).cpu())
    confidence, labels = torch.cat(probs).max(1)
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows([("path", "pseudo_label", "confidence")] + [
            (p.name, CLASSES[k], f"{c:.4f}") for p, k, c in zip(files, labels.tolist(), confidence.tolist())])


def resident_mb() -> float:
    """This process's resident memory now (Linux; NaN elsewhere): what imports and the model took."""
    try:
        line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        return float("nan")


def child(args: argparse.Namespace) -> None:
    """One path in this fresh process: time it, then record the peak memory of this process and of
    its worker processes (all joined by then)."""
    if args.child == "ours":
        import pseudo_labeling  # noqa: F401  imports before the clock starts, like torch's
    else:
        import torchvision.transforms  # noqa: F401  (only here: it would add to the other path's memory)
    start_mb, start = resident_mb(), time.perf_counter()
    (ours if args.child == "ours" else theirs)(args.images, args.model, args.out, args.size, args.num_workers)
    seconds = time.perf_counter() - start
    peak = {who: resource.getrusage(which).ru_maxrss / 1024  # kB on Linux
            for who, which in (("main_mb", resource.RUSAGE_SELF), ("worker_mb", resource.RUSAGE_CHILDREN))}
    args.result.write_text(json.dumps({"seconds": seconds, "start_mb": start_mb, **peak}))


def run_path(kind: str, workers: int, tmp: Path, images: Path, model: Path, size: int) -> dict:
    out, result = tmp / f"{kind}-{workers}.csv", tmp / f"{kind}-{workers}.json"
    command = [sys.executable, "-m", "benchmarks.predict_pool", "--child", kind, "--num-workers", str(workers),
               "--images", str(images), "--model", str(model), "--out", str(out), "--result", str(result),
               "--size", str(size)]
    subprocess.run(command, cwd=ROOT, check=True)
    with open(out, newline="") as f:
        labels = {row["path"]: row["pseudo_label"] for row in csv.DictReader(f)}
    return {**json.loads(result.read_text()), "labels": labels, "workers": workers}


def memory(run: dict) -> str:
    """Peak resident memory of a path's main process, and (in brackets) what it held when the clock
    started: torch, the imports and the model, the same for every path."""
    return f"{run['main_mb']:.0f} ({run['start_mb']:.0f})"


def report(args: argparse.Namespace, mine: dict, loaders: list[dict]) -> None:
    n, size = args.n, args.size
    ours_rate = n / mine["seconds"]
    share = sum(label == CLASSES[1] for label in mine["labels"].values()) / n
    print(f"{n} synthetic JPEGs of {2 * size} px in one folder, labelled at {size} px; model width {args.width}, "
          f"2 classes ({100 * share:.0f}% {CLASSES[1]}); torch {torch.__version__}, device {h.get_device()}, "
          f"{os.cpu_count()} CPUs, {own_data.DECODE_THREADS} decoding threads")
    print(f"{'path':<38} {'images/s':>10} {'ours/this':>10} {'peak (start) MB':>16} {'per worker':>11} "
          f"{'same labels':>12}")
    print(f"{'pseudo_labeling.py predict':<38} {ours_rate:>10.1f} {'-':>10} {memory(mine):>16} "
          f"{'-':>11} {'-':>12}")
    for run in loaders:
        same = sum(run["labels"].get(p) == label for p, label in mine["labels"].items()) / n
        worker = f"{run['workers']} x {run['worker_mb']:.0f}" if run["workers"] else "-"
        print(f"{'Dataset + DataLoader, num_workers=' + str(run['workers']):<38} {n / run['seconds']:>10.1f} "
              f"{run['seconds'] / mine['seconds']:>9.2f}x {memory(run):>16} {worker:>11} {100 * same:>11.2f}%")
    best = min(loaders, key=lambda run: run["seconds"])
    ratio = best["seconds"] / mine["seconds"]
    print(f"goal: >= {GOAL_RATIO}x the fastest DataLoader (num_workers={best['workers']}): {ratio:.2f}x, "
          f"{'met' if ratio >= GOAL_RATIO else 'not met'}; peak memory <= {GOAL_MEMORY_MB / 1000:g} GB: "
          f"{mine['main_mb']:.0f} MB, {'met' if mine['main_mb'] <= GOAL_MEMORY_MB else 'not met'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="images in the pool")
    parser.add_argument("--size", type=int, default=64, help="pixels a side the model sees")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader num_workers to try")
    parser.add_argument("--width", type=int, default=16, help="model width (the course's default: 16); a smaller "
                        "model shows the decoding pipelines where a CPU spends most of its time in the model")
    for name in ("child", "images", "model", "out", "result"):  # a path's own process (internal)
        parser.add_argument(f"--{name}", type=None if name == "child" else Path, help=argparse.SUPPRESS)
    parser.add_argument("--num-workers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    tmp = Path(tempfile.mkdtemp(prefix="predict-pool-"))
    try:
        images = tmp / "images"
        images.mkdir()
        start = time.perf_counter()
        make_images(images, args.n, args.size)
        print(f"made {args.n} JPEGs in {time.perf_counter() - start:.0f} s")
        model = make_model_file(tmp, images, args.size, args.width)
        mine = run_path("ours", 0, tmp, images, model, args.size)
        loaders = [run_path("theirs", w, tmp, images, model, args.size) for w in args.workers]
        report(args, mine, loaders)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
