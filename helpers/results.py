"""Save a run's results with the config that made them; reuse them only when the config matches."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .io import atomic_write


def save_results(path: str | Path, results: dict[str, Any], config: dict[str, Any]) -> Path:
    """Write ``{"config": ..., "results": ...}`` as JSON, atomically."""
    text = json.dumps({"config": config, "results": results}, indent=2, sort_keys=True)
    return atomic_write(path, lambda tmp: tmp.write_text(text + "\n"))


def load_results(path: str | Path, config: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The saved results, or ``None`` when there are none, they are unreadable, or they were
    made with another config (so the caller recomputes instead of reusing stale numbers)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if config is not None and saved.get("config") != json.loads(json.dumps(config)):
        return None
    return saved.get("results")
