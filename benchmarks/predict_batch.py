"""How many images one forward pass should take when the course grades a model.

Every run predicts the 8,000-image unlabelled pool and the 2,000 test images, each with its
mirror image (``helpers.predict_proba``); a self-training round predicts the pool again. This
times that pass over a pool of the same size at several batch sizes, in one process, interleaved
(each size once per repeat, so that a noisy neighbour slows them all alike), with the course's
model (untrained, on random 32-px images: the time depends on neither the weights nor the
pixels), and prints images per second and the ratio against ``--against`` (1,000, the batch
the course used before). On this course's CPUs a batch of a few hundred 32-px images keeps the
activations in cache; a larger one does not.

    python benchmarks/predict_batch.py [--sizes 64 128 256 512 1000] [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import time

import torch

import helpers as h


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512, 1000], help="batch sizes to time")
    parser.add_argument("--against", type=int, default=1000, help="the batch size the ratio is against")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the pool per batch size (the best counts)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--n", type=int, default=8000, help="images to predict (the course's pool: 8,000)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = sorted(set(args.sizes) | {args.against})
    pool = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    model = h.make_model(2, 16, seed=0)
    h.predict_proba(model, pool[:256])  # warm up: the first pass allocates
    best = {b: float("inf") for b in sizes}
    for _ in range(args.repeats):
        for b in sizes:
            start = time.perf_counter()
            h.predict_proba(model, pool, batch_size=b)
            best[b] = min(best[b], time.perf_counter() - start)
    print(f"{len(pool)} images of 32 px and their mirrors, {torch.get_num_threads()} thread(s), best of {args.repeats}")
    print(f"{'batch':>6}{'seconds':>9}{'images/s':>10}{f'vs {args.against}':>9}")
    for b in sizes:
        print(f"{b:>6}{best[b]:>9.2f}{len(pool) / best[b]:>10.0f}{best[args.against] / best[b]:>8.2f}x")


if __name__ == "__main__":
    main()
