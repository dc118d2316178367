"""Check that a change to the clean step keeps its output: every record field and rejection, per shape.

Run once on the code before the change with ``--write FILE``, then on the changed code with
``--check FILE``: the second run lists every document whose record (body, title, date, byline,
language, counts) or rejection differs, and the batch's removal counts per rule, and exits 1 if
anything does. The shapes are those of ``bench/noise.py``, built from the same dev sets.

    python bench/clean_parity.py --write /tmp/clean-before.jsonl [--sets aeb-dev,wcxb-dev] [--shapes raw,one-line]
    python bench/clean_parity.py --check /tmp/clean-before.jsonl
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO_ROOT), *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

from bench.noise import SHAPES, build_shape, load_pages  # noqa: E402
from bench.parity import parity_parser, save_or_compare  # noqa: E402
from tasks.clean import clean_documents  # noqa: E402
from tasks.config import CleanConfig  # noqa: E402


def outputs(sets: list[str], shapes: list[str], benchmarks: Path) -> dict[str, dict]:
    """What the clean step makes of every document of every (set, shape): key -> its record or rejection."""
    out: dict[str, dict] = {}
    for name in sets:
        pages = load_pages(benchmarks / name)
        for shape_name in shapes:
            shape = build_shape(shape_name, pages, name)
            started = time.process_time()
            outcome = clean_documents(shape.documents, CleanConfig())
            print(f"{name} {shape_name}: {len(shape.documents)} docs, {time.process_time() - started:.1f} CPU-s", file=sys.stderr)
            for row in outcome.records.iter_rows(named=True):
                out[f"{shape_name} {row['source_uri']}"] = {k: str(v) if v is not None else None for k, v in row.items()}
            for rejection in outcome.rejections:
                out[f"{shape_name} {rejection.source_uri}"] = {"rejected": list(rejection.reasons)}
            out[f"{shape_name} {name} rule_counts"] = outcome.rule_counts
    return out


def main(argv: list[str] | None = None) -> int:
    ap = parity_parser(__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(SHAPES))
    args = ap.parse_args(argv)
    current = outputs(args.sets, [s for s in args.shapes.split(",") if s], args.benchmarks)
    return save_or_compare(args, current, changed_fields)


def changed_fields(before: dict | None, after: dict | None) -> str:
    before, after = before or {}, after or {}
    return ", ".join(sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f)))


if __name__ == "__main__":
    sys.exit(main())
