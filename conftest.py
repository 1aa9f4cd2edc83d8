"""pytest, for the whole repository: nbval's notebook kernels start one at a time.

The test command runs the notebooks in several pytest-xdist processes. jupyter_client gives a
new kernel free TCP ports by binding and releasing them, so two kernels that start at once can
be handed the same port, and one dies before it replies ("Kernel died before replying to
kernel_info"; jupyter/jupyter_client#487). Here each process holds a file lock while its kernel
starts and until it answers, and a kernel that dies at start (its ports taken by some other
program) is started again, up to ``ATTEMPTS`` times in all.

nbval's function is wrapped once per process, however often this file is executed (a test that
loads it again must not wrap the wrapper: the inner call would wait for the lock the outer one
holds), and a process waits for the lock ``WAIT_SECONDS`` at most, then starts its kernel anyway.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

ATTEMPTS = 3
WAIT_SECONDS = 300  # a kernel starts in seconds; longer means a stuck holder, not a queue
LOCK = Path(tempfile.gettempdir()) / "pseudo-labeling-kernel-start.lock"


def _acquire(handle, wait: float) -> bool:
    """An exclusive ``flock`` on ``handle`` within ``wait`` seconds: False if none came in time;
    True without one where there is no ``fcntl`` (Windows: no lock, the retries alone)."""
    try:
        import fcntl
    except ImportError:
        return True
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def one_at_a_time(start, attempts: int = ATTEMPTS, lock: Path = LOCK, wait: float = WAIT_SECONDS):
    """``start`` (nbval's ``start_new_kernel``) under an inter-process lock, retried when it raises
    ``RuntimeError`` (a kernel that died or never answered), at most ``attempts`` times in all.
    A lock not had within ``wait`` seconds is given up with a warning, and the kernel started anyway."""
    if getattr(start, "one_at_a_time", False):
        return start  # already wrapped

    def start_kernel(*args, **kwargs):
        for attempt in range(1, attempts + 1):
            with open(lock, "w") as handle:  # the lock is released when the file closes
                if not _acquire(handle, wait):
                    warnings.warn(f"no kernel-start lock in {wait:g} s ({lock}); starting the kernel without it",
                                  stacklevel=2)
                try:
                    return start(*args, **kwargs)
                except RuntimeError:
                    if attempt == attempts:
                        raise
    start_kernel.one_at_a_time, start_kernel.wrapped = True, start
    return start_kernel


try:
    import nbval.kernel
except ImportError:  # nbval not installed: no notebooks to run
    pass
else:
    nbval.kernel.start_new_kernel = one_at_a_time(nbval.kernel.start_new_kernel)
