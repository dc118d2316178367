"""Seeded English-like corpora with planted near-duplicates, for bench/dedup.py.

Words are Zipf-distributed (English function words at the head, then pseudo-words), in sentences
of ~16 words, documents of log-normal length (median 500 words).  Besides the Zipf draw, each
document takes words from a common content vocabulary (the words most news shares), from one of a
few sections and one of many topics, and names (always capitalised, part of them its topic's), so
that random pairs of unrelated documents share content words the way real articles do:
``PROFILES["realistic"]`` is fitted to the content-word Jaccard of random pairs of the aeb-dev and
wcxb-dev gold bodies (median, p90, p99; bench/dedup.py prints both side by side).
``PROFILES["templated"]`` makes most documents from a handful of templates (market tickers, sports
results, earnings calls): the template's words with fresh names in its name slots and in a share of
its other words, so unrelated documents of one template share most of their vocabulary.

A share of documents are planted copies of an earlier document, one of:

* ``exact``: the same body;
* ``light``: ~2% of the words replaced;
* ``heavy``: ~12% of the words replaced and a run of ~10% deleted;
* ``wrapped``: the body between another site's boilerplate header and footer (shared templates);
* ``rewrite``: the story retold: half of its content words and 70% of its names, shuffled among
  freshly drawn words (content-word Jaccard ~0.3-0.35 and names ~0.5-0.6, like the seed pair
  001/004: 0.31-0.34 and 0.48-0.59; no shared shingles).

``make_corpus`` returns the batch (the columns ``find_duplicates`` reads) and the planted pairs.
``real_articles`` loads the 800 distinct real articles of ../shared/benchmarks as a batch (gold
bodies, or raw scrapes with or without the clean step); ``reviewed_pairs`` the pairs among them
judged by hand (``same_story_pairs.json``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import stopwordsiso

KINDS = ("exact", "light", "heavy", "wrapped", "rewrite")
# The Zipf head is English function words, as in real text (stopwordsiso's list, shortest first).
_FUNCTION_WORDS = sorted(stopwordsiso.stopwords("en"), key=lambda w: (len(w), w))
_VOCAB_SIZE = 200_000
_ZIPF = 0.9
_BOILERPLATES = 24
_MEDIAN_WORDS, _LENGTH_SIGMA, _MIN_WORDS, _MAX_WORDS = 500, 0.9, 60, 6000
# A word id at or above _VOCAB_SIZE is a name: the word at id - _VOCAB_SIZE, capitalised.
_NAME = _VOCAB_SIZE
# Sentences start with one of the first (shortest, commonest) function words six times in ten.
_OPENERS = 40


@dataclass(frozen=True)
class Profile:
    """Where a document's words come from (shares of its words; the rest is the Zipf draw)."""

    common_words: int = 1500  # shared by all documents, skewed to the first ones (u ** 2)
    common_share: float = 0.35
    sections: int = 5
    section_words: int = 1000
    section_share: float = 0.3
    topics: int = 300
    topic_words: int = 150
    topic_share: float = 0.1
    names_share: float = 0.08  # half from the document's topic (a topic's people and places), half anywhere
    topic_names: int = 40
    templates: int = 0  # templated documents: a template's words, fresh names in its name slots ...
    templated_share: float = 0.0  # ... for this share of the documents
    template_fresh_share: float = 0.0  # ... and fresh names for this share of its other words


PROFILES = {
    # Fitted to aeb-dev + wcxb-dev gold bodies: content-word Jaccard of random pairs, median 0.0355,
    # p90 0.0786, p99 0.130 (20,000 pairs); this profile measures 0.034, 0.072, 0.134 at 5,000 docs.
    "realistic": Profile(),
    "templated": Profile(templates=8, templated_share=0.8, template_fresh_share=0.2),
}


def _vocabulary(rng: np.random.Generator) -> pl.Series:
    """Words, function words first (the Zipf head), in four spellings: plain, Capitalised, with a
    period, Capitalised with a period (id + k * len(words))."""
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    lengths = rng.integers(3, 11, 2 * _VOCAB_SIZE)
    codes = letters[rng.integers(0, 26, int(lengths.sum()))]
    cuts = np.cumsum(lengths)[:-1]
    pseudo = [bytes(part).decode() for part in np.split(codes, cuts)]
    # Exactly _VOCAB_SIZE distinct words (pseudo-words may repeat or shadow a function word).
    words = pl.Series("word", list(dict.fromkeys(_FUNCTION_WORDS + pseudo))[:_VOCAB_SIZE])
    title = words.str.to_titlecase()
    return pl.concat([words, title, words + ".", title + "."])


def _draw(rng: np.random.Generator, size: int) -> np.ndarray:
    """Word ids from a continuous Zipf(_ZIPF) law over the vocabulary, by inverse transform."""
    top = _VOCAB_SIZE ** (1 - _ZIPF) - 1
    return np.minimum((rng.random(size) * top + 1) ** (1 / (1 - _ZIPF)) - 1, _VOCAB_SIZE - 1).astype(np.int64)


def _names(rng: np.random.Generator, size: int) -> np.ndarray:
    """Fresh names: words of the vocabulary's long tail, capitalised."""
    return _NAME + rng.integers(_VOCAB_SIZE // 4, _VOCAB_SIZE, size)


def _render(word_ids: list[np.ndarray], vocab: pl.Series) -> pl.Series:
    """Join word ids into sentences: a period every ~16 words, a capitalised first word (most often
    a function word, as in English: "The", "In", "He"), capitalised names.

    Where sentences end and which start with a function word depend only on the word's position in
    its document, so a copy with the same words is the same text."""
    lens = np.array([len(w) for w in word_ids])
    flat = np.concatenate(word_ids)
    ends = np.cumsum(lens)
    position = (np.arange(len(flat)) - np.repeat(ends - lens, lens)).astype(np.uint64)
    mixed = (position * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    sentence_end = mixed % 16 == 0
    sentence_end[ends - 1] = True
    start = np.concatenate(([True], sentence_end[:-1]))
    start[ends[:-1]] = True
    opener = start & ((mixed >> np.uint64(4)) % 10 < 6)
    flat = np.where(opener, ((mixed >> np.uint64(8)) % _OPENERS).astype(np.int64), flat)
    words = vocab.gather(flat % _NAME + _VOCAB_SIZE * ((start | (flat >= _NAME)) + 2 * sentence_end))
    doc = np.repeat(np.arange(len(lens)), lens)
    return pl.DataFrame({"doc": doc, "w": words}).group_by("doc", maintain_order=True).agg(pl.col("w").str.join(" "))["w"]


def _edit(ids: np.ndarray, rate: float, cut: float, rng: np.random.Generator) -> np.ndarray:
    out = ids.copy()
    swap = rng.random(len(out)) < rate
    out[swap] = _draw(rng, int(swap.sum()))
    if cut:
        length = int(len(out) * cut)
        start = int(rng.integers(0, len(out) - length))
        out = np.delete(out, np.arange(start, start + length))
    return out


def _retell(src: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half of the content words and 80% of the names of ``src`` among fresh words, shuffled."""
    names = src[src >= _NAME]
    content = src[(src >= len(_FUNCTION_WORDS)) & (src < _NAME)]
    kept = np.concatenate([rng.permutation(content)[: len(content) // 2], rng.permutation(names)[: int(len(names) * 0.8)]])
    return rng.permutation(np.concatenate([kept, _draw(rng, max(len(src) - len(kept), 0))]))


class _Sources:
    """The vocabularies a profile draws documents from (fixed per corpus)."""

    def __init__(self, profile: Profile, rng: np.random.Generator) -> None:
        self.profile = profile
        content = (len(_FUNCTION_WORDS), _VOCAB_SIZE // 4)
        self.sections = rng.integers(*content, (profile.sections, profile.section_words))
        self.topics = rng.integers(*content, (profile.topics, profile.topic_words))
        self.topic_names = _names(rng, (profile.topics, profile.topic_names))
        self.templates: list[np.ndarray] = []
        self.templates = [self.documents(1, rng)[0] for _ in range(profile.templates)]

    def documents(self, size: int, rng: np.random.Generator) -> list[np.ndarray]:
        """``size`` fresh documents."""
        p = self.profile
        lens = np.clip(rng.lognormal(np.log(_MEDIAN_WORDS), _LENGTH_SIGMA, size), _MIN_WORDS, _MAX_WORDS).astype(np.int64)
        flat = _draw(rng, int(lens.sum()))
        doc = np.repeat(np.arange(size), lens)
        section, topic = rng.integers(0, p.sections, size)[doc], rng.integers(0, p.topics, size)[doc]
        u = np.cumsum([p.common_share, p.section_share, p.topic_share, p.names_share / 2, p.names_share / 2])
        draw = rng.random(len(flat))
        source = np.searchsorted(u, draw, side="right")  # 0 common, 1 section, 2 topic, 3 topic name, 4 name, 5 Zipf
        pick = lambda k: np.flatnonzero(source == k)  # noqa: E731
        common = pick(0)
        flat[common] = len(_FUNCTION_WORDS) + (p.common_words * rng.random(len(common)) ** 2).astype(np.int64)
        at = pick(1)
        flat[at] = self.sections[section[at], rng.integers(0, p.section_words, len(at))]
        at = pick(2)
        flat[at] = self.topics[topic[at], rng.integers(0, p.topic_words, len(at))]
        at = pick(3)
        flat[at] = self.topic_names[topic[at], rng.integers(0, p.topic_names, len(at))]
        at = pick(4)
        flat[at] = _names(rng, len(at))
        docs = np.split(flat, np.cumsum(lens)[:-1])
        if self.templates:
            for i in np.flatnonzero(rng.random(size) < p.templated_share):
                docs[i] = self._from_template(self.templates[int(rng.integers(0, len(self.templates)))], rng)
        return docs

    def _from_template(self, template: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = template.copy()
        fresh = (out >= _NAME) | ((out >= len(_FUNCTION_WORDS)) & (rng.random(len(out)) < self.profile.template_fresh_share))
        out[fresh] = _names(rng, int(fresh.sum()))
        return out


def make_corpus(
    n_docs: int, dup_fraction: float = 0.1, seed: int = 0, chunk: int = 50_000, profile: str = "realistic"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(batch, planted)``: ``batch`` has article_id, body, published_date, word_count;
    ``planted`` has source, copy (article ids) and kind, one row per planted copy."""
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    sources = _Sources(PROFILES[profile], rng)
    # A site header and footer of 20-60 words each (the cleaning step removes most of it in production).
    boiler = [_draw(rng, int(rng.integers(20, 60))) for _ in range(2 * _BOILERPLATES)]
    bodies, planted = [], []
    for start in range(0, n_docs, chunk):
        size = min(chunk, n_docs - start)
        ids = sources.documents(size, rng)
        n_copies = int(size * dup_fraction)
        copies = rng.choice(np.arange(1, size), n_copies, replace=False) if size > 1 else np.array([], dtype=np.int64)
        for c in np.sort(copies):  # ascending: a source that is itself a copy is final by then
            source = int(rng.integers(0, c))  # an earlier document of the chunk, never itself a copy target later
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            src = ids[source]
            if kind == "exact":
                ids[c] = src.copy()
            elif kind == "light":
                ids[c] = _edit(src, 0.02, 0.0, rng)
            elif kind == "heavy":
                ids[c] = _edit(src, 0.12, 0.1, rng)
            elif kind == "rewrite":
                ids[c] = _retell(src, rng)
            else:
                t = int(rng.integers(0, _BOILERPLATES))
                ids[c] = np.concatenate([boiler[2 * t], src, boiler[2 * t + 1]])
            planted.append((start + source, start + int(c), kind))
        bodies.append(_render(ids, vocab))
    article_id = pl.Series([f"doc{i:07d}" for i in range(n_docs)])
    body = pl.concat(bodies) if bodies else pl.Series([], dtype=pl.String)
    day = rng.integers(0, 30, n_docs)
    for source, copy, _ in planted:  # a copy or retelling follows its story within days
        day[copy] = day[source] + rng.integers(0, 3)
    batch = pl.DataFrame(
        {
            "article_id": article_id,
            "body": body,
            "published_date": pl.Series([dt.date(2025, 8, 1) + dt.timedelta(days=int(d)) for d in day], dtype=pl.Date),
        }
    ).with_columns(word_count=pl.col("body").str.count_matches(" ").cast(pl.Int32) + 1)
    src, cp, kind = zip(*planted) if planted else ((), (), ())
    planted_df = pl.DataFrame(
        {"source": article_id.gather(list(src)), "copy": article_id.gather(list(cp)), "kind": list(kind)},
        schema={"source": pl.String, "copy": pl.String, "kind": pl.String},
    )
    return batch, planted_df


# --------------------------------------------------------------------------- real articles
REAL_SETS = ("aeb-dev", "wcxb-dev")
SAME_STORY_PAIRS = Path(__file__).with_name("same_story_pairs.json")


def real_articles(bench_dir: Path, text: str = "gold", urls: bool = True) -> pl.DataFrame:
    """The distinct articles of aeb-dev and wcxb-dev (800) as a dedup batch, undated.

    ``text``: ``gold`` (the benchmarks' true article bodies), ``cleaned`` (each page's raw scrape
    through the clean step, with the batch's recurring lines as site chrome, as a run does) or
    ``raw`` (the raw scrapes as they are: menus, footers and all).  ``urls``: each page's URL (from
    gold.jsonl, as a crawl states it), or none (text scrapes without metadata).
    """
    page_urls = {r["id"]: r.get("url") for name in REAL_SETS for r in map(json.loads, (bench_dir / name / "gold.jsonl").open(encoding="utf-8"))}
    if text == "gold":
        rows = [
            (r["id"], r["body"]) for name in REAL_SETS for r in map(json.loads, (bench_dir / name / "gold.jsonl").open(encoding="utf-8"))
        ]
    else:
        rows = [(p.stem, p.read_text(encoding="utf-8", errors="replace")) for name in REAL_SETS for p in sorted((bench_dir / name / "raw").glob("*.txt"))]
        if text == "cleaned":
            from tasks.clean import clean_text, find_batch_boilerplate

            chrome = find_batch_boilerplate([body for _, body in rows])
            rows = [(i, clean_text(body, boilerplate=chrome).body) for i, body in rows]
    ids, bodies = zip(*rows)
    return pl.DataFrame(
        {
            "article_id": list(ids),
            "body": list(bodies),
            "published_date": pl.Series([None] * len(rows), dtype=pl.Date),
            "url": pl.Series([page_urls.get(i) if urls else None for i in ids], dtype=pl.String),
        }
    ).with_columns(word_count=pl.col("body").str.count_matches(r"\w+").cast(pl.Int32))


def reviewed_pairs() -> dict[str, set[frozenset[str]]]:
    """The hand-reviewed pairs of ``same_story_pairs.json``: ``same_story`` and ``known_false_merges``."""
    reviewed = json.loads(SAME_STORY_PAIRS.read_text(encoding="utf-8"))
    return {kind: {frozenset((p["a"], p["b"])) for p in reviewed[kind]} for kind in ("same_story", "known_false_merges")}


def as_records(batch: pl.DataFrame, seed: int = 0, sites: int = 2_000) -> pl.DataFrame:
    """``batch`` (``make_corpus``) as the daily flow hands it to the dedup step: a frame of every
    column of ``tasks.schema.RECORDS`` (what clean and record validation leave), filled with values
    of the size real records have (ids of ``tasks.records.article_id``, object keys and URLs of
    ``sites`` hosts, a title, a byline, a 64-character content hash), so that the memory the step
    starts from is the flow's.  Same row order; ``article_id`` maps one to one."""
    from tasks.records import article_id
    from tasks.schema import RECORDS

    rng = np.random.default_rng(seed)
    site = pl.Series(rng.integers(0, sites, batch.height)).cast(pl.String)
    source_uri = batch.select(pl.format("s3://landing/raw/ingest_date=2025-08-31/site{}/{}.txt", site, "article_id")).to_series()
    digits = [pl.col("body").hash(seed + k).cast(pl.String).str.zfill(20) for k in range(4)]
    records = batch.with_columns(
        article_id=pl.Series([article_id(uri) for uri in source_uri], dtype=pl.String),
        source_uri=source_uri,
        record_locator=pl.lit(None, pl.String),
        url=pl.format("https://www.site{}.example/news/{}", site, "article_id"),
        fetched_at=pl.lit(dt.datetime(2025, 8, 31, 6, 0, tzinfo=dt.UTC)),
        title=pl.col("body").str.slice(0, 70).str.to_titlecase(),
        byline=pl.lit("By ") + pl.col("body").str.slice(0, 14).str.to_titlecase(),
        language=pl.lit("en"),
        content_hash=pl.concat_str(digits).str.slice(0, 64),
        raw_chars=pl.col("body").str.len_chars().cast(pl.Int64) + 1_500,
        removed_chars=pl.lit(1_500, pl.Int64),
        size_bytes=pl.col("body").str.len_bytes().cast(pl.Int64) + 1_500,
    )
    return records.select(pl.col(name).cast(dtype) for name, dtype in RECORDS.items())
