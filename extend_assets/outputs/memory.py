"""Handing memory a finished step freed back to the operating system.

A partition's steps may run one after another in one process (``execute_in_process``,
the in-process executor): without this, the heap pages the previous step freed stay
with glibc (and Arrow's allocator) and each step's peak stacks on the last one's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache
from typing import Any

import pyarrow as pa


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only


def release_free_memory() -> None:
    """Collect garbage, then return free heap pages (:func:`_return_free_heap`)."""
    gc.collect()
    _return_free_heap()


def return_free_pages() -> None:
    """Return the heap pages already free to the operating system, after collecting the
    young generations' garbage only: a few milliseconds, where
    :func:`release_free_memory`'s full collection walks the whole process (~0.2 s in a
    Dagster step)."""
    gc.collect(1)
    _return_free_heap()


def _return_free_heap() -> None:
    """Free heap pages back to the operating system: Arrow's pool, glibc ``malloc_trim``."""
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
