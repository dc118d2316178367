"""Check that a change to the read step keeps its output: every document and rejection of every HTML page.

Run once on the code before the change with ``--write FILE``, then on the changed code with
``--check FILE``: the second run lists every page whose documents (text and every metadata field),
rejections or warnings differ, and exits 1 if any does. The pages are the dev sets' ``html/*.html.gz``
and, with ``--day DIR``, a bench day's ``*.html`` files (bench/pipeline.py), each read through
``tasks.read.parse_object`` as the read step reads it.

    python bench/read_parity.py --write /tmp/read-before.jsonl [--day /work/days/day-10000] [--parse-json '{"fast": true}']
    python bench/read_parity.py --check /tmp/read-before.jsonl [--day /work/days/day-10000]
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder is sys.path[0], where bench/html.py would shadow the stdlib's html module.
sys.path[0] = str(REPO_ROOT)

from bench.parity import parity_parser, save_or_compare  # noqa: E402
from tasks.config import ParseConfig, ReadConfig  # noqa: E402
from tasks.read import parse_object  # noqa: E402


def html_pages(benchmarks: Path, sets: list[str], day: Path | None) -> list[tuple[str, bytes]]:
    """(name, bytes) of every page to compare: the dev sets' gzipped pages, then the day's."""
    pages = [
        (f"{name}/{path.name}", gzip.decompress(path.read_bytes()))
        for name in sets
        for path in sorted((benchmarks / name / "html").glob("*.html.gz"))
    ]
    if day is not None:
        pages += [(f"{day.name}/{path.name}", path.read_bytes()) for path in sorted(day.glob("*.html"))]
    return pages


def outputs(pages: list[tuple[str, bytes]], config: ParseConfig) -> dict[str, dict]:
    """page name -> what the read step makes of it, every value as a string."""
    out: dict[str, dict] = {}
    started = time.process_time()
    for name, payload in pages:
        outcome = parse_object(name, name.removesuffix(".gz"), payload, len(payload), ReadConfig(), config)
        out[name] = {
            "documents": [{k: None if v is None else str(v) for k, v in dataclasses.asdict(d).items()} for d in outcome.documents],
            "rejections": [str(r) for r in outcome.rejections],
            "warnings": outcome.warnings,
        }
    print(f"{len(pages)} pages, {time.process_time() - started:.1f} CPU-s", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = parity_parser(__doc__.splitlines()[0])
    ap.add_argument("--day", type=Path, help="also a bench day's folder of *.html pages")
    ap.add_argument("--parse-json", default="{}", help="ParseConfig overrides, as JSON")
    args = ap.parse_args(argv)
    pages = html_pages(args.benchmarks, args.sets, args.day)
    current = outputs(pages, ParseConfig(**json.loads(args.parse_json)))
    return save_or_compare(args, current, lambda before, after: f"{before} -> {after}"[:600])


if __name__ == "__main__":
    sys.exit(main())
