"""What the parity checks share (bench/clean_parity.py, bench/read_parity.py): save a step's outputs
with ``--write FILE``, or compare them with a saved run's with ``--check FILE``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from bench.noise import BENCHMARKS


def parity_parser(description: str) -> argparse.ArgumentParser:
    """The options every parity check takes: the mode, and which dev sets (``--sets``, comma-separated) where."""
    ap = argparse.ArgumentParser(description=description)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, help="save the current code's output here")
    mode.add_argument("--check", type=Path, help="compare the current code's output with this saved one")
    ap.add_argument("--benchmarks", type=Path, default=BENCHMARKS)
    ap.add_argument("--sets", default="aeb-dev,wcxb-dev", type=lambda names: [name for name in names.split(",") if name])
    return ap


def save_or_compare(args: argparse.Namespace, current: dict[str, object], describe: Callable[[object, object], str]) -> int:
    """Write ``current`` (key -> output) to ``args.write``, or print each key whose output differs from
    ``args.check``'s (``describe(before, after)`` says how) and return 1 if any does."""
    if args.write:
        args.write.write_text("\n".join(json.dumps({"key": k, "value": v}, ensure_ascii=False) for k, v in current.items()) + "\n")
        print(f"{len(current)} outputs written to {args.write}")
        return 0
    saved = {row["key"]: row["value"] for row in map(json.loads, args.check.read_text().splitlines())}
    differ = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    for key in differ:
        print(f"DIFFERS {key}: {describe(saved.get(key), current.get(key))}")
    print(f"{len(current)} outputs, {len(differ)} differ")
    return 1 if differ else 0
