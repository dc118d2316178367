"""`make bench` runs from a fresh clone: every benchmark command in its recipe resolves its imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def bench_commands() -> list[list[str]]:
    recipe = REPO.joinpath("Makefile").read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[1:] for line in recipe.splitlines() if re.match(r"\t\$\(BIN\)/python (-m )?bench", line)]


def test_every_benchmark_of_make_bench_starts():
    commands = bench_commands()
    assert len(commands) >= 2
    for command in commands:
        # As a module from the repository root: a script under bench/ puts bench/ first on sys.path,
        # where bench/html.py shadows the standard library's html and `bench.*` imports do not resolve.
        assert command[0] == "-m", command
        result = subprocess.run([sys.executable, *command, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (command, result.stderr[-2000:])
