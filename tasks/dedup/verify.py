"""Verification: exact similarities of candidate pairs on their feature sets, the evidence the
rewrite tier weighs (word rarity, publication dates), and each tier's test."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from tasks.config import DedupConfig
from tasks.dedup import kernels
from tasks.dedup.features import _DF_SLOTS, TIERS, _FeatureCache, _features, _Sets, _Tokeniser


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
        feats = _features(bodies.gather(chunk), tokeniser, config, tiers)
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
    return {tier: _Sets(np.concatenate([p[tier] for p in parts] or [np.empty(0, np.uint64)])) for tier in tiers}


def _similarities(pairs: pl.DataFrame, sets: _Sets, weights: np.ndarray | None = None) -> pl.DataFrame:
    """Set sizes, exact Jaccard and containment of each (a, b) pair's feature sets (0 when a set is
    empty); given ``weights`` (per document-frequency slot), also the weighted Jaccard."""
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    start_a, end_a = sets.bounds(a)
    start_b, end_b = sets.bounds(b)
    key_weights = np.empty(0) if weights is None else weights[(sets.keys & np.uint64(_DF_SLOTS - 1)).astype(np.int64)]
    common, shared = kernels.intersections(sets.keys, key_weights, start_a, end_a, start_b, end_b)
    na, nb = end_a - start_a, end_b - start_b
    union, smaller = na + nb - common, np.minimum(na, nb)
    columns = {
        "a": a,
        "b": b,
        "na": na,
        "nb": nb,
        "jaccard": np.divide(common, union, out=np.zeros(len(a)), where=union > 0),
        "containment": np.divide(common, smaller, out=np.zeros(len(a)), where=smaller > 0),
    }
    if weights is not None:
        total = np.concatenate(([0.0], np.cumsum(key_weights)))
        weighted_union = total[end_a] - total[start_a] + total[end_b] - total[start_b] - shared
        columns["weighted"] = np.divide(shared, weighted_union, out=np.zeros(len(a)), where=weighted_union > 0)
    return pl.DataFrame(columns, schema_overrides={"a": pl.UInt32, "b": pl.UInt32})


@dataclass
class _Evidence:
    """What verification weighs beside the feature sets: word rarity and publication dates."""

    weights: np.ndarray | None  # per document-frequency slot: log((N + prior) / (df + 1))
    dates: pl.Series  # published_date of every universe row

    @classmethod
    def of(cls, frequencies: np.ndarray | None, n_docs: int, dates: pl.Series, config: DedupConfig) -> _Evidence:
        if frequencies is None:
            return cls(None, dates)
        prior = config.rewrite_idf_prior_docs
        return cls(np.log((n_docs + prior) / (frequencies.astype(np.float64) + 1.0)), dates)

    def measure(self, tier: str, pairs: pl.DataFrame, sets: dict[str, _Sets], min_names: float = 0.0) -> pl.DataFrame:
        """A tier's similarities of ``pairs``, with ``score`` (the similarity a verdict reports: shingle
        Jaccard for near-copies, rarity-weighted content-word Jaccard for rewrites) and, for rewrites,
        ``names`` (Jaccard of names and numbers) and ``days_apart`` (null when a date is unknown).

        Rewrite pairs whose names Jaccard is below ``min_names`` are left out before their (larger)
        content-word sets are compared: documents of one template share their words, not their names.
        """
        if tier != "rewrite":
            return _similarities(pairs, sets[tier]).with_columns(score=pl.col("jaccard"))
        names = _similarities(pairs, sets["names"])["jaccard"]
        pairs = pairs.select("a", "b").with_columns(names=names).filter(pl.col("names") >= min_names)
        sims = _similarities(pairs, sets[tier], self.weights)
        a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
        return sims.with_columns(
            score=pl.col("weighted"),
            names=pairs["names"],
            days_apart=(self.dates.gather(a) - self.dates.gather(b)).dt.total_days().abs(),
        )


def _verified(sims: dict[str, pl.DataFrame], config: DedupConfig) -> pl.DataFrame:
    """Pairs whose similarity passes a tier's test (``_Evidence.measure`` columns); near_copy wins when both do.

    A rewrite needs all of: content-word Jaccard, its rarity-weighted form, the Jaccard of names and
    numbers, published dates (when both known) at most ``rewrite_max_days_apart`` apart, and
    ``rewrite_min_words`` distinct content words on both sides (a low threshold on a handful of words
    is noise).  Each alone lets same-topic stories through (docs/scaling.md has the measured margins).
    """
    passes = {
        "near_copy": (pl.col("jaccard") >= config.near_copy_threshold) | (pl.col("containment") >= config.near_copy_containment),
        "rewrite": (pl.col("jaccard") >= config.rewrite_threshold)
        & (pl.col("weighted") >= config.rewrite_weighted_threshold)
        & (pl.col("names") >= config.rewrite_name_threshold)
        & (pl.min_horizontal("na", "nb") >= config.rewrite_min_words)
        & pl.col("days_apart").fill_null(0).le(config.rewrite_max_days_apart),
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
