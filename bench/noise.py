"""Score the scraper-noise cleaner on the article-extraction dev set.

Runs the pages through the clean step exactly as the pipeline does for one run (batch boilerplate
over all pages, then clean_text on each), writes the predicted bodies to a temporary JSONL file and
scores them with the benchmark's own scoring tool.

    python bench/noise.py [--bench-dir DIR] [--score-tool PATH] [--worst 5] [--through-pipeline]

With --through-pipeline the pages go through the whole daily flow instead (read, clean, record
suite, dedup, batch suite, publish to a temporary folder): the bodies scored are those of the
published articles and duplicates, and a quarantined page counts as an empty body.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where bench/html.py would shadow the
# standard library's html module; the repository root goes there instead.
sys.path[:] = [str(REPO_ROOT), *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

from tasks.clean import clean_text, find_batch_boilerplate  # noqa: E402
from tasks.config import CleanConfig  # noqa: E402

DEFAULT_BENCH = REPO_ROOT.parent / "shared" / "benchmarks" / "aeb-dev"
DEFAULT_SCORER = REPO_ROOT.parent / "shared" / "tools" / "aeb_score.py"


def load_scorer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("aeb_score", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def predict(bench_dir: Path, config: CleanConfig) -> tuple[dict[str, str], Counter[str], float]:
    """Predicted bodies by page id, removal counts by rule, and seconds spent cleaning."""
    raws = {p.stem: p.read_text(encoding="utf-8", errors="replace") for p in sorted((bench_dir / "raw").glob("*.txt"))}
    started = time.process_time()
    boilerplate = find_batch_boilerplate(list(raws.values()), config)
    cleaned = {key: clean_text(raw, config, boilerplate) for key, raw in raws.items()}
    elapsed = time.process_time() - started
    rules: Counter[str] = Counter()
    for doc in cleaned.values():
        rules.update(doc.rule_counts())
    return {key: doc.body for key, doc in cleaned.items()}, rules, elapsed


def predict_through_pipeline(bench_dir: Path) -> tuple[dict[str, str], Counter[str], float]:
    """Bodies as `cleanwire run` publishes them (quarantined pages are absent, i.e. empty)."""
    import polars as pl

    from flows.daily import daily_flow

    with tempfile.TemporaryDirectory(prefix="cleanwire-bench-") as dest:
        started = time.perf_counter()
        manifest = daily_flow(source=str(bench_dir / "raw"), dest=dest, run_id="bench-noise")
        elapsed = time.perf_counter() - started
        rows = pl.concat(
            [pl.read_parquet(f"{dest}/{name}/**/*.parquet").select("source_uri", "body") for name in ("articles", "duplicates")]
        )
    print(f"pipeline counts: {manifest['counts']}; quarantine reasons: {manifest['quarantine_reasons']}")
    bodies = {Path(uri).stem: body for uri, body in rows.iter_rows()}
    return bodies, Counter(manifest["removed_by_rule"]), elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH, help="holds raw/<id>.txt and gold.jsonl")
    ap.add_argument("--score-tool", type=Path, default=DEFAULT_SCORER, help="the benchmark's aeb_score.py")
    ap.add_argument("--worst", type=int, default=5, help="how many lowest-F1 pages to list")
    ap.add_argument("--through-pipeline", action="store_true", help="score what a whole `cleanwire run` publishes")
    args = ap.parse_args(argv)

    gold_path = args.bench_dir / "gold.jsonl"
    if not gold_path.is_file() or not (args.bench_dir / "raw").is_dir():
        print(f"benchmark not found: {args.bench_dir} needs gold.jsonl and raw/ (pass --bench-dir)", file=sys.stderr)
        return 2
    if not args.score_tool.is_file():
        print(f"scoring tool not found: {args.score_tool} (pass --score-tool)", file=sys.stderr)
        return 2
    scorer = load_scorer(args.score_tool)

    if args.through_pipeline:
        bodies, rules, elapsed = predict_through_pipeline(args.bench_dir)
    else:
        bodies, rules, elapsed = predict(args.bench_dir, CleanConfig())
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        for key, body in bodies.items():
            f.write(json.dumps({"id": key, "body": body}, ensure_ascii=False) + "\n")
        pred_path = Path(f.name)
    try:
        result = scorer.score(scorer.load(str(gold_path)), scorer.load(str(pred_path)))
    finally:
        pred_path.unlink(missing_ok=True)

    print(
        f"pages={len(result['per_doc'])} f1={result['f1']:.3f} precision={result['precision']:.3f} recall={result['recall']:.3f}"
    )
    if args.through_pipeline:
        print(f"whole flow: {elapsed:.1f}s wall (Prefect, GX and publish included)")
    else:
        print(f"clean CPU time: {elapsed:.2f}s ({len(bodies) / elapsed:.0f} pages per CPU-second, batch boilerplate included)")

    def f1_of(t: tuple[float, float, float]) -> float:
        p, r = scorer.precision(*t), scorer.recall(*t)
        return 2 * p * r / (p + r) if p + r else 0.0

    print(f"worst {args.worst}:")
    for key, t in sorted(result["per_doc"].items(), key=lambda kv: f1_of(kv[1]))[: args.worst]:
        print(f"  {key} f1={f1_of(t):.3f} precision={scorer.precision(*t):.3f} recall={scorer.recall(*t):.3f}")
    print("removals by rule:")
    for rule, n in rules.most_common():
        print(f"  {rule:<20} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
