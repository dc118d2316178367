"""Score the scraper-noise cleaner on the dev sets, in the shapes news arrives in.

Every shape is built from the dev sets' own pages and gold bodies (``../shared/benchmarks``), run
through the clean step exactly as a run does (``clean_documents`` over the whole batch: recurring
lines per site, then each document), and scored with the benchmark's scorer:

- ``raw``: the page's visible text as a scraper saved it (the benchmark proper);
- ``one-line``: the gold body flattened to one line (news-API and JSONL exports);
- ``lines`` / ``blank-lines``: the gold body, one paragraph per line, or paragraphs separated by
  blank lines (clean input: it must come out unchanged);
- ``wire+scrape``: each gold body as a clean wire copy beside its raw scrape, all in one batch and
  one folder; scored on the copies, and the duplicate relation found by
  the dedup engine over the published bodies is scored against the pairs that are one story: a
  page's copy and scrape, and the documents of two pages reviewed as one story
  (bench/same_story_pairs.json);
- ``syndicated``: each story in the chrome of three "sites" (the lines above and below the article
  on another dev page, one site per donor page, the URL's host naming the site), one batch;
- ``markdown``: the page's HTML as a Markdown scraper saves it (html2text, lines not wrapped: menus
  as link lists, images, tables), read as a run reads a ``.md`` file (``tasks.read.parse_object``).

One table: set, shape, documents, F1 / precision / recall against the gold, share quarantined by the
clean step, share the record suite's noise-marker rule would quarantine, share of clean inputs that
come out unchanged, documents per CPU-second of the clean step. On wcxb-dev, the share of the
``without`` snippets left and ``with`` snippets missing follow, and on both sets the share of the
comment and related-block text labelled in tests/tasks/noise_blocks.json that the raw bodies keep.

    python -m bench.noise [--sets aeb-dev,wcxb-dev] [--shapes raw,one-line,...] [--half A|B] [--worst 5] [--through-pipeline]

With --half A or B only one half of each set's pages is used (a stable hash of the page id): develop
a rule on one half, check it holds on the other.

With --through-pipeline the raw aeb-dev pages go through the whole daily flow instead (read, clean,
record suite, dedup, batch suite, publish to a temporary folder): the bodies scored are those of the
published articles and duplicates, and a quarantined page counts as an empty body.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where bench/html.py would shadow the
# standard library's html module; the repository root goes there instead.
sys.path[:] = [str(REPO_ROOT), *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

import polars as pl  # noqa: E402

from bench.corpus import reviewed_pairs  # noqa: E402
from tasks.clean import CleanOutcome, clean_documents, normalise  # noqa: E402
from tasks.config import CleanConfig, DedupConfig, ParseConfig, ReadConfig  # noqa: E402
from tasks.parse import RawDocument  # noqa: E402
from tasks.read import parse_object  # noqa: E402

BENCHMARKS = REPO_ROOT.parent / "shared" / "benchmarks"
DEFAULT_BENCH = BENCHMARKS / "aeb-dev"
DEFAULT_SCORER = REPO_ROOT.parent / "shared" / "tools" / "aeb_score.py"
SHAPES = ("raw", "one-line", "lines", "blank-lines", "wire+scrape", "syndicated", "markdown")
# Comment sections and related blocks of dev pages, labelled by raw line range (reviewed data).
LABELLED_BLOCKS = REPO_ROOT / "tests" / "tasks" / "noise_blocks.json"
BLOCK_MIN_WORDS = 4  # a shorter line ("Reply", "3 min read") is found in too many bodies to tell
SITES_PER_STORY = 3
SYNDICATION_SITES = 8
SYNDICATED_STORIES = 120


def load_scorer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("aeb_score", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Page:
    id: str
    raw: str
    gold: str
    paragraphs: tuple[str, ...]
    url: str | None
    with_snippets: tuple[str, ...]
    without_snippets: tuple[str, ...]
    html: Path  # the saved page (html/<id>.html.gz), where the set has it


def load_pages(bench_dir: Path) -> list[Page]:
    pages = []
    for line in (bench_dir / "gold.jsonl").read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        row = json.loads(line)
        raw_path = bench_dir / "raw" / f"{row['id']}.txt"
        if not raw_path.is_file():
            continue
        body = row.get("body") or ""
        pages.append(
            Page(
                row["id"],
                raw_path.read_text(encoding="utf-8", errors="replace"),
                body,
                tuple(p.strip() for p in body.splitlines() if p.strip()),
                row.get("url"),
                tuple(row.get("with") or ()),
                tuple(row.get("without") or ()),
                bench_dir / "html" / f"{row['id']}.html.gz",
            )
        )
    return pages


def half_of(page_id: str) -> str:
    """The half ("A" or "B") a page belongs to: a stable split of a set's pages by a hash of the page id, so that a rule tuned on
    one half can be checked on the other."""
    return "AB"[hashlib.blake2b(page_id.encode("utf-8"), digest_size=1).digest()[0] & 1]


def document(uri: str, text: str, url: str | None = None) -> RawDocument:
    return RawDocument(uri, "", text, len(text.encode("utf-8")), url=url)


# --- The shapes: documents in one batch, and which of them are scored against which gold ---------------


@dataclass(frozen=True)
class Shape:
    documents: list[RawDocument]
    scored: dict[str, str]  # source_uri -> gold body
    inputs: dict[str, str]  # source_uri -> the clean text that went in, for clean-input shapes
    pairs: frozenset[frozenset[str]] = frozenset()  # source_uri pairs that are one story (wire+scrape)


def raw_shape(pages: list[Page], name: str) -> Shape:
    docs = [document(f"{name}/raw/{p.id}.txt", p.raw) for p in pages]
    return Shape(docs, {d.source_uri: p.gold for d, p in zip(docs, pages, strict=True)}, {})


def clean_shape(pages: list[Page], name: str, join: Callable[[tuple[str, ...]], str], folder: str) -> Shape:
    docs = [document(f"{name}/{folder}/{p.id}.txt", join(p.paragraphs)) for p in pages if p.paragraphs]
    golds = {f"{name}/{folder}/{p.id}.txt": p.gold for p in pages if p.paragraphs}
    return Shape(docs, golds, {d.source_uri: d.text for d in docs})


def wire_shape(pages: list[Page], name: str) -> Shape:
    kept = [p for p in pages if p.paragraphs]
    # One folder, as a feed landing next to the scrapes: nothing but the text tells copy from chrome.
    wires = [document(f"{name}/mixed/{p.id}-wire.txt", "\n".join(p.paragraphs)) for p in kept]
    scrapes = [document(f"{name}/mixed/{p.id}-scrape.txt", p.raw) for p in kept]
    # One story: a page's copy and scrape, and across two pages reviewed by hand as one story told by
    # two outlets (bench/same_story_pairs.json), each document of one with each of the other.
    documents_of = {p.id: (w.source_uri, s.source_uri) for p, w, s in zip(kept, wires, scrapes, strict=True)}
    stories = [(page, page) for page in documents_of] + [
        tuple(pair) for pair in reviewed_pairs()["same_story"] if pair <= documents_of.keys()
    ]
    pairs = frozenset(
        frozenset((x, y)) for a, b in stories for x in documents_of[a] for y in documents_of[b] if x != y
    )
    return Shape(
        wires + scrapes,
        {w.source_uri: p.gold for w, p in zip(wires, kept, strict=True)},
        {w.source_uri: w.text for w in wires},
        pairs,
    )


def page_chrome(page: Page) -> tuple[list[str], list[str]] | None:
    """The raw lines above and below the article on `page`: its site's chrome (None when the
    article's first and last paragraphs are not found as lines of the scrape)."""
    if len(page.paragraphs) < 2:
        return None
    lines = page.raw.splitlines()
    keys = [normalise(line) for line in lines]
    first_key, last_key = normalise(page.paragraphs[0]), normalise(page.paragraphs[-1])
    try:
        first = keys.index(first_key)
        last = len(keys) - 1 - keys[::-1].index(last_key)
    except ValueError:
        return None
    return (lines[:first], lines[last + 1 :]) if first < last else None


def syndicated_shape(pages: list[Page], name: str) -> Shape:
    """Stories each carried by several sites, inside the chrome of those sites: one batch."""
    donors = [(p, chrome) for p in pages if (chrome := page_chrome(p))][:SYNDICATION_SITES]
    donor_ids = {p.id for p, _ in donors}
    stories = [p for p in pages if p.paragraphs and p.id not in donor_ids][:SYNDICATED_STORIES]
    docs, golds = [], {}
    for n, story in enumerate(stories):
        for k in range(SITES_PER_STORY):
            site = (n + k) % len(donors)
            above, below = donors[site][1]
            uri = f"{name}/syndicated/site{site}/{story.id}.txt"
            docs.append(document(uri, "\n".join([*above, *story.paragraphs, *below]), f"https://site{site}.example/{story.id}"))
            golds[uri] = story.gold
    return Shape(docs, golds, {})


def markdown_shape(pages: list[Page], name: str) -> Shape:
    """Each saved page as Markdown (html2text, unwrapped), as the read step reads a .md scrape."""
    import html2text

    docs, golds = [], {}
    for page in pages:
        if not page.html.is_file():
            continue
        converter = html2text.HTML2Text()
        converter.body_width = 0
        markdown = converter.handle(gzip.decompress(page.html.read_bytes()).decode("utf-8", errors="replace")).encode("utf-8")
        uri = f"{name}/markdown/{page.id}.md"
        docs += parse_object(uri, uri, markdown, len(markdown), ReadConfig(), ParseConfig()).documents
        golds[uri] = page.gold
    return Shape(docs, golds, {})


def build_shape(shape: str, pages: list[Page], name: str) -> Shape:
    match shape:
        case "raw":
            return raw_shape(pages, name)
        case "one-line":
            return clean_shape(pages, name, " ".join, "oneline")
        case "lines":
            return clean_shape(pages, name, "\n".join, "lines")
        case "blank-lines":
            return clean_shape(pages, name, "\n\n".join, "blank")
        case "wire+scrape":
            return wire_shape(pages, name)
        case "syndicated":
            return syndicated_shape(pages, name)
        case "markdown":
            return markdown_shape(pages, name)
    raise ValueError(shape)


# --- Measuring ----------------------------------------------------------------------------------------


def record_noise_markers() -> list[re.Pattern[str]]:
    """The record suite's noise-marker regexes (a body matching one is quarantined by the suite)."""
    suite = json.loads((REPO_ROOT / "expectations" / "records.json").read_text(encoding="utf-8"))
    lists = [e["kwargs"]["regex_list"] for e in suite["expectations"] if e["type"] == "expect_column_values_to_not_match_regex_list"]
    return [re.compile(p) for patterns in lists for p in patterns]


def snippet_norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", (text or "").lower()))


@dataclass
class Row:
    set: str
    shape: str
    docs: int
    f1: float
    precision: float
    recall: float
    quarantined: float
    marker: float
    unchanged: float | None
    docs_per_cpu_s: float
    notes: str = ""


def run_shape(name: str, shape_name: str, pages: list[Page], scorer: ModuleType, config: CleanConfig, worst: int) -> Row:
    shape = build_shape(shape_name, pages, name)
    started = time.process_time()
    outcome: CleanOutcome = clean_documents(shape.documents, config)
    elapsed = time.process_time() - started
    bodies = dict(zip(outcome.records["source_uri"], outcome.records["body"], strict=True))
    result = scorer.score(shape.scored, {uri: bodies.get(uri, "") for uri in shape.scored})
    markers = record_noise_markers()
    marked = sum(any(m.search(body) for m in markers) for body in bodies.values())
    n = len(shape.documents)
    unchanged = None
    if shape.inputs:
        # Unchanged: the body is the input's non-blank lines, stripped, in order.
        unchanged = sum(bodies.get(uri) == non_blank_lines(text) for uri, text in shape.inputs.items()) / len(shape.inputs)
    row = Row(
        name, shape_name, n, result["f1"], result["precision"], result["recall"],
        len(outcome.rejections) / n, marked / n, unchanged, n / elapsed if elapsed else float("inf"),
    )
    if shape.pairs:
        row.notes = dedup_pairs(outcome, shape.pairs)
    if shape_name == "raw":
        raw_bodies = {p.id: bodies.get(f"{name}/raw/{p.id}.txt", "") for p in pages}
        row.notes = "; ".join(filter(None, [snippets(pages, raw_bodies), labelled_blocks(name, pages, raw_bodies)]))
        if worst:
            print_worst(name, result, scorer, worst, outcome)
    return row


def non_blank_lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def dedup_pairs(outcome: CleanOutcome, truth: frozenset[frozenset[str]]) -> str:
    """Pairwise recall and precision of the duplicate relation the dedup engine finds among the published bodies."""
    from tasks.dedup import deduplicate_table

    table = outcome.records.select("source_uri", "body")
    verdicts = deduplicate_table(table, "body", "source_uri", DedupConfig())
    clusters: dict[str, list[str]] = {}
    for uri, cluster in verdicts.select("source_uri", "cluster_id").iter_rows():
        clusters.setdefault(cluster, []).append(uri)
    found = {frozenset((a, b)) for members in clusters.values() for i, a in enumerate(members) for b in members[i + 1 :]}
    both_published = {pair for pair in truth if pair <= set(table["source_uri"])}
    recall = len(found & truth) / len(truth) if truth else 1.0
    precision = len(found & truth) / len(found) if found else 1.0
    return f"dedup pairs: recall {recall:.3f} precision {precision:.3f} (both published: {len(both_published)}/{len(truth)})"


def snippets(pages: list[Page], bodies: dict[str, str]) -> str:
    left = total_without = missing = total_with = 0
    for page in pages:
        body = snippet_norm(bodies.get(page.id, ""))
        for s in filter(None, map(snippet_norm, page.without_snippets)):
            total_without += 1
            left += s in body
        for s in filter(None, map(snippet_norm, page.with_snippets)):
            total_with += 1
            missing += s not in body
    if not total_without and not total_with:
        return ""
    return f"snippets: without left {left / max(total_without, 1):.3f} of {total_without}, with missing {missing / max(total_with, 1):.3f} of {total_with}"


def labelled_blocks(name: str, pages: list[Page], bodies: dict[str, str]) -> str:
    """Share of the labelled comment and related-block text still in the bodies, per kind: the
    block's lines of at least BLOCK_MIN_WORDS words that the gold body lacks, weighted by length."""
    if not LABELLED_BLOCKS.is_file():
        return ""
    by_id = {p.id: p for p in pages}
    left: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for block in json.loads(LABELLED_BLOCKS.read_text(encoding="utf-8"))["blocks"]:
        page = by_id.get(block["id"])
        if block["set"] != name or page is None:
            continue
        gold, body = snippet_norm(page.gold), snippet_norm(bodies.get(page.id, ""))
        for line in page.raw.splitlines()[block["first_line"] - 1 : block["last_line"]]:
            key = snippet_norm(line)
            if len(key.split()) >= BLOCK_MIN_WORDS and key not in gold:
                total[block["kind"]] += len(key)
                left[block["kind"]] += len(key) * (key in body)
    return ", ".join(f"labelled {kind} text left {left[kind] / total[kind]:.3f} of {total[kind]} chars" for kind in sorted(total))


def print_worst(name: str, result: dict, scorer: ModuleType, worst: int, outcome: CleanOutcome) -> None:
    def f1_of(t: tuple[float, float, float]) -> float:
        p, r = scorer.precision(*t), scorer.recall(*t)
        return 2 * p * r / (p + r) if p + r else 0.0

    print(f"{name} raw: worst {worst}:")
    for key, t in sorted(result["per_doc"].items(), key=lambda kv: f1_of(kv[1]))[:worst]:
        print(f"  {key} f1={f1_of(t):.3f} precision={scorer.precision(*t):.3f} recall={scorer.recall(*t):.3f}")
    print(f"{name} raw: removals by rule: {dict(Counter(outcome.rule_counts).most_common())}")


def print_table(rows: list[Row]) -> None:
    print(f"{'set':<9} {'shape':<12} {'docs':>5} {'F1':>6} {'prec':>6} {'recall':>6} {'quar':>6} {'marker':>6} {'unchg':>6} {'docs/CPU-s':>10}")
    for r in rows:
        unchanged = f"{r.unchanged:6.3f}" if r.unchanged is not None else f"{'-':>6}"
        print(
            f"{r.set:<9} {r.shape:<12} {r.docs:>5} {r.f1:6.3f} {r.precision:6.3f} {r.recall:6.3f} "
            f"{r.quarantined:6.3f} {r.marker:6.3f} {unchanged} {r.docs_per_cpu_s:10.0f}"
        )
    for r in rows:
        if r.notes:
            print(f"{r.set} {r.shape}: {r.notes}")


# --- The whole flow -------------------------------------------------------------------------------------


def predict_through_pipeline(bench_dir: Path) -> dict[str, str]:
    """Bodies as `cleanwire run` publishes them (quarantined pages are absent, i.e. empty)."""
    from flows.daily import daily_flow

    with tempfile.TemporaryDirectory(prefix="cleanwire-bench-") as dest:
        started = time.perf_counter()
        manifest = daily_flow(source=str(bench_dir / "raw"), dest=dest, run_id="bench-noise")
        elapsed = time.perf_counter() - started
        rows = pl.concat(
            [pl.read_parquet(f"{dest}/{name}/**/*.parquet").select("source_uri", "body") for name in ("articles", "duplicates")]
        )
    print(f"pipeline counts: {manifest['counts']}; quarantine reasons: {manifest['quarantine_reasons']}")
    print(f"whole flow: {elapsed:.1f}s wall (Prefect, GX and publish included)")
    return {Path(uri).stem: body for uri, body in rows.iter_rows()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", type=Path, default=BENCHMARKS, help="holds the dev sets (<set>/raw/<id>.txt, <set>/gold.jsonl)")
    ap.add_argument("--sets", default="aeb-dev,wcxb-dev", help="comma-separated dev sets")
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated shapes of {', '.join(SHAPES)}")
    ap.add_argument("--score-tool", type=Path, default=DEFAULT_SCORER, help="the benchmark's aeb_score.py")
    ap.add_argument("--worst", type=int, default=0, help="how many lowest-F1 raw pages to list per set")
    ap.add_argument("--half", choices=("A", "B"), help="only the pages of one half of each set (a stable hash of the page id)")
    ap.add_argument("--through-pipeline", action="store_true", help="score what a whole `cleanwire run` publishes (aeb-dev raw)")
    args = ap.parse_args(argv)

    if not args.score_tool.is_file():
        print(f"scoring tool not found: {args.score_tool} (pass --score-tool)", file=sys.stderr)
        return 2
    scorer = load_scorer(args.score_tool)
    sets = [s for s in args.sets.split(",") if s]
    missing = [s for s in sets if not (args.benchmarks / s / "gold.jsonl").is_file()]
    if missing:
        print(f"benchmark not found: {', '.join(missing)} under {args.benchmarks} (pass --benchmarks)", file=sys.stderr)
        return 2

    if args.through_pipeline:
        bench_dir = args.benchmarks / sets[0]
        bodies = predict_through_pipeline(bench_dir)
        gold = {p.id: p.gold for p in load_pages(bench_dir)}
        result = scorer.score(gold, bodies)
        print(f"{sets[0]} through the pipeline: f1={result['f1']:.3f} precision={result['precision']:.3f} recall={result['recall']:.3f}")
        return 0

    rows = []
    for name in sets:
        pages = [p for p in load_pages(args.benchmarks / name) if args.half in (None, half_of(p.id))]
        for shape in (s for s in args.shapes.split(",") if s):
            rows.append(run_shape(name, shape, pages, scorer, CleanConfig(), args.worst))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
