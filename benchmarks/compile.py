"""Side by side: the baseline's training epochs with the model as it is, and under ``torch.compile``.

Both train the course's model (width 16) on the 2,000 labelled images with ``helpers.fit``, in
the specs' precision (``specs.PRECISION``), in the same process. Prints the compiled model's first
epoch (which includes the compilation), then the seconds per epoch of each and their ratio. The
course does not compile: on the 2-core CPU of the README's machine A this measured no speed-up.

    python benchmarks/compile.py [--epochs 5]
"""
from __future__ import annotations

import argparse
import time

import torch

import helpers as h
from helpers.specs import PRECISION, BaselineRun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs timed for each model, after a warm-up epoch")
    args = parser.parse_args()

    data, spec = h.course_data(), BaselineRun()

    def seconds(model, epochs: int) -> float:
        start = time.perf_counter()
        h.fit(model, data.x_labeled, data.y_labeled, epochs=epochs, batch_size=spec.batch_size, seed=0,
              precision=PRECISION, progress=False)
        return time.perf_counter() - start

    print(f"device {h.get_device()}, precision {PRECISION}, torch {torch.__version__}")
    eager_model, compiled_model = h.make_model(width=spec.width, seed=0), torch.compile(h.make_model(width=spec.width, seed=0))
    seconds(eager_model, 1)  # warm-up: first-call allocations and kernel selection
    first = seconds(compiled_model, 1)  # compiles, for the full batches and the last, smaller one
    eager = seconds(eager_model, args.epochs) / args.epochs
    compiled = seconds(compiled_model, args.epochs) / args.epochs
    print(f"compiled model's first epoch (with its compilation): {first:.1f} s")
    print(f"{'s/epoch, as it is':>20}{'s/epoch, compiled':>20}{'speed-up':>10}")
    print(f"{eager:>20.3f}{compiled:>20.3f}{eager / compiled:>9.2f}x")


if __name__ == "__main__":
    main()
