"""The root conftest.py: nbval's kernels start under a lock, and one that dies at start is retried."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nbval_starts_its_kernels_through_the_lock_and_retries():
    import nbval.kernel
    assert nbval.kernel.start_new_kernel.__qualname__.startswith("one_at_a_time")


def test_loading_the_conftest_again_does_not_wrap_the_wrapper():
    """A second wrapper would wait, inside the first, for the lock the first holds: every later
    notebook of that pytest process would hang (it did, once this file had loaded the conftest)."""
    import nbval.kernel
    _root_conftest()
    _root_conftest()
    wrapper = nbval.kernel.start_new_kernel
    assert wrapper.one_at_a_time and not getattr(wrapper.wrapped, "one_at_a_time", False)
    assert _root_conftest().one_at_a_time(wrapper) is wrapper


def test_a_lock_held_elsewhere_is_waited_for_a_while_then_the_kernel_starts(tmp_path):
    import fcntl
    lock = tmp_path / "lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        start = _root_conftest().one_at_a_time(lambda: "started", lock=lock, wait=0.2)
        with pytest.warns(UserWarning, match="no kernel-start lock in 0.2 s"):
            assert start() == "started"


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path):
    calls = []

    def flaky(name, **kwargs):
        calls.append((name, kwargs))
        if len(calls) < 3:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return "manager", "client"

    start = _root_conftest().one_at_a_time(flaky, attempts=3, lock=tmp_path / "lock")
    assert start("python", cwd="notebooks") == ("manager", "client")
    assert calls == [("python", {"cwd": "notebooks"})] * 3


def test_a_kernel_that_keeps_dying_raises_after_the_last_attempt(tmp_path):
    calls = []

    def dead(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("Kernel died before replying to kernel_info")

    start = _root_conftest().one_at_a_time(dead, attempts=2, lock=tmp_path / "lock")
    with pytest.raises(RuntimeError, match="Kernel died"):
        start()
    assert len(calls) == 2


def test_other_errors_are_not_retried(tmp_path):
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("no such kernel")

    start = _root_conftest().one_at_a_time(broken, lock=tmp_path / "lock")
    with pytest.raises(ValueError):
        start()
    assert calls == [1]
