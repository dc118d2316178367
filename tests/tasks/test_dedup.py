"""Near-duplicate engine: datasketch compatibility, LSH recall, verification, keep policy, index, seeds."""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.corpus import REAL_SETS, real_articles, reviewed_pairs
from bench.dedup import DEFAULT_BENCH_DIR, merged_pairs, seed_batch
from tasks.clean import clean_text
from tasks.config import DedupConfig
from tasks.dedup import (
    NFKC_NEUTRAL,
    RESULT_SCHEMA,
    clusters,
    deduplicate_with_index_rows,
    feature_hash,
    features,
    find_duplicates,
    index_rows,
    kernels,
    memory,
    stopwords,
    tokens,
)
from tasks.dedup.candidates import _UNSCORED, _candidate_pairs, _Keys, _Lsh, _prefilter, _Shortlist
from tasks.dedup.features import _features, _Sets, _token_hashes, _Tokeniser
from tasks.dedup import verify
from tasks.dedup.verify import _estimated_similarities, _similarities
from tasks.errors import PipelineError
from tasks.records import WORD_PATTERN
from tests.conftest import SEEDS

LSH_ONLY = DedupConfig(exhaustive_max_pairs=0)  # force the LSH path even on tiny batches
WORDS = [f"w{i}" for i in range(5000)]


def _batch(bodies: dict[str, str], dates: dict[str, dt.date] | None = None) -> pl.DataFrame:
    dates = dates or {}
    return pl.DataFrame(
        {
            "article_id": list(bodies),
            "body": list(bodies.values()),
            "published_date": pl.Series([dates.get(k) for k in bodies], dtype=pl.Date),
            "word_count": pl.Series([len(b.split()) for b in bodies.values()], dtype=pl.Int32),
        }
    )


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _dups(result: pl.DataFrame) -> dict[str, str]:
    return dict(result.filter(pl.col("duplicate_of").is_not_null()).select("article_id", "duplicate_of").iter_rows())


# ------------------------------------------------------------------------------ datasketch parity
TEXTS = [
    "The quick brown fox — jumps over the lazy dog's back, twice!",
    "Ｆｕｌｌｗｉｄｔｈ ＴＯＫＹＯ ﬁnance: Lee Jae-myung met Ishiba\nin Tokyo.\tNew line",
    "one",
    "two words",
    "",
    "Çà et là, 習近平 met 李在明 ½ 2025-08-23 U.S. allies",
]


@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_signatures_equal_datasketch(ngram):
    config = DedupConfig(near_copy_ngram=ngram)
    feats = _features(pl.Series(TEXTS), _Tokeniser(config), config)
    lsh = _Lsh(config)
    sig = lsh.signatures("near_copy", feats.flat["near_copy"], feats.lens["near_copy"])
    for i, text in enumerate(TEXTS):
        words = tokens(text)
        reference = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=feature_hash)
        shingles = [words[k : k + ngram] for k in range(max(len(words) - ngram + 1, 1))] if words else []
        for shingle in shingles:
            reference.update(" ".join(shingle).encode())
        assert np.array_equal(sig[:, i], reference.hashvalues), text


def test_content_word_signatures_equal_datasketch():
    config = DedupConfig()
    feats = _features(pl.Series(TEXTS), _Tokeniser(config), config)
    sig = _Lsh(config).signatures("rewrite", feats.flat["rewrite"], feats.lens["rewrite"])
    stop = set(stopwords(config).to_list())
    assert {"the", "and", "of"} <= stop
    for i, text in enumerate(TEXTS):
        reference = MinHash(num_perm=config.rewrite_num_perm, seed=config.seed, hashfunc=feature_hash)
        for word in tokens(text):
            if word not in stop and len(word) >= config.min_content_word_chars:
                reference.update(word.encode())
        assert np.array_equal(sig[:, i], reference.hashvalues), text


def test_feature_hash_is_pinned():
    """Stored index rows depend on these values: if the token hash or the mixing changes, this fails,
    and FEATURE_VERSION in tasks/dedup/features.py must be bumped (old index rows then refuse to match)."""
    assert [feature_hash(w) for w in ["news", "tokyo summit", "lee jae myung"]] == [1653198875, 1879277708, 349002023]


def test_tokens_normalise_case_punctuation_and_compatibility_forms():
    assert tokens("Ｆｕｌｌｗｉｄｔｈ ﬁnance — Jae-myung’s U.S. ２０２５!") == ["fullwidth", "finance", "jae", "myung", "s", "u", "s", "2025"]
    assert tokens("") == [] and tokens(" ,.; ") == []


def _nfkc_everywhere(texts: list[str]) -> list[list[str]]:
    normalised = pl.Series(texts, dtype=pl.String).str.normalize("NFKC").str.to_lowercase()
    return normalised.str.extract_all(r"[^\W_]+").fill_null([]).to_list()


def _token_hash_model(word: str) -> int:
    """The token hash, written out in Python: the word's UTF-8 bytes in little-endian 64-bit blocks,
    each mixed by the FNV prime, then fmix64, folded to 32 bits."""
    h, data = 0x636C6E77, word.encode()
    for start in range(0, len(data), 8):
        h = ((h ^ int.from_bytes(data[start : start + 8], "little")) * 0x100000001B3) & (2**64 - 1)
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h = ((h ^ (h >> 33)) * multiplier) & (2**64 - 1)
    h ^= h >> 33
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def _flat_words(texts: list[str]) -> tuple[list[int], list[int]]:
    hashes, _, per_text = _token_hashes(pl.Series(texts, dtype=pl.String))
    return hashes.tolist(), per_text.tolist()


def _reference(texts: list[str]) -> tuple[list[int], list[int]]:
    lists = _nfkc_everywhere(texts)
    return [_token_hash_model(w) for words in lists for w in words], [len(words) for words in lists]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), min_size=1, max_size=4))
def test_token_hashes_are_the_hashes_of_the_nfkc_regex_words_of_any_text(texts):
    assert _flat_words(texts) == _reference(texts)


# Every NFKC-neutral non-ASCII character, the byte-folding path's hard cases, among ASCII.
_NEUTRAL_TEXT = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(0x2030) if re.fullmatch(f"[{NFKC_NEUTRAL}]", chr(c)) and c >= 0x80]
        + list("aZ9 _.,;'\n\t-")
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_NEUTRAL_TEXT, st.text(max_size=10)), min_size=1, max_size=6))
def test_byte_folding_of_neutral_texts_equals_the_regex(texts):
    """Neutral texts are folded byte by byte, others split by the regex first; batches mix both."""
    assert _flat_words(texts) == _reference(texts)


def test_nfkc_neutral_characters_are_neutral():
    neutral = [chr(c) for c in range(0x2030) if re.fullmatch(f"[{NFKC_NEUTRAL}]", chr(c))]
    texts = [f"ab{c}cd {c}" for c in neutral]
    assert [tokens(t) for t in texts] == _nfkc_everywhere(texts)


def test_token_hashes_of_null_and_wordless_texts():
    assert _flat_words(["", " .,- ", "Ünïcode!", "x"]) == ([_token_hash_model("ünïcode"), _token_hash_model("x")], [0, 0, 1, 1])
    hashes, _, per_text = _token_hashes(pl.Series([None, "A b"], dtype=pl.String))
    assert hashes.tolist() == [_token_hash_model("a"), _token_hash_model("b")] and per_text.tolist() == [0, 2]


def test_document_frequencies_count_each_text_once_per_feature():
    """Per counter slot, the texts holding each feature (repeats within a text count once; features
    sharing a slot add up), as a plain-Python count."""
    rng = np.random.default_rng(13)
    lens = rng.integers(0, 300, 60)
    lens[[3, 17]] = 0
    features = rng.integers(0, 2**32, lens.sum(), dtype=np.uint64).astype(np.uint32)
    features[rng.random(len(features)) < 0.3] = 7  # repeated within texts
    features[rng.random(len(features)) < 0.1] = 7 + 64  # shares 7's slot
    slots, expected, start = 64, np.zeros(64, dtype=np.uint32), 0
    for n in lens:
        for feature in set(features[start : start + n].tolist()):
            expected[feature & (slots - 1)] += 1
        start += n
    assert np.array_equal(kernels.document_frequencies(features, lens, slots), expected)


def test_content_flags_drop_stopwords_and_short_words_and_mark_names():
    config = DedupConfig()
    tokeniser = _Tokeniser(config)
    _, flags, _ = tokeniser.tokenise(pl.Series(["The Summit in Tokyo, a ÉTÉ x summit 2025 été"]))
    content, name = kernels.CONTENT, kernels.CONTENT | kernels.NAME
    assert flags.tolist() == [0, name, 0, name, 0, name, 0, content, name, content]


# ----------------------------------------------------------------------------------- LSH recall
@pytest.mark.parametrize(
    ("tier", "similarity"), [("near_copy", 0.4), ("near_copy", 0.5), ("near_copy", 0.6), ("rewrite", 0.2), ("rewrite", 0.31)]
)
def test_lsh_recall_follows_banding_curve(tier, similarity):
    """Pairs of feature sets of known Jaccard become candidates at the rate 1-(1-s^r)^b predicts."""
    lsh = _Lsh(DedupConfig())
    bands, rows = lsh.bands[tier]
    rng = np.random.default_rng(7)
    pairs, size = 400, 200
    common = round(2 * size * similarity / (1 + similarity))  # |A∩B| for |A|=|B|=size and Jaccard s
    feats, lens = [], []
    for _ in range(pairs):
        pool = rng.choice(2**32 - 1, 2 * size - common, replace=False).astype(np.uint32)
        feats += [pool[:size], pool[size - common :]]
        lens += [size, size]
    sig = lsh.signatures(tier, np.concatenate(feats), np.array(lens))
    keys = _Keys(lsh.band_keys(tier, sig), np.ones(2 * pairs, dtype=bool))
    found = _candidate_pairs(keys, window=32, max_bucket=48).filter((pl.col("a") % 2 == 0) & (pl.col("b") == pl.col("a") + 1))
    s = common / (2 * size - common)
    predicted = 1 - (1 - s**rows) ** bands
    # 400 Bernoulli draws: sd <= 0.025; 0.08 is > 3 sd.
    assert abs(found.height / pairs - predicted) < 0.08


def test_rewrite_banding_finds_the_seed_rewrite_similarity_reliably():
    """The seed rewrite pair's content-word Jaccard is 0.31-0.34: an LSH candidate 9 times in 10 or more."""
    bands, rows = _Lsh(DedupConfig()).bands["rewrite"]
    assert 1 - (1 - 0.31**rows) ** bands >= 0.9


def test_prefilter_keeps_pairs_above_the_threshold():
    config = DedupConfig()
    lsh = _Lsh(config)
    rng = np.random.default_rng(3)
    size, pairs = 250, 300
    similarity = config.rewrite_threshold + 0.1  # > 4.5 standard errors above the prefilter's floor
    common = round(2 * size * similarity / (1 + similarity))
    feats = []
    for _ in range(pairs):
        pool = rng.choice(2**32 - 1, 2 * size - common, replace=False).astype(np.uint32)
        feats += [pool[:size], pool[size - common :]]
    sig = np.ascontiguousarray(lsh.signatures("rewrite", np.concatenate(feats), np.full(2 * pairs, size)).T)
    def keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)

    passed, scores = _prefilter(keys(np.arange(0, 2 * pairs, 2), np.arange(1, 2 * pairs, 2)), sig, config.rewrite_threshold, config)
    assert passed.all() and (scores / sig.shape[1]).mean() == pytest.approx(similarity, abs=0.02)
    passed, _ = _prefilter(keys(np.arange(0, 2 * pairs - 2, 2), np.arange(3, 2 * pairs, 2)), sig, config.rewrite_threshold, config)
    assert not passed.any()


def test_shortlist_keeps_the_best_scored_pairs_of_each_row_whatever_the_order_and_trims():
    """Proposed in any order, with repeats, trimmed early or late: the pairs among the ``bound`` best
    of either row (ties: the lower other row), plus every unscored (index) pair."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        rows, bound = int(rng.integers(3, 30)), int(rng.integers(1, 5))
        a, b = rng.integers(0, rows, 300), rng.integers(0, rows, 300)
        keys = np.unique((a[a < b].astype(np.uint64) << np.uint64(32)) | b[a < b].astype(np.uint64))
        scores = rng.integers(0, 6, len(keys)).astype(np.uint16)
        scores[rng.random(len(keys)) < 0.05] = _UNSCORED
        shortlist = _Shortlist(rows, bound)
        shortlist._trim_at = int(rng.integers(1, 40))
        proposed = np.zeros(len(keys), dtype=bool)
        for _ in range(6):  # bands: each proposes some pairs, some again
            band = np.flatnonzero(rng.random(len(keys)) < 0.3)
            proposed[band] = True
            fresh = shortlist.fresh(keys[band])
            shortlist.add(fresh, scores[np.searchsorted(keys, fresh)])
        expected = set()
        pairs = [(int(k >> np.uint64(32)), int(k & np.uint64(0xFFFFFFFF)), int(s)) for k, s in zip(keys[proposed], scores[proposed])]
        for row in range(rows):
            ranked = sorted((-s, y if x == row else x, (x, y)) for x, y, s in pairs if row in (x, y) and s != _UNSCORED)
            expected |= {pair for _, _, pair in ranked[:bound]}
        expected |= {(x, y) for x, y, s in pairs if s == _UNSCORED}
        assert set(shortlist.frame().iter_rows()) == expected


def test_a_crowded_topic_over_the_candidate_bound_still_finds_its_rewrite():
    """Many stories of one topic share the rare words a retelling shares with its source: with a bound
    of 2 candidates per article most pairs are left out (counted in the stats), the retelling is kept
    because its source is among its best estimates."""
    rng = random.Random(43)
    story = rng.sample(WORDS, 200)
    names = [f"Name{i} Place{i}" for i in range(3)] + ["2025", "80,000"]
    bodies = {
        "story": " ".join(story + names),
        "rewrite": _retold(rng, story, names, names),
        **{f"same_topic{i}": _retold(rng, story, names, [f"Person{i}x{j}" for j in range(6)]) for i in range(12)},
        **{f"filler{i}": _text(rng, 130) for i in range(30)},
    }
    config = LSH_ONLY.model_copy(update={"rewrite_candidates_per_article": 2})
    verdicts, _, stats = deduplicate_with_index_rows(_batch(bodies, {"story": dt.date(2025, 8, 1)}), config)
    assert _dups(verdicts) == {"rewrite": "story"}
    assert stats.candidates["rewrite"].capped > 0 and stats.candidates["rewrite"].pairs <= 2 * len(bodies)
    _, _, unbounded = deduplicate_with_index_rows(_batch(bodies), LSH_ONLY)
    assert unbounded.candidates["rewrite"].capped == 0 and unbounded.candidates["rewrite"].pairs > stats.candidates["rewrite"].pairs


# --------------------------------------------------------------------------------- verification
def test_similarities_equal_python_set_arithmetic():
    rng = np.random.default_rng(23)
    sets = [set(rng.integers(0, 400, rng.integers(0, 120)).tolist()) for _ in range(12)]
    rows = np.repeat(np.arange(len(sets)), [len(x) for x in sets])
    keys = _Sets.of(rows, np.array([f for x in sets for f in sorted(x)], dtype=np.uint32))
    a, b = np.triu_indices(len(sets), k=1)
    pairs = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.UInt32, "b": pl.UInt32})
    weights = rng.random(features._DF_SLOTS)
    got = _similarities(pairs, keys, weights)
    for i, j, jaccard, containment, weighted in got.select("a", "b", "jaccard", "containment", "weighted").iter_rows():
        common = len(sets[i] & sets[j])
        assert jaccard == pytest.approx(common / len(sets[i] | sets[j]) if sets[i] | sets[j] else 0)
        assert containment == pytest.approx(common / min(len(sets[i]), len(sets[j])) if sets[i] and sets[j] else 0)
        union_weight = sum(weights[f] for f in sets[i] | sets[j])
        assert weighted == pytest.approx(sum(weights[f] for f in sets[i] & sets[j]) / union_weight if union_weight else 0)


def test_similarities_measured_in_blocks_equal_one_pass(monkeypatch):
    """Many pairs are measured a block at a time (bounded memory), with the same values."""
    rng = np.random.default_rng(29)
    lens = rng.integers(0, 80, 40)
    sets = _Sets.of(np.repeat(np.arange(40), lens), rng.integers(0, 300, lens.sum()).astype(np.uint32))
    a, b = np.triu_indices(40, k=1)
    pairs = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.UInt32, "b": pl.UInt32})
    weights = rng.random(features._DF_SLOTS)
    whole = _similarities(pairs, sets, weights)
    monkeypatch.setattr(verify, "_PAIR_BLOCK", 7)
    assert _similarities(pairs, sets, weights).equals(whole)


def _own_text_by_definition(words: list[tuple[str, int]], other: list[tuple[str, int]], n: int, run_words: int) -> tuple[float, set[str]]:
    """One side of the own-text measure in plain Python: (share of content words in long uncovered
    runs, names outside shared passages), words given as (token, flags)."""
    grams = lambda ws: [tuple(w for w, _ in ws[i : i + n]) for i in range(max(len(ws) - n + 1, 1))] if ws else []
    theirs = set(grams(other))
    covered = set()
    for i, gram in enumerate(grams(words)):
        if gram in theirs:
            covered.update(range(i, i + n))
    free = [i not in covered for i in range(len(words))]
    in_passage, run = 0, []
    for i in range(len(words) + 1):
        if i < len(words) and free[i]:
            run.append(i)
            continue
        if len(run) >= run_words:
            in_passage += sum(1 for k in run if words[k][1] & kernels.CONTENT)
        run = []
    content = sum(1 for _, f in words if f & kernels.CONTENT)
    names = {w for (w, f), is_free in zip(words, free) if is_free and f & kernels.NAME and f & kernels.CONTENT}
    return in_passage / max(content, 1), names


def test_own_text_kernel_equals_its_definition():
    rng = random.Random(5)
    vocabulary = [(f"w{i}", rng.choice([0, kernels.CONTENT, kernels.CONTENT | kernels.NAME])) for i in range(30)]
    base = [rng.choice(vocabulary) for _ in range(80)]
    texts = [base, base[:50] + [rng.choice(vocabulary) for _ in range(40)], [rng.choice(vocabulary) for _ in range(60)], base[:2], []]
    texts += [[rng.choice(vocabulary) if rng.random() < 0.2 else w for w in base] for _ in range(4)]
    hashes = {w: i + 1 for i, (w, _) in enumerate(vocabulary)}
    tok = np.array([hashes[w] for t in texts for w, _ in t], dtype=np.uint32)
    flags = np.array([f for t in texts for _, f in t], dtype=np.uint8)
    lens = np.array([len(t) for t in texts], dtype=np.int64)
    n, run_words = 3, 6
    shingles, shingle_lens = kernels.ngram_hashes(tok, lens, n, features._MIX, features._MIX_OUT)
    starts, shingle_starts = np.cumsum(lens) - lens, np.cumsum(shingle_lens) - shingle_lens
    left, right = np.triu_indices(len(texts), k=1)
    share, names = kernels.own_text(
        tok, flags, starts, lens, shingles, shingle_starts, shingle_lens,
        kernels.segment_orders(shingles, shingle_starts, shingle_lens), left, right, n, run_words,
    )
    for p, (i, j) in enumerate(zip(left, right)):
        share_i, names_i = _own_text_by_definition(texts[i], texts[j], n, run_words)
        share_j, names_j = _own_text_by_definition(texts[j], texts[i], n, run_words)
        assert share[p] == min(share_i, share_j)
        assert names[p] == (len(names_i & names_j) / len(names_i | names_j) if names_i | names_j else 0.0)


def test_own_text_measured_in_blocks_equals_one_block(monkeypatch):
    """Pairs' texts are tokenised a block of pairs at a time (bounded memory), with the same values;
    pairs with an index row (at or beyond ``n_exact``) have none."""
    rng = random.Random(7)
    names = [f"Name{i}" for i in range(40)]
    base = [_text(rng, 120) + " " + " ".join(rng.sample(names, 8)) for _ in range(6)]
    bodies = pl.Series(base + [b[: len(b) // 2] + " " + _text(rng, 60) + " " + " ".join(rng.sample(names, 5)) for b in base])
    a, b = np.triu_indices(len(bodies), k=1)
    pairs = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.UInt32, "b": pl.UInt32})
    tokeniser, config = _Tokeniser(DedupConfig()), DedupConfig(workers=2)
    whole = verify._own_text(pairs, bodies, 10, tokeniser, config)
    assert whole["own_share"].null_count() == (b >= 10).sum() and whole["own_names"].drop_nulls().max() > 0
    monkeypatch.setattr(verify, "_OWN_TEXT_BLOCK", 4)
    assert verify._own_text(pairs, bodies, 10, tokeniser, config).equals(whole)


def test_sketch_estimates_follow_the_exact_similarities():
    """Bottom-k estimates (what index rows allow) of pairs across the range: exact when both sets fit in
    the sketch, within a few standard errors sqrt(J(1-J)/k) otherwise, weighted Jaccard too."""
    rng = np.random.default_rng(5)
    k, pool = 48, rng.choice(2**32, 5000, replace=False).astype(np.uint32)
    small = [pool[:30], pool[10:40]]  # both within k: the sketch is the set
    big = [(pool[:400], pool[400 - shared : 800 - shared]) for shared in (0, 100, 200, 300, 380)]
    sets_list = [s for pair in [small, *big] for s in pair]
    rows = np.repeat(np.arange(len(sets_list)), [len(s) for s in sets_list])
    sets = _Sets.of(rows, np.concatenate(sets_list))
    pairs = pl.DataFrame({"a": np.arange(0, len(sets_list), 2), "b": np.arange(1, len(sets_list), 2)}, schema={"a": pl.UInt32, "b": pl.UInt32})
    weights = rng.uniform(0.5, 3.0, 1 << 20)
    exact = _similarities(pairs, sets, weights)
    sizes = sets.sizes(np.arange(len(sets_list)))
    estimated = _estimated_similarities(pairs, sets.bottom_k(k), sizes[0::2], sizes[1::2], k, weights)
    assert estimated.row(0) == pytest.approx(exact.row(0))
    error = np.sqrt(exact["jaccard"] * (1 - exact["jaccard"]) / k) + 1e-9
    assert ((estimated["jaccard"] - exact["jaccard"]).abs() <= 4 * error).all()
    assert ((estimated["weighted"] - exact["weighted"]).abs() <= 4 * error + 0.02).all()


def _retold(rng: random.Random, story: list[str], names: list[str], keep_names: list[str]) -> str:
    """Half the story's words among fresh ones, and ``keep_names`` where the story had ``names``, all
    in its own order (a retelling names the story's people in its own sentences)."""
    kept = rng.sample(story, len(story) // 2) + [w for w in rng.sample(WORDS, 2 * len(story)) if w not in story][: len(story) // 2]
    kept += " ".join(keep_names).split()
    rng.shuffle(kept)
    return " ".join(kept)


@pytest.mark.parametrize("config", [DedupConfig(), LSH_ONLY], ids=["exhaustive", "lsh"])
def test_a_rewrite_keeps_its_names_a_same_topic_story_does_not(config):
    """Content-word Jaccard above the threshold both times; only the pair whose names and numbers match is a rewrite."""
    rng = random.Random(29)
    story = rng.sample(WORDS, 200)
    names = [f"Name{i} Place{i}" for i in range(3)] + ["2025", "80,000"]
    other_names = [f"Person{i} Town{i}" for i in range(3)] + ["1999", "17,500"]
    bodies = {
        "story": " ".join(story + names),
        "rewrite": _retold(rng, story, names, names),
        "same_topic": _retold(rng, story, names, other_names),
        **{f"filler{i}": _text(rng, 130) for i in range(30)},  # a batch to take word rarity from
    }
    assert _dups(find_duplicates(_batch(bodies, {"story": dt.date(2025, 8, 1)}), config)) == {"rewrite": "story"}


def test_names_shared_only_in_common_chrome_do_not_make_a_rewrite():
    """Two stories of one topic on pages that carry the same block of names (a menu, a cast list):
    their names match only inside that block, so they are not rewrites; the retelling still is."""
    rng = random.Random(37)
    story = rng.sample(WORDS, 200)
    names = [f"Name{i} Place{i}" for i in range(3)] + ["2025", "80,000"]
    chrome = " ".join(f"Menu{i}" for i in range(8))
    bodies = {
        "story": chrome + " " + " ".join(story + names),
        "rewrite": _retold(rng, story, names, names),
        "same_site_topic": chrome + " " + _retold(rng, story, names, [f"Person{i} Town{i}" for i in range(3)]),
        **{f"filler{i}": _text(rng, 130) for i in range(30)},
    }
    assert _dups(find_duplicates(_batch(bodies), DedupConfig())) == {"rewrite": "story"}


def test_pages_of_one_site_are_not_rewrites_of_each_other():
    rng = random.Random(41)
    story = rng.sample(WORDS, 200)
    names = [f"Name{i} Place{i}" for i in range(4)]
    bodies = {"story": " ".join(story + names), "rewrite": _retold(rng, story, names, names)}
    batch = _batch(bodies, {"story": dt.date(2025, 8, 1)}).with_columns(url=pl.Series(["https://www.example.com/a", "https://example.com/b?x=1"]))
    assert _dups(find_duplicates(batch)) == {}
    assert _dups(find_duplicates(batch, DedupConfig(rewrite_within_site=True))) == {"rewrite": "story"}
    other_site = batch.with_columns(url=pl.Series(["https://www.example.com/a", "https://news.example.org/b"]))
    assert _dups(find_duplicates(other_site)) == {"rewrite": "story"}


def test_rewrites_published_far_apart_are_different_stories():
    rng = random.Random(31)
    story = rng.sample(WORDS, 120)
    names = [f"Name{i}" for i in range(12)]
    bodies = {"story": " ".join(story + names), "rewrite": _retold(rng, story, names, names)}
    config = DedupConfig(rewrite_max_days_apart=7)
    near = _batch(bodies, {"story": dt.date(2025, 8, 1), "rewrite": dt.date(2025, 8, 8)})
    far = _batch(bodies, {"story": dt.date(2025, 8, 1), "rewrite": dt.date(2025, 8, 9)})
    undated = _batch(bodies, {"story": dt.date(2025, 8, 1)})
    assert _dups(find_duplicates(near, config)) == {"rewrite": "story"}
    assert _dups(find_duplicates(far, config)) == {}
    assert _dups(find_duplicates(undated, config)) == {"rewrite": "story"}


def test_lsh_false_candidates_are_dropped_by_verification():
    """With banding tuned for Jaccard 0.05 unrelated texts collide; exact verification rejects them."""
    config = DedupConfig(exhaustive_max_pairs=0, near_copy_ngram=1, near_copy_lsh_threshold=0.05, rewrite_lsh_threshold=0.05)
    rng = random.Random(3)
    bodies = {f"a{i}": " ".join(rng.choice(WORDS[:600]) for _ in range(120)) for i in range(40)}  # Jaccard ~0.09
    lsh = _Lsh(config)
    feats = _features(pl.Series(bodies.values()), _Tokeniser(config), config)
    keys = _Keys(lsh.band_keys("near_copy", lsh.signatures("near_copy", feats.flat["near_copy"], feats.lens["near_copy"])), np.ones(40, bool))
    assert _candidate_pairs(keys, 32, 48).height > 0  # the case really has false candidates
    result = find_duplicates(_batch(bodies), config)
    assert result["duplicate_of"].null_count() == 40


def test_containment_catches_copy_inside_boilerplate():
    rng = random.Random(5)
    story = _text(rng, 150)
    wrapped = f"{_text(rng, 90)} {story} {_text(rng, 60)}"  # shingle Jaccard ~0.5, containment 1
    # Every pair verified: this is about the test, not about LSH finding a pair at Jaccard 0.5.
    result = find_duplicates(_batch({"story": story, "wrapped": wrapped}), DedupConfig())
    assert _dups(result) == {"story": "wrapped"}  # wrapped has more words: kept
    assert result.filter(pl.col("article_id") == "story")["matched_tier"].item() == "near_copy"


# ---------------------------------------------------------------------------------- keep policy
def _policy_batch() -> pl.DataFrame:
    rng = random.Random(11)
    story = _text(rng, 200)
    other = _text(rng, 200)
    bodies = {
        "c": story,
        "b": story + " extra words at the end",
        "a": story,
        "d": story,
        "x": other,
        "y": other,
    }
    dates = {"d": dt.date(2025, 1, 2), "a": dt.date(2025, 1, 3), "b": dt.date(2025, 1, 3)}
    return _batch(bodies, dates)


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(6)))
def test_keep_policy_is_deterministic_under_shuffles(order):
    batch = _policy_batch()
    result = find_duplicates(batch[list(order)], LSH_ONLY).sort("article_id")
    # Earliest date wins (d); among undated copies the longer body, then the smaller id (x).
    assert dict(result.select("article_id", "cluster_id").iter_rows()) == {
        "a": "d", "b": "d", "c": "d", "d": "d", "x": "x", "y": "x"
    }
    assert result.filter(pl.col("article_id") == "d")["duplicate_of"].item() is None
    assert result.filter(pl.col("article_id") == "a")["similarity"].item() == 1.0


def test_mass_copies_form_one_cluster():
    """A bucket far larger than lsh_bucket_window stays connected through its chain."""
    story = _text(random.Random(19), 150)
    result = find_duplicates(_batch({f"copy{i:03d}": story for i in range(150)}), LSH_ONLY)
    assert set(result["cluster_id"]) == {"copy000"}
    assert result["duplicate_of"].null_count() == 1 and set(result["similarity"].drop_nulls()) == {1.0}


def test_word_count_breaks_date_ties():
    batch = _policy_batch().with_columns(published_date=pl.lit(None, pl.Date))
    result = find_duplicates(batch, LSH_ONLY)
    assert set(result.filter(pl.col("article_id").is_in(["a", "c", "d"]))["cluster_id"]) == {"b"}


def test_without_word_counts_the_texts_of_clustered_articles_are_counted():
    batch = _policy_batch().with_columns(published_date=pl.lit(None, pl.Date), body=pl.col("body") + " " + pl.col("article_id"))
    counted = batch.with_columns(word_count=pl.col("body").str.count_matches(WORD_PATTERN).cast(pl.Int32))
    result = find_duplicates(batch.drop("word_count"), LSH_ONLY)
    assert result.equals(find_duplicates(counted, LSH_ONLY))
    assert set(result.filter(pl.col("article_id").is_in(["a", "c", "d"]))["cluster_id"]) == {"b"}


# ------------------------------------------------------------------------------------ index
def test_cross_run_index():
    rng = random.Random(13)
    story = _text(rng, 150)
    day1 = _batch({"day1": story, "other": _text(rng, 150)}, {"day1": dt.date(2025, 8, 1)})
    index = index_rows(day1)
    day2 = _batch({"day2": story, "new": _text(rng, 150)}, {"day2": dt.date(2025, 7, 1)})  # earlier date, still dropped
    for config in (LSH_ONLY, DedupConfig()):
        result = find_duplicates(day2, config, index=index)
        row = result.filter(pl.col("article_id") == "day2").row(0, named=True)
        assert row["duplicate_of"] == "day1" and row["cluster_id"] == "day1" and row["matched_index"]
        assert row["similarity"] == 1.0 and row["matched_tier"] == "near_copy"
        assert result.filter(pl.col("article_id") == "new")["duplicate_of"].item() is None
    # A rerun of day 1 against its own index rows matches nothing.
    rerun = find_duplicates(day1, LSH_ONLY, index=index)
    assert rerun["duplicate_of"].null_count() == 2 and not rerun["matched_index"].any()


def test_next_day_rewrite_is_matched_through_the_index_on_its_names_too():
    rng = random.Random(37)
    story = rng.sample(WORDS, 200)
    names = [f"Name{i} Place{i}" for i in range(3)] + ["2025", "80,000"]
    other_names = [f"Person{i} Town{i}" for i in range(3)] + ["1999", "17,500"]
    index = index_rows(_batch({"day1": " ".join(story + names)}, {"day1": dt.date(2025, 8, 1)}))
    day2 = _batch(
        {"retold": _retold(rng, story, names, names), "same_topic": _retold(rng, story, names, other_names)},
        {"retold": dt.date(2025, 8, 2), "same_topic": dt.date(2025, 8, 2)},
    )
    for config in (LSH_ONLY, DedupConfig()):
        result = find_duplicates(day2, config, index=index)
        row = result.filter(pl.col("article_id") == "retold").row(0, named=True)
        assert row["duplicate_of"] == "day1" and row["matched_index"] and row["matched_tier"] == "rewrite"
        assert result.filter(pl.col("article_id") == "same_topic")["duplicate_of"].item() is None


def test_a_feature_cache_that_cannot_hold_the_whole_batch_holds_nothing():
    config = DedupConfig()
    chunks = [_features(pl.Series([_text(random.Random(i), 50)] * 3), _Tokeniser(config), config) for i in range(3)]
    size = sum(a.nbytes for a in chunks[0].flat.values()) + sum(a.nbytes for a in chunks[0].lens.values())
    cache = features._FeatureCache(3, 2 * size + size // 2)
    cache.offer(0, chunks[0])
    cache.offer(3, chunks[1])
    assert set(cache.chunks) == {0, 3}
    cache.offer(6, chunks[2])
    assert cache.chunks == {} and cache.sets(0, np.array([0, 1]), ("rewrite",)) is None
    cache.offer(0, chunks[0])
    assert cache.chunks == {}


def test_concatenate_releasing_equals_concatenate_and_lets_the_parts_go(monkeypatch):
    monkeypatch.setattr(memory, "_RELEASE_EVERY_BYTES", 16)  # a release after every other part
    parts = [np.arange(i, i + 3 * i, dtype=np.uint64) for i in range(6)]
    expected = np.concatenate(parts)
    out = memory.concatenate_releasing(parts, np.uint64)
    assert np.array_equal(out, expected) and out.dtype == np.uint64 and parts == []
    assert len(memory.concatenate_releasing([], np.uint64)) == 0


def test_candidate_pairs_let_the_prefilter_signatures_go_once_screened():
    """The signatures are read band by band, then dropped before the shortlist's final trim."""
    config = DedupConfig()
    lsh = _Lsh(config)
    rng = random.Random(23)
    story = _text(rng, 150)
    bodies = pl.Series([story, story + " one more line", _text(rng, 150)])
    feats = _features(bodies, _Tokeniser(config), config, ("rewrite",))
    sig = lsh.signatures("rewrite", feats.flat["rewrite"], feats.lens["rewrite"])
    keys = _Keys(lsh.band_keys("rewrite", sig), np.ones(3, dtype=bool), np.ascontiguousarray(sig.T))
    screen = functools.partial(_prefilter, threshold=config.rewrite_lsh_threshold, config=config)
    found = _candidate_pairs(keys, 32, 48, "skip", screen, config.rewrite_candidates_per_article)
    assert found.rows() == [(0, 1)] and keys.signatures is None


@pytest.mark.parametrize("cache_bytes", [512 << 20, 0], ids=["cached", "re-tokenised"])
def test_index_rows_from_the_signature_pass_equal_index_rows_of_the_kept(monkeypatch, cache_bytes):
    """The pipeline's one-pass path gives the same verdicts and index rows as the two separate calls."""
    monkeypatch.setattr(clusters, "_FEATURE_CACHE_BYTES", cache_bytes)
    rng = random.Random(19)
    bodies = {f"d{i:02d}": _text(rng, rng.randint(5, 200)) for i in range(30)}
    bodies |= {"copy_a": bodies["d03"], "copy_b": bodies["d17"] + " appended words", "short": "tiny text"}
    batch = _batch(bodies)
    config = LSH_ONLY.model_copy(update={"chunk_docs": 7})  # several chunks, one of them partial
    verdicts, rows, _ = deduplicate_with_index_rows(batch, config)
    assert verdicts.equals(find_duplicates(batch, config)) and verdicts["duplicate_of"].null_count() == 31
    kept = batch.join(verdicts.filter(pl.col("duplicate_of").is_null()).select("article_id"), on="article_id", maintain_order="left")
    assert rows.equals(index_rows(kept, config))


def test_index_of_another_lsh_setup_or_layout_is_a_clear_error():
    """Stored band keys and sketches only match the setup that made them (load_index rebuilds such rows)."""
    rng = random.Random(17)
    story = _text(rng, 150)
    other_setup = index_rows(_batch({"old": story}), DedupConfig(near_copy_lsh_threshold=0.8))
    older_layout = index_rows(_batch({"old": story})).drop("near_copy_sketch").with_columns(near_copy_features=pl.lit([1, 2], pl.List(pl.UInt32)))
    for index in (other_setup, older_layout):
        with pytest.raises(PipelineError, match="another feature version or LSH setup"):
            find_duplicates(_batch({"new": story}), LSH_ONLY, index=index)


def _seed_bodies(cleaning: str) -> dict[str, str]:
    bodies = {}
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if cleaning == "trimmed":  # roughly: no site chrome, no trailing notes
            for marker in ("Share This Post", "DOWNLOAD THE APP", "#PoliticsNews"):
                text = text.split(marker)[0]
            text = "\n".join(line for line in text.splitlines() if len(line.split()) > 8)
        elif cleaning == "clean_text":  # what the flow passes
            text = clean_text(text).body
        bodies[path.name[:3]] = text
    return bodies


@pytest.mark.parametrize("cleaning", ["raw", "trimmed", "clean_text"])
@pytest.mark.parametrize("config", [DedupConfig(), LSH_ONLY], ids=["exhaustive", "lsh"])
def test_seeds_find_exactly_the_rewrite_pair(cleaning, config):
    batch = _batch(_seed_bodies(cleaning), {"004": dt.date(2025, 8, 23)})
    result = find_duplicates(batch, config)
    assert _dups(result) == {"001": "004"}
    row = result.filter(pl.col("article_id") == "001").row(0, named=True)
    assert row["matched_tier"] == "rewrite" and row["cluster_id"] == "004" and not row["matched_index"]
    # Rarity-weighted content-word Jaccard: measured 0.289 raw .. 0.334 cleaned; threshold 0.27.
    assert 0.28 <= row["similarity"] <= 0.4


# ------------------------------------------------------------------------------- edge cases
def test_the_engine_imports_without_prefect_and_the_flow_steps_load_on_first_use():
    code = (
        "import sys, tasks.dedup; assert 'prefect' not in sys.modules and 'boto3' not in sys.modules; "
        "from tasks.dedup import dedup_task, load_index_task; assert 'prefect' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_empty_and_single_document():
    empty = find_duplicates(_batch({}))
    assert empty.height == 0 and empty.schema == RESULT_SCHEMA
    single = find_duplicates(_batch({"only": "just one article"}), LSH_ONLY)
    assert single.row(0, named=True) == {
        "article_id": "only", "cluster_id": "only", "duplicate_of": None, "similarity": None,
        "matched_tier": None, "matched_index": False,
    }


@pytest.mark.parametrize("config", [DedupConfig(), LSH_ONLY], ids=["exhaustive", "lsh"])
def test_tiny_documents_do_not_collapse(config):
    bodies = {"e1": "", "e2": "", "p": "!!! ...", "w1": "hello", "w2": "world", "t1": "hello there", "t2": "breaking news"}
    result = find_duplicates(_batch(bodies), config)
    assert result.height == len(bodies) and result.schema == RESULT_SCHEMA
    assert result["cluster_id"].n_unique() == len(bodies)


# ------------------------------------------------------------------------------ real articles
@pytest.mark.skipif(
    not all((DEFAULT_BENCH_DIR / name / "gold.jsonl").is_file() for name in REAL_SETS),
    reason=f"dev benchmarks not present at {DEFAULT_BENCH_DIR} (they live in the shared workspace, not in a clone)",
)
@pytest.mark.parametrize("config", [DedupConfig(exhaustive_max_pairs=10**6), DedupConfig()], ids=["exhaustive", "lsh"])
@pytest.mark.parametrize("urls", [True, False], ids=["urls", "no-urls"])
def test_distinct_real_articles_are_not_merged_and_the_seed_rewrite_is_found_among_them(config, urls):
    """800 distinct articles of other sites and topics, with or without their URLs: the only merges
    are the hand-reviewed same-story pairs (bench/same_story_pairs.json), as gold bodies or as raw
    scrapes with all their site chrome; the seed rewrite pair is still found among them."""
    same_story = reviewed_pairs()["same_story"]
    batch = pl.concat([real_articles(DEFAULT_BENCH_DIR, "gold", urls), seed_batch()], how="diagonal")
    merged = merged_pairs(find_duplicates(batch, config))
    assert frozenset(("seed001", "seed004")) in merged
    assert merged - same_story - {frozenset(("seed001", "seed004"))} == set()
    assert merged_pairs(find_duplicates(real_articles(DEFAULT_BENCH_DIR, "raw", urls), config)) - same_story == set()
