"""What a published partition was computed with: one owner for the pipeline version and code digests.

``pipeline_version`` is recorded in every manifest; a backfill rebuilds a partition whose version
differs, and the read cache keys its results by the code digest. Both cover every file of cleanwire's
packages (modules, compiled-kernel sources, lexicons and other data files) found by walking the
installed packages, so no hand-kept list of modules can miss one.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.metadata import version
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.config import Settings

PACKAGES = ("tasks", "flows")
# Bytecode and numba's compiled-kernel cache are derived from the sources, not sources themselves.
_DERIVED_DIRS = {"__pycache__"}
# The settings sections that shape what a partition holds (S3 access, publish and ops do not).
_SHAPING_SECTIONS = {"read", "parse", "clean", "dedup", "validation"}


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name not in _DERIVED_DIRS and not entry.name.startswith("."):
                out += _files(entry, name + "/")
        elif not entry.name.startswith("."):
            out.append((name, entry))
    return out


def tree_digest(roots: dict[str, Traversable | Path]) -> str:
    """SHA-256 over every file below each root (path relative to its root, and bytes), in a fixed order."""
    digest = hashlib.sha256()
    for label, root in sorted(roots.items()):
        for name, entry in sorted(_files(root)):
            data = entry.read_bytes()
            digest.update(f"{label}/{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


@cache
def code_digest() -> str:
    """Digest of all of cleanwire's code and packaged data: results computed by other code are stale."""
    return tree_digest({package: files(package) for package in PACKAGES})


def pipeline_version(settings: Settings) -> str:
    """The package version, plus a digest of all code, of the GX suites and of every setting that shapes
    the output: a changed rule, lexicon, suite or threshold is never mistaken for "already published"."""
    shaping = settings.model_dump(mode="json", include=_SHAPING_SECTIONS)
    suites_dir = Path(shaping["validation"].pop("expectations_dir"))  # where the suites are is not what they say
    identity = {
        "code": code_digest(),
        "suites": tree_digest({"expectations": suites_dir}),
        "settings": shaping,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"{version('cleanwire')}+{digest}"
