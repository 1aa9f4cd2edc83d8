"""The one cache of runs: ``get_or_run(spec, run)`` loads a saved run or trains it and saves it.

A run is saved under ``outputs/runs/`` as three files named by its key: ``<key>.model.pt`` (the
model), ``<key>.pt`` (the results: numbers, lists, tensors, the training history) and, written
last, ``<key>.json`` (the spec). What the spec does not hold but the numbers depend on picks the
folder (``runs_dir``): a GPU's runs go to ``outputs/runs-cuda/``, and on the CPU a process whose
thread count is not the one ``outputs/runs/`` was trained with uses ``outputs/runs-<n>threads/``,
so neither serves the other. The JSON marks a complete run; a missing, truncated or unreadable
file means the run is trained again, never served. Everything is loaded with ``weights_only=True``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn as nn

from . import config, specs
from .io import atomic_write, check_writable_dir
from .train import CheckpointError, get_device, load_checkpoint, save_checkpoint


THREADS_FILE = "THREADS"  # in outputs/runs/: the CPU thread count its runs were trained with


def runs_dir() -> Path:
    """Where runs are saved: ``outputs/runs-<device>`` off the CPU (``runs-cuda``), since the device
    changes a run's numbers as much as a setting does. On the CPU the thread count changes them
    too (each sum is split across the threads, in another order for another count), so
    ``outputs/runs`` belongs to the count that its first saved run wrote in its ``THREADS`` file,
    and a process with another count (``OMP_NUM_THREADS``, ``torch.set_num_threads``) saves and
    loads in ``outputs/runs-<n>threads``: a run trained with two threads never serves one."""
    device = get_device().type
    if device != "cpu":
        return Path(config.OUTPUT_DIR) / f"runs-{device}"
    threads, owner = torch.get_num_threads(), runs_threads()
    return Path(config.OUTPUT_DIR) / ("runs" if owner in (None, threads) else f"runs-{threads}threads")


def runs_threads() -> int | None:
    """The thread count ``outputs/runs`` belongs to, from its ``THREADS`` file; None before its first run."""
    try:
        return int((Path(config.OUTPUT_DIR) / "runs" / THREADS_FILE).read_text())
    except (OSError, ValueError):
        return None


def _claim_threads() -> None:
    """On the CPU, before a run is saved: if ``outputs/runs`` belongs to no thread count yet, write
    this process's into its ``THREADS`` file. A hard link creates it whole and only if absent, so
    of two processes that claim it at once, one wins and the other saves in its own folder."""
    folder = Path(config.OUTPUT_DIR) / "runs"
    if get_device().type != "cpu" or runs_threads() is not None:
        return
    check_writable_dir(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{THREADS_FILE}.", suffix=".tmp")
    try:
        os.write(fd, f"{torch.get_num_threads()}\n".encode())
        os.close(fd)
        os.link(tmp, folder / THREADS_FILE)
    except FileExistsError:
        pass  # another process claimed it first: runs_dir() now says where this one saves
    finally:
        os.unlink(tmp)


def kind(spec) -> str:
    """``FixMatchRun`` -> ``"fixmatch"``: the first part of a run's file names."""
    return type(spec).__name__.removesuffix("Run").lower()


def to_json(spec) -> dict:
    """``{"kind": class name, "settings": every field}``, numbers in their field's type, so that
    equal specs (``round_budget=2`` and ``2.0``) get equal keys."""
    return {"kind": type(spec).__name__, "settings": _settings(spec)}


def _settings(spec) -> dict:
    hints = typing.get_type_hints(type(spec))
    out = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if is_dataclass(value):
            value = _settings(value)
        elif "float" in str(hints[f.name]) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(value, tuple):
            value = [float(v) if "float" in str(hints[f.name]) else v for v in value]
        elif value is None and f.metadata == specs.KEY_IF_SET:
            continue  # added after runs were saved: unset, it leaves their keys as they were
        out[f.name] = value
    return out


def from_json(saved: dict):
    """The spec that ``to_json`` wrote (tuples and nested specs rebuilt)."""
    classes = {cls.__name__: cls for cls in specs.SPECS}
    return _build(classes[saved["kind"]], saved["settings"])


def _build(cls, settings: dict):
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in settings and f.metadata == specs.KEY_IF_SET:
            settings = {**settings, f.name: None}  # left out of the key because unset
        value = settings[f.name]
        if is_dataclass(hints[f.name]):
            value = _build(hints[f.name], value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def spec_key(spec) -> str:
    """``<kind>-<10 hex digits>``: a hash of the spec's class and every one of its fields."""
    text = json.dumps(to_json(spec), sort_keys=True)
    return f"{kind(spec)}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _where(path: Path) -> str:
    try:
        return str(path.relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)


def _flat(settings: dict, prefix: str = "") -> dict:
    out = {}
    for name, value in settings.items():
        out.update(_flat(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name: value})
    return out


def _why_missing(spec) -> str:
    """'no saved run', or the settings that changed since the closest saved run of this kind."""
    mine = _flat(_settings(spec))
    best = None
    for path in runs_dir().glob(f"{kind(spec)}-*.json"):
        try:
            theirs = _flat(json.loads(path.read_text())["settings"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        changed = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        if changed and (best is None or len(changed) < len(best[0])):
            best = (changed, theirs)
    if best is None:
        owner, threads = runs_threads(), torch.get_num_threads()
        other = get_device().type == "cpu" and owner not in (None, threads)
        return "no saved run" + (f" with {threads} thread{'s' * (threads > 1)} (outputs/runs holds runs trained "
                                 f"with {owner}; a thread count gives numbers of its own)" if other else "")
    changed, theirs = best
    shown = ", ".join(f"{k} {theirs.get(k)!r} -> {mine.get(k)!r}" for k in changed[:3])
    return "spec changed: " + shown + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


def load_run(spec) -> dict:
    """The saved results of ``spec`` with ``model`` and ``spec``; raises ``FileNotFoundError``
    when there is no complete saved run, ``CheckpointError`` when a file is unreadable."""
    base = runs_dir() / spec_key(spec)
    if not base.with_suffix(".json").exists():
        raise FileNotFoundError(base)
    try:
        if from_json(json.loads(base.with_suffix(".json").read_text())) != spec:
            raise CheckpointError("the saved spec is not this one")
        results = torch.load(base.with_suffix(".pt"), map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as err:  # truncated, garbled, or a missing part
        raise CheckpointError(f"{type(err).__name__}") from None
    model, _ = load_checkpoint(base.with_suffix(".model.pt"))
    return {**results, "model": model, "spec": spec}


@contextlib.contextmanager
def _only_one_trainer(key: str, say: Callable[[str], None]) -> Iterator[None]:
    """Hold a lock named by ``key`` while this process loads or trains the run: a second process (two
    notebooks at once, parallel tests) that needs the same run waits, then loads what the first
    saved instead of training it again. Without ``fcntl`` (Windows) there is no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    # The lock file lives in the temporary folder, named by this runs folder and key, so that
    # outputs/runs/ holds the runs' files alone.
    where = hashlib.sha256(str(runs_dir().resolve()).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "pseudo-labeling-locks"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{where}-{key}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for {key}: another process is training it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def get_or_run(spec, run: Callable[[], tuple[dict, nn.Module]], log: Callable[[str], None] | None = print) -> dict:
    """The results of ``spec``: loaded when saved, else ``run() -> (results, model)`` and saved.

    Prints one line: ``loaded <key> from outputs/runs/`` or ``training <key> (<why>)``.
    ``results`` holds numbers, strings, lists, dicts and tensors; ``seconds`` (the training
    time) is added when ``run`` does not set it. Returns the results plus ``model`` and ``spec``.
    """
    say = log or (lambda message: None)
    with _only_one_trainer(spec_key(spec), say):
        return _load_or_train(spec, run, say)


def _load_or_train(spec, run: Callable[[], tuple[dict, nn.Module]], say: Callable[[str], None]) -> dict:
    key, base = spec_key(spec), runs_dir() / spec_key(spec)
    try:
        loaded = load_run(spec)
        say(f"loaded {key} from {_where(runs_dir())}/")
        return loaded
    except FileNotFoundError:
        reason = _why_missing(spec)
    except CheckpointError as err:
        reason = f"unreadable file: {err}"
    say(f"training {key} ({reason})")
    start = time.perf_counter()
    results, model = run()
    results = {"seconds": time.perf_counter() - start, **results}
    _claim_threads()
    base = runs_dir() / key  # outputs/runs, unless another thread count has claimed it meanwhile
    base.with_suffix(".json").unlink(missing_ok=True)  # until all three files are new, the run is incomplete
    save_checkpoint(model, base.with_suffix(".model.pt"), key=key)
    atomic_write(base.with_suffix(".pt"), lambda tmp: torch.save(results, tmp))
    text = json.dumps(to_json(spec), indent=1, sort_keys=True)
    atomic_write(base.with_suffix(".json"), lambda tmp: tmp.write_text(text + "\n"))
    return {**results, "model": model, "spec": spec}
