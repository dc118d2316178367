"""Whole-run throughput: `cleanwire run` on a generated day of scraped pages, measured end to end.

    python -m bench.pipeline [--sizes 10000,100000] [--bench-dirs DIR,DIR] [--workdir DIR] [--keep]

A day of N pages is built from the dev sets' real pages (``raw/<id>.txt`` and ``gold.jsonl`` of
aeb-dev and wcxb-dev): each page's site chrome (the raw lines before and after its gold article)
is wrapped around new article text — sentences drawn from all gold articles, about one word in
seven replaced by a word of the whole pool, so articles are distinct (the prose is real, the
sentences' order is not). An HTML page is its chrome's source page itself (the dev set's saved HTML:
its markup, scripts, styles, metadata and declared language) with the elements holding the gold
article replaced by the new one, so HTML read cost is a real page's; a source page whose article
is not found as whole elements gets a small generated page in the same language.
About 10 % of the pages are near-duplicates of an earlier page (a few words changed, the last
paragraph dropped, often on another site's chrome) and about 2 % are bad inputs (empty, binary,
a page with no article, a broken JSON line). Pages are plain-text scrapes (~80 %), HTML (~10 %)
and JSONL files of 20 records (~10 % of the documents).

Each size is run as ``cleanwire run`` in a subprocess, after a run on a one-document day whose
wall time is the fixed start-up (imports, the embedded Prefect server, GX, numba cache load).
Printed per size: whole-run documents per second (excluding the fixed start-up), each step's
seconds and documents per second (the manifest's ``timings_seconds``; publish and Data Docs from
the log), the process tree's CPU seconds per step (steadier than wall time on a shared machine)
and cores busy, beside the machine-wide per-core utilisation in that window (other jobs included),
and peak RSS of the process tree, over the run and per step. Generated days are kept under
``--workdir`` (default: a temporary folder, removed) and reused when ``--keep`` is given; each
run's manifest, log lines and samples are saved there as ``run-<size>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import lxml.etree
import lxml.html

from tasks.parse import HTML_TAG_WITHIN, declared_language

if TYPE_CHECKING:
    import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCH_DIRS = [REPO_ROOT.parent / "shared" / "benchmarks" / name for name in ("aeb-dev", "wcxb-dev")]
INGEST_DATE = "2026-11-30"  # after every date the dev sets' articles mention (2019-2026)

NEAR_DUPLICATE_SHARE = 0.10
BAD_SHARE = 0.02
HTML_SHARE = 0.10
JSONL_SHARE = 0.10
JSONL_RECORDS_PER_FILE = 20
WORD_SWAP_SHARE = 0.15
SAMPLE_SECONDS = 0.2
# A source page serves as an HTML page's template when this share of its gold paragraphs are whole
# elements there (the rest of its article would otherwise stay in the page beside the new one).
TEMPLATE_MIN_FOUND = 0.8
ARTICLE_SLOT = "cleanwire-bench-article"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'])")
_WORD = re.compile(r"^[A-Za-z][a-z]{2,}$")
_NOT_LETTER = re.compile(r"[\W_]+")


# --- the generated day ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Chrome:
    head: list[str]
    tail: list[str]
    lang: str | None = None  # what the source page's <html lang> declares; None when it declares none
    page: str | None = None  # the source page's HTML with ARTICLE_SLOT where its article was; None: not found


@dataclass
class Material:
    chromes: list[Chrome]
    sentences: list[str]  # every sentence of the gold articles in Latin script
    vocabulary: list[str]
    titles: list[str]


def load_material(bench_dirs: list[Path]) -> Material:
    """Site chrome of every raw page whose gold article can be located in it, and the gold text."""
    chromes, sentences, titles, vocabulary = [], [], [], set()
    for bench in bench_dirs:
        for line in (bench / "gold.jsonl").read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            gold = json.loads(line)
            raw_path = bench / "raw" / f"{gold['id']}.txt"
            if not raw_path.is_file() or not gold.get("body"):
                continue
            raw = raw_path.read_text(encoding="utf-8", errors="replace").splitlines()
            paragraphs = {p.strip() for p in gold["body"].splitlines() if len(p.strip()) > 40}
            hits = [i for i, text in enumerate(raw) if text.strip() in paragraphs]
            if hits:
                html_path = bench / "html" / f"{gold['id']}.html.gz"
                chromes.append(
                    Chrome(raw[: hits[0]], raw[hits[-1] + 1 :], source_page_language(html_path), page_template(html_path, paragraphs))
                )
            article = [s for p in gold["body"].split("\n") for s in _SENTENCE_END.split(p.strip()) if len(s) > 30]
            latin = [s for s in article if sum(c.isascii() for c in s) > 0.95 * len(s)]
            sentences.extend(latin)
            vocabulary.update(w for s in latin for w in s.split() if _WORD.match(w))
            if gold.get("title"):
                titles.append(gold["title"])
    return Material(chromes, sentences, sorted(vocabulary), titles)


def source_page_language(html_path: Path) -> str | None:
    """The language a dev set's gzipped HTML page declares in its <html> tag, or None (no tag, no page)."""
    if not html_path.is_file():
        return None
    with gzip.open(html_path) as page:
        return declared_language(page.read(HTML_TAG_WITHIN))


def page_template(html_path: Path, paragraphs: set[str]) -> str | None:
    """The saved page with ARTICLE_SLOT as the whole content of the innermost element that holds at
    least TEMPLATE_MIN_FOUND of its gold paragraphs, or None when no element does (the article would
    stay beside the new one)."""
    if not html_path.is_file() or not paragraphs:
        return None
    try:
        root = lxml.html.document_fromstring(gzip.decompress(html_path.read_bytes()))
    except (lxml.etree.ParserError, ValueError):
        return None
    # A paragraph's opening letters and digits: markup splits words apart ("<b>A</b>nd") and list
    # items lose the marker the gold gives them, so text is compared without spaces or punctuation.
    keys = {_letters(p.lstrip("-*• "))[:60] for p in paragraphs}
    keys.discard("")

    def holds_article(element) -> bool:
        text = _letters(element.text_content())
        return sum(key in text for key in keys) >= TEMPLATE_MIN_FOUND * len(keys)

    body = root.find("body")
    if body is None or not keys or not holds_article(body):
        return None
    container = body
    while (inner := next((c for c in container if isinstance(c.tag, str) and holds_article(c)), None)) is not None:
        container = inner
    for child in list(container):
        container.remove(child)
    container.text = ARTICLE_SLOT
    return lxml.html.tostring(root.getroottree(), encoding="unicode")


def _letters(text: str) -> str:
    return "".join(_NOT_LETTER.split(text.casefold()))


def new_article(rng: random.Random, material: Material) -> tuple[str, list[str]]:
    """A title and paragraphs of sentences drawn from all gold articles, with words swapped in from the pool."""
    chosen = rng.sample(material.sentences, rng.randint(10, 24))

    def varied(sentence: str) -> str:
        words = sentence.split()
        for i in range(len(words)):
            if rng.random() < WORD_SWAP_SHARE:
                words[i] = rng.choice(material.vocabulary)
        return " ".join(words)

    chosen = [varied(s) for s in chosen]
    paragraphs, i = [], 0
    while i < len(chosen):
        n = rng.randint(1, 3)
        paragraphs.append(" ".join(chosen[i : i + n]))
        i += n
    title = varied(rng.choice(material.titles))
    return title, paragraphs


def near_duplicate(rng: random.Random, paragraphs: list[str], material: Material) -> list[str]:
    """A syndicated copy: a few words changed, the last paragraph dropped when there are several."""
    kept = paragraphs[:-1] if len(paragraphs) > 3 else list(paragraphs)
    out = []
    for paragraph in kept:
        words = paragraph.split()
        for _ in range(max(1, len(words) // 60)):
            words[rng.randrange(len(words))] = rng.choice(material.vocabulary)
        out.append(" ".join(words))
    return out


def page_text(chrome: Chrome, title: str, paragraphs: list[str]) -> str:
    return "\n".join([*chrome.head, title, "", *(p + "\n" for p in paragraphs), *chrome.tail]) + "\n"


def page_html(chrome: Chrome, title: str, paragraphs: list[str]) -> str:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    article = f"<h1>{esc(title)}</h1>" + "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    if chrome.page is not None:
        return chrome.page.replace(ARTICLE_SLOT, article, 1)
    nav = "".join(f"<li><a href='#'>{esc(line)}</a></li>" for line in chrome.head if line.strip())
    foot = "".join(f"<p>{esc(line)}</p>" for line in chrome.tail if line.strip())
    lang = f" lang='{chrome.lang}'" if chrome.lang else ""
    return (
        f"<!doctype html><html{lang}><head><meta charset='utf-8'><title>{esc(title)}</title></head><body>"
        f"<nav><ul>{nav}</ul></nav><main><article>{article}</article></main>"
        f"<footer>{foot}</footer></body></html>\n"
    )


@dataclass
class DayStats:
    documents: int = 0
    near_duplicates: int = 0
    bad: int = 0
    files: dict[str, int] = field(default_factory=lambda: {"txt": 0, "html": 0, "jsonl": 0, "bad": 0})


def build_day(folder: Path, size: int, material: Material, seed: int = 16) -> DayStats:
    """Write a day of ``size`` documents (raw inputs) under ``folder``."""
    rng = random.Random(seed)
    stats = DayStats()
    folder.mkdir(parents=True, exist_ok=True)
    published: list[list[str]] = []
    jsonl: list[str] = []

    def flush_jsonl() -> None:
        if jsonl:
            (folder / f"records-{stats.files['jsonl']:05d}.jsonl").write_text("".join(jsonl), encoding="utf-8")
            stats.files["jsonl"] += 1
            jsonl.clear()

    for n in range(size):
        roll = rng.random()
        if roll < BAD_SHARE:
            stats.bad += 1
            stats.documents += 1
            kind = n % 4
            if kind == 0:
                (folder / f"page-{n:07d}.txt").write_bytes(b"")
            elif kind == 1:
                (folder / f"page-{n:07d}.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
            elif kind == 2:
                chrome = rng.choice(material.chromes)
                (folder / f"page-{n:07d}.txt").write_text("\n".join(chrome.head[:30]) + "\n", encoding="utf-8")
            else:
                jsonl.append('{"url": "https://example.invalid/broken", "text": "unterminated\n')
                if len(jsonl) >= JSONL_RECORDS_PER_FILE:
                    flush_jsonl()
                continue
            stats.files["bad"] += 1
            continue
        chrome = rng.choice(material.chromes)
        if published and rng.random() < NEAR_DUPLICATE_SHARE / (1 - BAD_SHARE):
            source = published[rng.randrange(len(published))]
            title, paragraphs = source[0], near_duplicate(rng, source[1:], material)
            stats.near_duplicates += 1
        else:
            title, paragraphs = new_article(rng, material)
            if len(published) < 50_000:
                published.append([title, *paragraphs])
        stats.documents += 1
        fmt = rng.random()
        if fmt < HTML_SHARE:
            (folder / f"page-{n:07d}.html").write_text(page_html(chrome, title, paragraphs), encoding="utf-8")
            stats.files["html"] += 1
        elif fmt < HTML_SHARE + JSONL_SHARE:
            record = {"url": f"https://news.example/{n}", "title": title, "text": page_text(chrome, "", paragraphs)}
            jsonl.append(json.dumps(record, ensure_ascii=False) + "\n")
            if len(jsonl) >= JSONL_RECORDS_PER_FILE:
                flush_jsonl()
        else:
            (folder / f"page-{n:07d}.txt").write_text(page_text(chrome, title, paragraphs), encoding="utf-8")
            stats.files["txt"] += 1
    flush_jsonl()
    (folder.parent / f"{folder.name}.stats.json").write_text(json.dumps(stats.__dict__))
    return stats


# --- measuring a run -----------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # time.time()
    cpu_seconds: float  # user + system of the process tree so far
    rss: int  # bytes, summed over the tree
    per_core: list[float]  # machine-wide busy % per core since the previous sample


@dataclass
class RunResult:
    wall: float
    started: float
    manifest: dict
    samples: list[Sample]
    log: list[tuple[float, str]]  # (time.time() of the log line, text)

    @property
    def peak_rss(self) -> int:
        return max((s.rss for s in self.samples), default=0)


def _tree_usage(proc: psutil.Process, finished: dict[int, float]) -> tuple[float, int]:
    """CPU seconds and RSS of ``proc`` and its descendants; children that exited keep their last CPU time.

    Only each process's own CPU time is summed: a parent's ``children_*`` times would count a reaped
    worker process (the fan-out pool, the embedded server) a second time."""
    import psutil  # the bench extra; building a day (tests) does not need it

    rss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return sum(finished.values()), 0
    for p in procs:
        try:
            with p.oneshot():
                times = p.cpu_times()
                finished[p.pid] = times.user + times.system
                rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return sum(finished.values()), rss


_LOG_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \| ")


def run_cleanwire(source: Path, dest: Path, cache_dir: Path, extra: list[str]) -> RunResult:
    import psutil

    cmd = [
        str(Path(sys.executable).parent / "cleanwire"), "run", "--source", str(source), "--dest", str(dest),
        "--date", INGEST_DATE, "--set", f"ops.cache_dir={cache_dir}", *extra,
    ]  # fmt: skip
    # On a loaded machine the embedded server can take longer than Prefect's default 20 s to answer.
    env = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", **os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    ps = psutil.Process(proc.pid)
    samples: list[Sample] = []
    log: list[tuple[float, str]] = []
    finished: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        psutil.cpu_percent(percpu=True)
        while not done.is_set():
            cpu, rss = _tree_usage(ps, finished)
            samples.append(Sample(time.time(), cpu, rss, psutil.cpu_percent(percpu=True)))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    day = dt.datetime.fromtimestamp(started).date()
    for line in proc.stdout:
        match = _LOG_TIME.match(line)
        when = time.time()
        if match:
            h, m, s, ms = map(int, match.groups())
            when = dt.datetime.combine(day, dt.time(h, m, s, ms * 1000)).timestamp()
        log.append((when, line.rstrip("\n")))
    code = proc.wait()
    wall = time.time() - started
    done.set()
    sampler.join()
    if code != 0:
        tail = "\n".join(text for _, text in log[-30:])
        raise RuntimeError(f"cleanwire run failed with exit code {code}:\n{tail}")
    manifest = json.loads((dest / "_manifests" / f"ingest_date={INGEST_DATE}.json").read_text())
    return RunResult(wall, started, manifest, samples, log)


# Log lines that end each step: the flow's own per-step lines (their order is the flow's order).
_STEP_ENDS = {
    "list": "- list: ",
    "read": "- read: ",
    "clean": "- clean: ",
    "validate_records": "- validate records: ",
    "dedup": "- dedup index: ",
    "validate_batch": "Task run 'validate-batch",
    "data_docs": "- validation report: ",
    "publish": "- publish: committed",
}


def step_windows(result: RunResult) -> dict[str, tuple[float, float]]:
    """(start, end) in time.time() of every step: ends from the log, lengths from the manifest."""
    ends = {}
    for step, marker in _STEP_ENDS.items():
        ends[step] = next((when for when, text in result.log if marker in text), None)
    timings = result.manifest["timings_seconds"]
    windows = {}
    for step, end in ends.items():
        if end is None:
            continue
        if step in timings:
            windows[step] = (end - timings[step], end)
    if ends.get("data_docs") and ends.get("validate_batch"):
        windows["data_docs"] = (ends["validate_batch"], ends["data_docs"])
    if ends.get("publish") and ends.get("data_docs"):
        windows["publish"] = (ends["data_docs"], ends["publish"])
    first = next((when for when, text in result.log if "Beginning flow run" in text), None)
    if first:
        windows["start-up"] = (result.started, first)
    return windows


def usage_in(samples: list[Sample], start: float, end: float) -> tuple[float, float, list[float]]:
    """CPU seconds and cores busy of the process tree, and machine-wide per-core busy %, over [start, end]."""
    inside = [s for s in samples if start <= s.at <= end + SAMPLE_SECONDS]
    before = [s for s in samples if s.at <= start]
    if not inside:
        return float("nan"), float("nan"), []
    first = before[-1] if before else inside[0]
    last = inside[-1]
    cpu = last.cpu_seconds - first.cpu_seconds
    cores = cpu / max(last.at - first.at, 1e-9)
    per_core = [sum(col) / len(col) for col in zip(*(s.per_core for s in inside))] if inside[0].per_core else []
    return cpu, cores, per_core


STEP_ORDER = ["start-up", "list", "read", "clean", "validate_records", "dedup", "validate_batch", "data_docs", "publish"]


def report(size: int, result: RunResult, fixed: float) -> None:
    counts = result.manifest["counts"]
    inputs = counts["inputs"]
    windows = step_windows(result)
    net = result.wall - fixed
    print(f"\n== {size} documents: {counts} ==")
    cpu = result.samples[-1].cpu_seconds if result.samples else float("nan")
    print(
        f"whole run {result.wall:.1f} s wall, {cpu:.0f} CPU-s; minus the fixed start-up ({fixed:.1f} s): {net:.1f} s = "
        f"{inputs / net:,.0f} docs/s; peak RSS {result.peak_rss / 2**30:.2f} GiB; "
        f"machine load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'step':<18}{'seconds':>9}{'docs/s':>11}{'CPU s':>9}{'docs/CPU-s':>12}{'cores busy':>12}{'peak GiB':>10}"
        "   machine per-core busy %"
    )
    for step in STEP_ORDER:
        if step not in windows:
            continue
        start, end = windows[step]
        seconds = end - start
        cpu, cores, per_core = usage_in(result.samples, start, end)
        rate = f"{inputs / seconds:,.0f}" if seconds > 0 and step != "start-up" else "-"
        cpu_rate = f"{inputs / cpu:,.0f}" if cpu > 0 and step != "start-up" else "-"
        peak = max((s.rss for s in result.samples if start <= s.at <= end), default=0) / 2**30
        print(
            f"{step:<18}{seconds:>9.2f}{rate:>11}{cpu:>9.1f}{cpu_rate:>12}{cores:>12.2f}{peak:>10.2f}   "
            f"{' '.join(f'{c:5.1f}' for c in per_core)}"
        )


def main(argv: list[str] | None = None) -> int:
    import psutil

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated day sizes (documents)")
    ap.add_argument("--bench-dirs", default=",".join(map(str, DEFAULT_BENCH_DIRS)), help="dev sets with raw/ and gold.jsonl")
    ap.add_argument("--workdir", type=Path, help="where days and outputs go (default: a temporary folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep generated days in --workdir and reuse them")
    ap.add_argument("--runner", default="local", choices=["local", "dask"], help="passed to cleanwire run")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="passed to cleanwire run")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    bench_dirs = [Path(p) for p in args.bench_dirs.split(",")]
    missing = [p for p in bench_dirs if not (p / "gold.jsonl").is_file()]
    if missing:
        print(f"benchmark not found: {', '.join(map(str, missing))} (pass --bench-dirs)", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cleanwire-pipeline-"))
    extra = ["--runner", args.runner, *(arg for pair in args.set for arg in ("--set", pair))]
    material = load_material(bench_dirs)
    print(
        f"material: {len(material.chromes)} pages' chrome, {len(material.sentences):,} sentences of gold articles, "
        f"{len(material.vocabulary):,} words; machine: {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, load average {os.getloadavg()[0]:.1f} at start"
    )
    try:
        results = {}
        for size in [1, *sizes]:
            day = workdir / f"day-{size}"
            if not (args.keep and day.is_dir()):
                # A day linked in from another workdir is replaced, never rebuilt inside the link's target.
                if day.is_symlink():
                    day.unlink()
                shutil.rmtree(day, ignore_errors=True)
                started = time.perf_counter()
                stats = build_day(day, size, material)
                print(f"built day of {size}: {stats.__dict__} in {time.perf_counter() - started:.1f} s")
            dest = workdir / f"out-{size}"
            shutil.rmtree(dest, ignore_errors=True)
            results[size] = run_cleanwire(day, dest, workdir / "cache", extra)
            record = {"manifest": results[size].manifest, "log": results[size].log, "samples": [s.__dict__ for s in results[size].samples]}
            (workdir / f"run-{size}.json").write_text(json.dumps(record, default=str))
            if not args.keep:
                shutil.rmtree(dest, ignore_errors=True)
        fixed = results[1].wall
        first = step_windows(results[1]).get("start-up")
        print(
            f"\nfixed start-up (a 1-document run): {fixed:.1f} s wall, of which {first[1] - first[0]:.1f} s before the flow "
            f"run began (imports, embedded Prefect server); peak RSS {results[1].peak_rss / 2**30:.2f} GiB"
            if first else f"\nfixed start-up (a 1-document run): {fixed:.1f} s wall"
        )
        for size in sizes:
            report(size, results[size], fixed)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
