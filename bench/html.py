"""HTML extraction quality on the aeb-dev pages, through exactly the pipeline's path.

Each page goes through ``tasks.read.parse_object`` (decode, trafilatura with the ParseConfig options)
and then ``tasks.clean.clean_documents`` (batch boilerplate + the noise cleaner), as in the daily
flow; the published body is scored against the benchmark's gold body. The parse step's own text
(trafilatura's, before the cleaner) is scored too, to show what the cleaner pass adds or costs.

    python -m bench.html [--bench-dir DIR] [--score-tool PATH] [--worst 5] [--parse-json '{"favor_precision": true}']
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder is sys.path[0], where this file would shadow the stdlib's html module.
sys.path[0] = str(REPO_ROOT)

from bench.noise import DEFAULT_BENCH, DEFAULT_SCORER, load_scorer  # noqa: E402
from tasks.clean import clean_documents  # noqa: E402
from tasks.config import CleanConfig, ParseConfig, ReadConfig  # noqa: E402
from tasks.read import parse_object  # noqa: E402
from tasks.records import article_id  # noqa: E402


def parse_pages(bench: Path, config: ParseConfig) -> tuple[dict, list]:
    """page id -> the documents the read step makes of its .html.gz file; and all parse rejections."""
    documents, rejected = {}, []
    for path in sorted((bench / "html").glob("*.html.gz")):
        page_id = path.name.split(".")[0]
        outcome = parse_object(str(path), path.name, gzip.decompress(path.read_bytes()), path.stat().st_size, ReadConfig(), config)
        documents[page_id] = outcome.documents
        rejected += outcome.rejections
    return documents, rejected


def report(name: str, scorer, gold: dict, pred: dict, seconds: float, worst: int) -> None:
    result = scorer.score(gold, pred)
    print(f"{name}: f1={result['f1']:.4f} precision={result['precision']:.4f} recall={result['recall']:.4f} "
          f"docs={result['docs']} ({seconds:.1f}s)")
    if worst:
        def f1_of(t):
            p, r = scorer.precision(*t), scorer.recall(*t)
            return 2 * p * r / (p + r) if p + r else 0.0

        for key, t in sorted(result["per_doc"].items(), key=lambda kv: f1_of(kv[1]))[:worst]:
            print(f"  {key} f1={f1_of(t):.3f} precision={scorer.precision(*t):.3f} recall={scorer.recall(*t):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH, help="holds html/<id>.html.gz and gold.jsonl")
    ap.add_argument("--score-tool", type=Path, default=DEFAULT_SCORER, help="the benchmark's aeb_score.py")
    ap.add_argument("--worst", type=int, default=5, help="how many lowest-F1 pages to list")
    ap.add_argument("--parse-json", default="{}", help="ParseConfig overrides, as JSON")
    args = ap.parse_args()
    scorer = load_scorer(args.score_tool)
    gold = scorer.load(str(args.bench_dir / "gold.jsonl"))
    config = ParseConfig(**json.loads(args.parse_json))

    start = time.perf_counter()
    documents, rejected = parse_pages(args.bench_dir, config)
    parse_seconds = time.perf_counter() - start
    extracted = {page_id: "\n".join(doc.text for doc in docs) for page_id, docs in documents.items()}

    start = time.perf_counter()
    outcome = clean_documents([doc for docs in documents.values() for doc in docs], CleanConfig())
    clean_seconds = time.perf_counter() - start
    ids = {article_id(doc.source_uri, doc.locator): page_id for page_id, docs in documents.items() for doc in docs}
    published = {ids[row["article_id"]]: row["body"] for row in outcome.records.iter_rows(named=True)}

    report("pipeline (trafilatura + cleaner)", scorer, gold, published, parse_seconds + clean_seconds, args.worst)
    report("parse step alone (trafilatura, headline line dropped)", scorer, gold, extracted, parse_seconds, args.worst)
    print(f"parse rejections: {len(rejected)}, clean rejections: {len(outcome.rejections)}")


if __name__ == "__main__":
    sys.exit(main())
