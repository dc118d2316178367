"""Seeded English-like corpus with planted near-duplicates, for bench/dedup.py.

Documents are ~3 KB: Zipf-distributed words (English function words at the head, then
pseudo-words; a quarter of each document's words from one of 1000 topic vocabularies), sentences
of ~16 words.  A share of documents are planted copies of another
document, one of:

* ``exact``: the same body;
* ``light``: ~2% of the words replaced;
* ``heavy``: ~12% of the words replaced and a run of ~10% deleted;
* ``wrapped``: the body between another site's boilerplate header and footer (shared templates);
* ``rewrite``: the story retold: half of its content words, shuffled among freshly drawn words
  (content-word Jaccard ~0.3, like the seed pair 001/004; no shared shingles).

``make_corpus`` returns the batch (the columns ``find_duplicates`` reads) and the planted pairs.
``real_articles`` loads the 800 distinct real articles of ../shared/benchmarks as a batch (gold
bodies, or raw scrapes with or without the clean step); ``reviewed_pairs`` the pairs among them
judged by hand (``same_story_pairs.json``).
"""

from __future__ import annotations

import datetime as dt
import json
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
# Topics give unrelated articles on one subject a realistic shared vocabulary (content-word Jaccard
# ~0.05-0.1 instead of ~0): the background the rewrite tier's low threshold has to cut through.
_TOPICS = 1000
_TOPIC_WORDS = 200
_TOPIC_SHARE = 0.25


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


def _render(word_ids: list[np.ndarray], vocab: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Join word ids into sentences: capitalised first word, a period every ~16 words."""
    lens = np.array([len(w) for w in word_ids])
    flat = np.concatenate(word_ids)
    ends = np.cumsum(lens)
    sentence_end = rng.random(len(flat)) < 1 / 16
    sentence_end[ends - 1] = True
    start = np.concatenate(([True], sentence_end[:-1]))
    start[ends[:-1]] = True
    words = vocab.gather(flat + _VOCAB_SIZE * (start + 2 * sentence_end))
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


def make_corpus(
    n_docs: int, dup_fraction: float = 0.1, seed: int = 0, chunk: int = 50_000
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(batch, planted)``: ``batch`` has article_id, body, published_date, word_count;
    ``planted`` has source, copy (article ids) and kind, one row per planted copy."""
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    # A site header and footer of 20-60 words each (the cleaning step removes most of it in production).
    boiler = [_draw(rng, int(rng.integers(20, 60))) for _ in range(2 * _BOILERPLATES)]
    topics = rng.integers(len(_FUNCTION_WORDS), _VOCAB_SIZE // 4, (_TOPICS, _TOPIC_WORDS))
    bodies, planted = [], []
    for start in range(0, n_docs, chunk):
        size = min(chunk, n_docs - start)
        lens = rng.integers(380, 620, size)
        flat = _draw(rng, int(lens.sum()))
        on_topic = rng.random(len(flat)) < _TOPIC_SHARE
        topic = np.repeat(rng.integers(0, _TOPICS, size), lens)[on_topic]
        flat[on_topic] = topics[topic, rng.integers(0, _TOPIC_WORDS, int(on_topic.sum()))]
        ids = np.split(flat, np.cumsum(lens)[:-1])
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
                content = src[src >= len(_FUNCTION_WORDS)]
                kept = rng.permutation(content)[: len(content) // 2]
                ids[c] = rng.permutation(np.concatenate([kept, _draw(rng, len(src) - len(kept))]))
            else:
                t = int(rng.integers(0, _BOILERPLATES))
                ids[c] = np.concatenate([boiler[2 * t], src, boiler[2 * t + 1]])
            planted.append((start + source, start + int(c), kind))
        bodies.append(_render(ids, vocab, rng))
    article_id = pl.Series([f"doc{i:07d}" for i in range(n_docs)])
    body = pl.concat(bodies) if bodies else pl.Series([], dtype=pl.String)
    day = rng.integers(0, 30, n_docs)
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


def real_articles(bench_dir: Path, text: str = "gold") -> pl.DataFrame:
    """The distinct articles of aeb-dev and wcxb-dev (800) as a dedup batch, undated.

    ``text``: ``gold`` (the benchmarks' true article bodies), ``cleaned`` (each page's raw scrape
    through the clean step, with the batch's recurring lines as site chrome, as a run does) or
    ``raw`` (the raw scrapes as they are: menus, footers and all).
    """
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
        {"article_id": list(ids), "body": list(bodies), "published_date": pl.Series([None] * len(rows), dtype=pl.Date)}
    ).with_columns(word_count=pl.col("body").str.count_matches(r"\w+").cast(pl.Int32))


def reviewed_pairs() -> dict[str, set[frozenset[str]]]:
    """The hand-reviewed pairs of ``same_story_pairs.json``: ``same_story`` and ``known_false_merges``."""
    reviewed = json.loads(SAME_STORY_PAIRS.read_text(encoding="utf-8"))
    return {kind: {frozenset((p["a"], p["b"])) for p in reviewed[kind]} for kind in ("same_story", "known_false_merges")}
