"""Memory the engine frees, handed back to the operating system.

numpy's arrays come from the C library's ``malloc``.  glibc serves arrays below its mmap threshold
(which rises to 32 MiB as large arrays are freed) from per-thread arenas that keep freed memory for
reuse instead of returning it, so a step's freed temporaries (the chunks' tokens, shingles and
sets, made on worker threads) stayed resident through the steps after it: 0.9 GiB of free arena
memory by the index rows of a 1M-document batch.  ``malloc_trim`` returns it; where the C library
has none (not glibc), this does nothing.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None) if os.name == "posix" else None

# Bytes of parts ``concatenate_releasing`` copies between two releases: a release costs a pass over
# the arenas' free lists, and this much memory held twice is the most the concatenation adds.
_RELEASE_EVERY_BYTES = 64 << 20


def release_freed_memory() -> None:
    """Returns the whole free pages of the C library's heap to the operating system."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def concatenate_releasing(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """``np.concatenate(parts)``, emptying ``parts``: each part is let go once copied and its memory
    returned as the result fills, so the parts and the result are not both held in full."""
    out = np.empty(sum(len(p) for p in parts), dtype=dtype)
    at = copied = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        out[at : at + len(part)] = part
        at += len(part)
        copied += part.nbytes
        del part
        if copied >= _RELEASE_EVERY_BYTES:
            release_freed_memory()
            copied = 0
    release_freed_memory()
    return out
