"""pytest, for the whole repository: nbval's notebook kernels start one at a time.

The test command runs the notebooks in several pytest-xdist processes. jupyter_client gives a
new kernel free TCP ports by binding and releasing them, so two kernels that start at once can
be handed the same port, and one dies before it replies ("Kernel died before replying to
kernel_info"; jupyter/jupyter_client#487). Here each process holds a file lock while its kernel
starts and until it answers, and a kernel that dies at start (its ports taken by some other
program) is started again, up to ``ATTEMPTS`` times in all.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

ATTEMPTS = 3
LOCK = Path(tempfile.gettempdir()) / "pseudo-labeling-kernel-start.lock"


def one_at_a_time(start, attempts: int = ATTEMPTS, lock: Path = LOCK):
    """``start`` (nbval's ``start_new_kernel``) under an inter-process lock, retried when it raises
    ``RuntimeError`` (a kernel that died or never answered), at most ``attempts`` times in all."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the retries alone
        fcntl = None

    def start_kernel(*args, **kwargs):
        for attempt in range(1, attempts + 1):
            with open(lock, "w") as handle:
                if fcntl:
                    fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
                try:
                    return start(*args, **kwargs)
                except RuntimeError:
                    if attempt == attempts:
                        raise
    return start_kernel


try:
    import nbval.kernel
except ImportError:  # nbval not installed: no notebooks to run
    pass
else:
    nbval.kernel.start_new_kernel = one_at_a_time(nbval.kernel.start_new_kernel)
