"""Atomic writes: a file is either its old self or complete, never half written."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def check_writable_dir(folder: Path | str) -> Path:
    """Create ``folder`` if needed and make sure we can write there, or raise a clear error."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as err:
        raise PermissionError(
            f"cannot write to the folder {folder} ({err.strerror or err}); "
            "choose another output folder or fix its permissions"
        ) from None
    return folder


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``.

    The rename is atomic on one file system, so a crash or an exception inside ``write``
    leaves any earlier file at ``path`` untouched and no partial file behind.
    """
    path = Path(path)
    check_writable_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
