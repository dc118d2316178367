"""Verification: exact similarities of candidate pairs on their feature sets, the evidence the
rewrite tier weighs (word rarity, publication dates, sites, shared verbatim text), and each tier's test."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from tasks.config import DedupConfig
from tasks.dedup import kernels
from tasks.dedup.memory import concatenate_releasing
from tasks.dedup.features import _DF_SLOTS, _MIX, _MIX_OUT, TIERS, _FeatureCache, _features, _KINDS, _Sets, _sorted_unique, _Tokeniser, sketch_sizes
from tasks.records import url_sites


def _feature_sets(
    bodies: pl.Series,
    rows: np.ndarray,
    tokeniser: _Tokeniser,
    config: DedupConfig,
    tiers: tuple[str, ...] = TIERS,
    cache: _FeatureCache | None = None,
) -> dict[str, _Sets]:
    """Feature sets per tier of the given batch rows: from ``cache`` where it kept them, else re-tokenised."""

    def one_chunk(chunk: np.ndarray) -> dict[str, np.ndarray]:
        if cache is not None:
            kept = cache.sets(int(chunk[0]) // cache.chunk_docs * cache.chunk_docs, chunk, tiers)
            if kept is not None:
                return kept
        feats = _features(bodies.gather(chunk), tokeniser, config, tuple(t for t in TIERS if any(k in _KINDS[t] for k in tiers)))
        return {tier: _Sets.of(np.repeat(chunk, feats.lens[tier]), feats.flat[tier]).keys for tier in tiers}

    if cache is None:
        chunks = [rows[start : start + config.chunk_docs] for start in range(0, len(rows), config.chunk_docs)]
    else:
        # One work unit per signature chunk, so each unit is either all cached or all re-tokenised.
        cuts = np.flatnonzero(np.diff(rows // cache.chunk_docs)) + 1
        chunks = [c for c in np.split(rows, cuts) if len(c)]
    # ``rows`` ascend, so each chunk's keys sort after the previous chunk's: no global sort needed.
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        parts = list(pool.map(one_chunk, chunks))
    return {tier: _Sets(concatenate_releasing([p.pop(tier) for p in parts], np.uint64)) for tier in tiers}


# Pairs measured at once: a block's per-pair arrays (~150 bytes a pair) are freed before the next.
_PAIR_BLOCK = 1 << 20


def _similarities(pairs: pl.DataFrame, sets: _Sets, weights: np.ndarray | None = None) -> pl.DataFrame:
    """Set sizes, exact Jaccard and containment of each (a, b) pair's feature sets (0 when a set is
    empty); given ``weights`` (per document-frequency slot), also the weighted Jaccard."""
    if pairs.height > _PAIR_BLOCK:
        return pl.concat([_similarities(block, sets, weights) for block in pairs.iter_slices(_PAIR_BLOCK)])
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    start_a, end_a = sets.bounds(a)
    start_b, end_b = sets.bounds(b)
    # Weights are looked up by slot where summed: an array of one weight per key would be as big as the keys.
    common, shared = kernels.intersections(sets.keys, np.empty(0) if weights is None else weights, start_a, end_a, start_b, end_b)
    na, nb = end_a - start_a, end_b - start_b
    union, smaller = na + nb - common, np.minimum(na, nb)
    weighted = None
    if weights is not None:
        rows = _sorted_unique(np.concatenate([a, b]))
        mass = kernels.set_weights(sets.keys, weights, *sets.bounds(rows))
        weighted = (shared, mass[np.searchsorted(rows, a)] + mass[np.searchsorted(rows, b)] - shared)
    return _similarity_frame(pairs, na, nb, (common, union), (common, smaller), weighted)


def _similarity_frame(
    pairs: pl.DataFrame,
    na: np.ndarray,
    nb: np.ndarray,
    jaccard: tuple[np.ndarray, np.ndarray],
    containment: tuple[np.ndarray, np.ndarray],
    weighted: tuple[np.ndarray, np.ndarray] | None,
) -> pl.DataFrame:
    """The similarity columns from (numerator, denominator) pairs: 0 where a denominator is 0."""

    def ratio(parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        top, bottom = parts
        return np.divide(top, bottom, out=np.zeros(len(top)), where=bottom > 0)

    columns = {"a": pairs["a"], "b": pairs["b"], "na": na, "nb": nb, "jaccard": ratio(jaccard), "containment": ratio(containment)}
    if weighted is not None:
        columns["weighted"] = ratio(weighted)
    return pl.DataFrame(columns, schema_overrides={"a": pl.UInt32, "b": pl.UInt32})


def _estimated_similarities(
    pairs: pl.DataFrame, sketches: _Sets, na: np.ndarray, nb: np.ndarray, k: int, weights: np.ndarray | None = None
) -> pl.DataFrame:
    """``_similarities`` estimated from bottom-k sketches (what index rows store) and set sizes.

    Jaccard: the share of the k smallest features of A ∪ B that are in both (standard error about
    sqrt(J(1-J)/k)); weighted Jaccard: the same sample weighted; containment: the share of the
    smaller set's sketched features, up to the largest one the larger set's sketch holds, that the
    larger set's sketch holds too (0 with fewer than ``_MIN_CONTAINMENT_SAMPLE`` of them: a short text
    against a long one cannot be judged from the sketches).
    """
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    start_a, end_a = sketches.bounds(a)
    start_b, end_b = sketches.bounds(b)
    key_weights = np.empty(0) if weights is None else weights[(sketches.keys & np.uint64(_DF_SLOTS - 1)).astype(np.int64)]
    seen, common, shared, total = kernels.sketch_intersections(sketches.keys, key_weights, start_a, end_a, start_b, end_b, k)
    a_smaller = na <= nb
    sample, held = kernels.sketch_containment(
        sketches.keys,
        np.where(a_smaller, start_a, start_b),
        np.where(a_smaller, end_a, end_b),
        np.where(a_smaller, start_b, start_a),
        np.where(a_smaller, end_b, end_a),
        np.where(a_smaller, nb > end_b - start_b, na > end_a - start_a),
    )
    enough = np.where(sample >= _MIN_CONTAINMENT_SAMPLE, sample, 0)
    return _similarity_frame(pairs, na, nb, (common, seen), (held, enough), None if weights is None else (shared, total))


# Sketched features a containment estimate needs (at 8, one that is 0.9 has a standard error of 0.11).
_MIN_CONTAINMENT_SAMPLE = 8


class Universe(Protocol):
    """The feature sets of the rows verification compares: exact for the batch, bottom-k sketches
    (``sketch_sizes``) for the index of earlier runs, which stores no text and no full sets."""

    n_exact: int  # rows below this have exact sets; pairs with a row at or above it are estimated

    def sets(self, rows: np.ndarray, kinds: tuple[str, ...]) -> dict[str, _Sets]:
        """Exact sets of rows below ``n_exact`` (``rows`` ascending)."""

    def sketches(self, rows: np.ndarray, kind: str) -> tuple[_Sets, np.ndarray]:
        """Bottom-k sketches of ``rows`` (ascending) and their full set sizes, in row order."""


def _involved(pairs: pl.DataFrame) -> np.ndarray:
    """The rows of ``pairs``, ascending and distinct."""
    return _sorted_unique(np.concatenate([pairs["a"].to_numpy(), pairs["b"].to_numpy()]))


def _kind_similarities(pairs: pl.DataFrame, kind: str, universe: Universe, config: DedupConfig, weights: np.ndarray | None = None) -> pl.DataFrame:
    """Similarities of ``pairs`` in one feature kind: exact where both rows have their sets, estimated
    from sketches where one is an index row (``b > a``, and index rows come after batch rows)."""
    sketched = pairs["b"].to_numpy() >= universe.n_exact
    exact, estimated = pairs.filter(pl.Series(~sketched)), pairs.filter(pl.Series(sketched))
    parts = [_similarities(exact, universe.sets(_involved(exact), (kind,))[kind], weights)]
    if estimated.height:
        rows = _involved(estimated)
        sketches, sizes = universe.sketches(rows, kind)
        na = sizes[np.searchsorted(rows, estimated["a"].to_numpy())]
        nb = sizes[np.searchsorted(rows, estimated["b"].to_numpy())]
        parts.append(_estimated_similarities(estimated, sketches, na, nb, sketch_sizes(config)[kind], weights))
    return pl.concat(parts).with_columns(estimated=pl.col("b") >= universe.n_exact)


def sites(frame: pl.DataFrame) -> pl.Series:
    """The site of each row's ``url`` (``tasks.records.url_sites``; null when the URL, or the column,
    is missing)."""
    if "site" in frame.columns:  # index rows store it
        return frame["site"]
    if "url" not in frame.columns:
        return pl.Series("site", [None] * frame.height, dtype=pl.String)
    return url_sites(frame["url"]).alias("site")


@dataclass
class _Evidence:
    """What verification weighs beside the feature sets: word rarity, publication dates and sites."""

    weights: np.ndarray | None  # per document-frequency slot: log((N + prior) / (df + 1))
    dates: pl.Series  # published_date of every universe row
    sites: pl.Series  # site of every universe row (null when its URL is unknown)
    bodies: pl.Series  # texts of the batch rows (the first universe rows; index rows have none)
    tokeniser: _Tokeniser

    @classmethod
    def of(
        cls, frequencies: np.ndarray | None, universe: pl.DataFrame, bodies: pl.Series, tokeniser: _Tokeniser, config: DedupConfig
    ) -> _Evidence:
        weights = None
        if frequencies is not None:
            weights = np.log((len(bodies) + config.rewrite_idf_prior_docs) / (frequencies.astype(np.float64) + 1.0))
        return cls(weights, universe["published_date"], universe["site"], bodies, tokeniser)

    def measure(self, tier: str, pairs: pl.DataFrame, universe: Universe, config: DedupConfig, screen: bool = True) -> pl.DataFrame:
        """A tier's similarities of ``pairs``, with ``score`` (the similarity a verdict reports: shingle
        Jaccard for near-copies, rarity-weighted content-word Jaccard for rewrites) and, for rewrites,
        ``names`` (Jaccard of names and numbers), ``verbatim`` (shingle containment: how much text
        they share word for word), ``own_share`` and ``own_names`` (``_own_text``), ``days_apart`` (null when a date
        is unknown) and ``same_site``.  Pairs with an index row are estimated from its sketches.

        With ``screen``, rewrite pairs that fail the names test are left out before their (larger)
        content-word sets are compared (documents of one template share their words, not their
        names), and pairs that fail the content tests or the site and date tests (``_may_retell``)
        before their (larger still) shingle sets and their texts are.
        """
        pairs = pairs.select("a", "b")
        if tier != "rewrite":
            return _kind_similarities(pairs, tier, universe, config).with_columns(score=pl.col("jaccard"))
        names = _kind_similarities(pairs, "names", universe, config).select("a", "b", names="jaccard")
        if screen:
            names = names.filter(pl.col("names") >= config.rewrite_name_threshold)
        sims = _kind_similarities(names, "rewrite", universe, config, self.weights).join(names, on=["a", "b"])
        a, b = sims["a"].to_numpy(), sims["b"].to_numpy()
        sims = sims.with_columns(
            score=pl.col("weighted"),
            days_apart=(self.dates.gather(a) - self.dates.gather(b)).dt.total_days().abs(),
            same_site=(self.sites.gather(a) == self.sites.gather(b)).fill_null(False),
        )
        if screen:
            sims = sims.filter(_passes_content(config) & _may_retell(config))
        verbatim = _kind_similarities(sims, "near_copy", universe, config).select("a", "b", verbatim="containment")
        sims = sims.join(verbatim, on=["a", "b"])
        return pl.concat([sims, _own_text(sims, self.bodies, universe.n_exact, self.tokeniser, config)], how="horizontal")


# Pairs one work unit of ``_own_text`` measures: their texts' tokens, shingles and sort orders (~17
# bytes a word) are held a unit at a time, not for every pair at once.
_OWN_TEXT_BLOCK = 2048


def _own_text(pairs: pl.DataFrame, bodies: pl.Series, n_exact: int, tokeniser: _Tokeniser, config: DedupConfig) -> pl.DataFrame:
    """What each text of a pair says outside the passages both share word for word (words covered by
    a shingle of the other text): ``own_share``, the smaller of the two texts' shares of content words
    in runs of at least ``rewrite_own_run_words`` such words (a passage of its own), and
    ``own_names``, the Jaccard of the names and numbers each has outside shared passages.  Null for a
    pair with a row at or beyond ``n_exact`` (an index row: no text, only its sketches).

    An edited copy has almost no passage of its own (scattered edits, a cut); two pages of one site
    share their chrome and templates (menus, a show's cast and ticket block) and each has its own
    story, whose names do not match; a retelling names the story's people in its own sentences.
    Positions matter, so this is measured on the texts, for the few pairs that pass every other
    rewrite test.
    """
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    own_names, own_share = np.full(len(a), np.nan), np.full(len(a), np.nan)
    both = np.flatnonzero((a < n_exact) & (b < n_exact))

    def measure(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = _sorted_unique(np.concatenate([a[part], b[part]]))
        tok, flags, lens = tokeniser.tokenise(bodies.gather(rows))
        shingles, shingle_lens = kernels.ngram_hashes(tok, lens, config.near_copy_ngram, _MIX, _MIX_OUT)
        starts, shingle_starts = np.cumsum(lens) - lens, np.cumsum(shingle_lens) - shingle_lens
        orders = kernels.segment_orders(shingles, shingle_starts, shingle_lens)
        return kernels.own_text(
            tok, flags, starts, lens, shingles, shingle_starts, shingle_lens, orders,
            np.searchsorted(rows, a[part]), np.searchsorted(rows, b[part]), config.near_copy_ngram, config.rewrite_own_run_words,
        )

    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        parts = list(pool.map(measure, [both[s : s + _OWN_TEXT_BLOCK] for s in range(0, len(both), _OWN_TEXT_BLOCK)]))
    if parts:
        own_share[both] = np.concatenate([p[0] for p in parts])
        own_names[both] = np.concatenate([p[1] for p in parts])
    return pl.DataFrame({"own_names": own_names, "own_share": own_share}, nan_to_null=True)


def _at_least(column: str, threshold: float, kind: str, config: DedupConfig) -> pl.Expr:
    """``column >= threshold``; for a pair estimated from sketches (``estimated``) the threshold is
    raised by ``index_estimate_sigmas`` standard errors of the estimate at the threshold, so that
    estimation noise rarely merges a pair whose exact value is below it."""
    error = config.index_estimate_sigmas * np.sqrt(threshold * (1 - threshold) / sketch_sizes(config)[kind])
    return pl.col(column) >= threshold + pl.col("estimated").cast(pl.Float64) * error


def _passes_content(config: DedupConfig) -> pl.Expr:
    """The rewrite tests on content words: plain and rarity-weighted Jaccard, enough words on both sides."""
    return (
        _at_least("jaccard", config.rewrite_threshold, "rewrite", config)
        & _at_least("weighted", config.rewrite_weighted_threshold, "rewrite", config)
        & (pl.min_horizontal("na", "nb") >= config.rewrite_min_words)
    )


def _may_retell(config: DedupConfig) -> pl.Expr:
    """The rewrite tests on where and when: two sites (unless ``rewrite_within_site``), published
    dates (when both known) at most ``rewrite_max_days_apart`` apart."""
    return (~pl.col("same_site") | config.rewrite_within_site) & pl.col("days_apart").fill_null(0).le(
        config.rewrite_max_days_apart
    )


def _verified(sims: dict[str, pl.DataFrame], config: DedupConfig) -> pl.DataFrame:
    """Pairs whose similarity passes a tier's test (``_Evidence.measure`` columns); near_copy wins when both do.

    A rewrite needs all of: content-word Jaccard, its rarity-weighted form, the Jaccard of names and
    numbers, published dates (when both known) at most ``rewrite_max_days_apart`` apart,
    ``rewrite_min_words`` distinct content words on both sides (a low threshold on a handful of words
    is noise), two sites (unless ``rewrite_within_site``), and what the texts say outside the passages
    they share word for word: either one text has almost no passage of its own (an edited copy), or
    their names outside shared passages match (``_own_text``: pages of one site share chrome and
    templates, not their stories' names); against an index row, which has no text, the shared
    passages must be few (``rewrite_max_verbatim``: a retelling) or most of the smaller text
    (``rewrite_index_copy_containment``: an edited copy).  Each alone lets different stories through
    (README, "Dedup", has the measured margins).
    """
    passes = {
        "near_copy": _at_least("jaccard", config.near_copy_threshold, "near_copy", config)
        | _at_least("containment", config.near_copy_containment, "near_copy", config),
        "rewrite": _passes_content(config)
        & _at_least("names", config.rewrite_name_threshold, "names", config)
        & pl.when(pl.col("own_share").is_null())  # an index row: no text, only how much is shared
        .then((pl.col("verbatim") < config.rewrite_max_verbatim) | (pl.col("verbatim") >= config.rewrite_index_copy_containment))
        .otherwise((pl.col("own_share") < config.rewrite_copy_own_share) | (pl.col("own_names") >= config.rewrite_own_name_threshold))
        & _may_retell(config),
    }
    return (
        pl.concat(
            [
                sims[t].filter(passes[t]).select("a", "b", similarity=pl.col("score"), tier=pl.lit(TIERS.index(t), pl.UInt8))
                for t in config.tiers
            ]
        )
        .sort("tier")
        .unique(["a", "b"], keep="first")
    )
