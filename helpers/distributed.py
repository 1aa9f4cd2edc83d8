"""Several processes, one run: ``torchrun --nproc_per_node=N pseudo_labeling.py ...``.

One process is the course's default and its numbers must not move, so every function here is
the identity (or does nothing) unless torchrun started more than one process (``WORLD_SIZE`` > 1)
and ``init()`` joined them. Under torchrun:

* training splits every batch of ``fit``'s plan between the processes (rank 0 draws the plan and
  sends it to the others) and DistributedDataParallel averages their gradients: the same global
  batch, the same number of steps and the same learning-rate schedule as one process, so the
  settings tuned on one machine keep their meaning on several;
* prediction gives each process a contiguous slice of the images and gathers the logits in rank
  order, so every process holds the whole pool's probabilities and takes the same decisions
  (which pseudo-labels to keep, the guard's verdict) without further talk;
* only rank 0 prints and writes files (``is_main``).

The backend is NCCL when there are GPUs (one per process, chosen by ``LOCAL_RANK``), else gloo.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel


def requested() -> bool:
    """Whether torchrun (or another launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> bool:
    """Join the other processes when there are any; returns whether this run is distributed."""
    if not requested():
        return False
    if not dist.is_initialized():
        backend = "gloo"
        if torch.cuda.is_available():
            # Every process checks the count (rank 0 too, which alone prints the error): a rank
            # without a GPU of its own would otherwise leave the others waiting for it.
            gpus = torch.cuda.device_count()
            local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
            if local_processes > gpus:
                raise ValueError(f"torchrun started {local_processes} processes on this machine, which has "
                                 f"{gpus} GPU(s); pass --nproc_per_node={gpus} or fewer, or hide the GPUs "
                                 f"(CUDA_VISIBLE_DEVICES=) to train on the CPU")
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)  # torch.device("cuda") now means this process's GPU
            backend = "nccl"
        dist.init_process_group(backend)
    return True


def close() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, the process that prints and writes files (the only one without torchrun). Before
    ``init()`` joins the processes, the rank torchrun gave this one."""
    return (rank() if active() else int(os.environ.get("RANK", "0"))) == 0


def describe() -> str:
    """Words for the log's device line: empty for one process."""
    return f" x {world_size()} processes ({dist.get_backend()})" if active() else ""


def _device() -> torch.device:
    """Where collectives take their tensors: NCCL only moves GPU memory, gloo CPU memory."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def wrap(model: nn.Module) -> nn.Module:
    """The model ``fit`` calls for its training steps: a DistributedDataParallel wrapper, which
    averages the gradients over the processes, or the model itself. The wrapper shares the
    model's parameters, so the caller keeps (and saves) the plain model: no ``module.`` prefix."""
    if not active():
        return model
    device_ids = [torch.cuda.current_device()] if dist.get_backend() == "nccl" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def split_batches(next_batches: Callable[[], list[torch.Tensor]]) -> Callable[[], list[torch.Tensor]]:
    """Wrap an epoch's batch plan (lists of indices) so that each process gets its part of every
    batch. Rank 0's plan is broadcast: the processes' random streams differ (each augments its
    images differently), so their own plans would not agree. A batch smaller than the number of
    processes is repeated, as DistributedSampler pads, so that no process steps on nothing."""
    if not active():
        return next_batches
    ranks, me = world_size(), rank()

    def mine() -> list[torch.Tensor]:
        batches = next_batches()
        sizes = [len(b) for b in batches]
        plan = torch.cat(batches).to(_device())
        dist.broadcast(plan, src=0)  # every process draws a plan of the same sizes; rank 0's wins
        parts = []
        for batch in plan.split(sizes):
            if len(batch) < ranks:
                batch = batch.repeat(math.ceil(ranks / len(batch)))
            parts.append(batch.tensor_split(ranks)[me])
        return parts
    return mine


def sum_over_ranks(*values: float) -> tuple[float, ...]:
    """Sum numbers over the processes (an epoch's loss and counts, for the history it reports)."""
    if not active():
        return values
    total = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.all_reduce(total)
    return tuple(total.tolist())


def shard(n: int) -> tuple[int, int]:
    """This process's contiguous slice ``[start, stop)`` of ``n`` items (all of them alone)."""
    ranks, me = world_size(), rank()
    return n * me // ranks, n * (me + 1) // ranks


def gather(rows: torch.Tensor) -> torch.Tensor:
    """Every process's rows, concatenated in rank order: with ``shard`` this puts the slices
    back in the order of the input. Slices may differ in length and be empty."""
    if not active():
        return rows
    parts: list = [None] * world_size()
    dist.all_gather_object(parts, rows.cpu())
    parts = [p for p in parts if p.numel()]
    return torch.cat(parts) if parts else rows


def sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm's running statistics) to every process before predicting:
    each process's last training forward updated its own, and the slices must be predicted by one
    model, the one rank 0 saves. Parameters need nothing: averaged gradients keep them equal."""
    if not active():
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first, the others after it: rank 0 decodes the images and writes the
    cache, the others then read the cache instead of decoding the same files at the same time."""
    if active() and not is_main():
        dist.barrier()
    yield
    if active() and is_main():
        dist.barrier()
