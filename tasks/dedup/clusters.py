"""Clusters of verified pairs and the one article kept per cluster: the engine's entry points,
from a batch (and the index of earlier runs) to verdicts and index rows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tasks.config import DedupConfig
from tasks.dedup.candidates import (
    _LARGE_BUCKETS,
    CandidateStats,
    _PREFILTERED,
    _all_pairs,
    _batch_keys,
    _candidate_pairs,
    _Keys,
    _Lsh,
    _prefilter,
)
from tasks.dedup.features import _DF_SLOTS, TIERS, _FeatureCache, _Sets, _sorted_unique, _Tokeniser, sketch_sizes
from tasks.dedup.index import _band_columns, _index_for, _index_keys, _index_rows, _index_sketches, index_rows
from tasks.dedup.memory import release_freed_memory
from tasks.dedup.verify import Universe, _Evidence, _feature_sets, _verified, sites
from tasks.errors import PipelineError
from tasks.records import word_counts

RESULT_SCHEMA = pl.Schema(
    {
        "article_id": pl.String,
        "cluster_id": pl.String,
        "duplicate_of": pl.String,
        "similarity": pl.Float64,
        "matched_tier": pl.String,
        "matched_index": pl.Boolean,
    }
)

# Bytes of signature-pass features kept for verification and index rows (about the batch's text
# size: 5.8 KB an article of the realistic bench corpus, so ~180k such articles).  A batch whose
# features do not fit keeps none (``_FeatureCache``), and one whose text alone exceeds the budget has
# no cache at all: its rows are re-tokenised, slower, but a huge batch holds no extra memory for it.
_FEATURE_CACHE_BYTES = 1 << 30


def _keep_rank(universe: pl.DataFrame) -> np.ndarray:
    """Rank of every universe row under the keep policy (0 = the best to keep)."""
    order = universe.with_row_index("row").sort(
        ["from_index", "published_date", "word_count", "article_id"],
        descending=[True, False, True, False],
        nulls_last=True,
    )["row"].to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _empty_result() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULT_SCHEMA)


@dataclass
class DedupStats:
    """Candidate counts per tier (none when the batch was small enough to verify every pair)."""

    candidates: dict[str, CandidateStats]

    def summary(self) -> str:
        return "; ".join(
            f"{tier}: {c.pairs:,} candidate pairs verified, {c.screened_out:,} proposals under the prefilter's floor, "
            f"{c.capped:,} over the per-article bound"
            for tier, c in self.candidates.items()
        ) or "every pair verified (small batch)"


def _tier_candidates(keys: _Keys, tier: str, stats: CandidateStats, config: DedupConfig) -> pl.DataFrame:
    """A tier's LSH candidates; a prefiltered tier's screened by their MinHash estimates and bounded per article."""
    screen, bound = None, None
    if tier in _PREFILTERED:
        screen = partial(_prefilter, threshold=config.rewrite_lsh_threshold, config=config)
        bound = config.rewrite_candidates_per_article
    return _candidate_pairs(keys, config.lsh_bucket_window, config.lsh_max_bucket_rows, _LARGE_BUCKETS[tier], screen, bound, stats)


# --------------------------------------------------------------------------------------------- API
def find_duplicates(batch: pl.DataFrame, config: DedupConfig = DedupConfig(), index: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per batch article: its cluster, and what it duplicates if it is not kept.

    ``batch`` needs ``article_id`` (unique), ``body``, ``published_date`` (nullable) and, optionally,
    ``word_count`` (without it, the texts of articles that share a cluster are counted by
    ``tasks.records``' rule).
    ``index`` holds ``index_rows`` of articles published by earlier runs; they are always kept, and
    index rows whose ``article_id`` is also in ``batch`` are ignored (a rerun must not match itself).

    Returns ``article_id``, ``cluster_id`` (the kept article's id), ``duplicate_of`` (null when kept),
    ``similarity`` (exact Jaccard with ``duplicate_of`` in ``matched_tier``'s features), ``matched_tier``
    ("near_copy" or "rewrite") and ``matched_index`` (the kept article comes from ``index``).

    Keep policy per cluster: an index article first; then the earliest ``published_date`` (nulls
    last), the larger ``word_count``, the smallest ``article_id``.  Two articles are in one cluster
    when a chain of verified pairs joins them; a dropped article's ``similarity`` is measured against
    the kept article directly (it can fall below the threshold at the end of a long chain).
    """
    return _deduplicate(batch, config, index, with_index_rows=False)[0]


def deduplicate_with_index_rows(
    batch: pl.DataFrame, config: DedupConfig = DedupConfig(), index: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, DedupStats]:
    """``find_duplicates``, the ``index_rows`` of the articles it keeps (reusing the features and band
    keys its signature pass computed instead of tokenising the kept articles again), and the step's
    candidate counts."""
    return _deduplicate(batch, config, index, with_index_rows=True)


def _deduplicate(
    batch: pl.DataFrame, config: DedupConfig, index: pl.DataFrame | None, with_index_rows: bool
) -> tuple[pl.DataFrame, pl.DataFrame | None, DedupStats]:
    if batch.height == 0:
        return _empty_result(), (index_rows(batch, config) if with_index_rows else None), DedupStats({})
    n = batch.height
    lsh = _Lsh(config)
    index = _index_for(batch, index, lsh)
    m = 0 if index is None else index.height
    bodies = batch["body"]
    tokeniser = _Tokeniser(config)

    exhaustive = n * (n - 1) // 2 + n * m <= config.exhaustive_max_pairs
    cache, reusable, frequencies, stats = None, None, None, DedupStats({})
    if exhaustive:
        candidates = {tier: _all_pairs(n, m) for tier in config.tiers}
    else:
        cache = _FeatureCache.for_batch(bodies, config.chunk_docs, _FEATURE_CACHE_BYTES)
        keys, frequencies = _batch_keys(bodies, tokeniser, lsh, cache)
        if with_index_rows and set(config.tiers) == set(TIERS):
            reusable = {t: _Keys(keys[t].keys, keys[t].eligible) for t in TIERS}  # not the prefilter's signatures
        if index is not None:
            stored = _index_keys(index, lsh)
            keys = {
                t: _Keys(np.hstack([keys[t].keys, stored[t].keys]), np.concatenate([keys[t].eligible, stored[t].eligible]), keys[t].signatures)
                for t in config.tiers
            }
        stats = DedupStats({t: CandidateStats() for t in config.tiers})
        # Pairs of two index rows were settled by an earlier run.
        candidates = {t: _tier_candidates(keys.pop(t), t, stats.candidates[t], config).filter(pl.col("a") < n) for t in config.tiers}
    universe = _universe(batch, index)
    features = _UniverseFeatures(bodies, index, n, tokeniser, config, cache)
    sims, evidence = {}, _Evidence.of(None, universe, bodies, tokeniser, config)
    for t in config.tiers:
        if t == "rewrite":
            if frequencies is None:  # exhaustive: no signature pass counted them
                rows = np.arange(n) if candidates[t].height else np.empty(0, np.int64)
                batch_keys = features.sets(rows, ("rewrite",))["rewrite"].keys
                frequencies = np.bincount((batch_keys & np.uint64(_DF_SLOTS - 1)).astype(np.int64), minlength=_DF_SLOTS)
            evidence = _Evidence.of(frequencies, universe, bodies, tokeniser, config)
        sims[t] = evidence.measure(t, _unsettled(t, candidates[t], sims, config), features, config)
    edges = _verified(sims, config)

    total = n + m
    graph = coo_matrix(
        (np.ones(edges.height, dtype=np.int8), (edges["a"].to_numpy(), edges["b"].to_numpy())), shape=(total, total)
    )
    _, component = connected_components(graph, directed=False)
    if "word_count" not in batch.columns:
        universe = _with_word_counts(universe, bodies, component)
    rank = _keep_rank(universe)
    # The kept row of a component is the one of lowest rank.
    best = np.full(component.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(best, component, rank)
    row_of_rank = np.argsort(rank)
    kept = row_of_rank[best[component[:n]]]

    dropped = np.flatnonzero(kept != np.arange(n))
    to_kept = pl.DataFrame(
        {
            "row": dropped.astype(np.uint32),
            "a": np.minimum(dropped, kept[dropped]).astype(np.uint32),
            "b": np.maximum(dropped, kept[dropped]).astype(np.uint32),
        }
    )
    # Most dropped rows were verified against their kept article directly; only chained ones need sets.
    similarity = to_kept.join(edges, on=["a", "b"]).select("row", "similarity", "tier")
    chained = to_kept.join(edges, on=["a", "b"], how="anti")
    if chained.height:
        similarity = pl.concat([similarity, _chained_similarity(chained, edges, features, evidence, config)])
    verdicts = (
        pl.DataFrame({"article_id": batch["article_id"], "cluster_id": universe["article_id"].gather(kept), "matched_index": kept >= n})
        .with_row_index("row")
        .join(similarity, on="row", how="left", maintain_order="left")
        .select(
            "article_id",
            "cluster_id",
            duplicate_of=pl.when(pl.col("article_id") != pl.col("cluster_id")).then(pl.col("cluster_id")),
            similarity="similarity",
            matched_tier=pl.col("tier").replace_strict({0: TIERS[0], 1: TIERS[1]}, default=None, return_dtype=pl.String),
            matched_index="matched_index",
        )
    )
    if not with_index_rows:
        return verdicts, None, stats
    keep = kept == np.arange(n)
    if reusable is None:  # small batch (no signature pass) or a subset of the tiers
        return verdicts, index_rows(batch.filter(pl.Series(keep)), config), stats
    bands = _band_columns(reusable, keep)
    # The band keys (now in ``bands``), the pair frames, and what verification freed on the worker
    # threads go before the index rows' sketches take their place.
    del reusable, sims, candidates, edges, graph
    release_freed_memory()
    return verdicts, _index_rows(batch, keep, tokeniser, lsh, cache, bands), stats


def _unsettled(tier: str, pairs: pl.DataFrame, sims: dict[str, pl.DataFrame], config: DedupConfig) -> pl.DataFrame:
    """``tier``'s candidate ``pairs`` without those a tier before it (in ``TIERS`` order) verified:
    ``_verified`` names a pair by its first passing tier, so later tiers' tests cannot change its
    edge (copies of one text are rewrite candidates too, and the rewrite evidence costs the most)."""
    earlier = [t for t in TIERS[: TIERS.index(tier)] if t in sims]
    if not earlier or pairs.height == 0:
        return pairs
    settled = _verified({t: sims[t] for t in earlier}, config.model_copy(update={"tiers": tuple(earlier)}))
    return pairs.join(settled.select("a", "b"), on=["a", "b"], how="anti", maintain_order="left")


def _universe(batch: pl.DataFrame, index: pl.DataFrame | None) -> pl.DataFrame:
    """What the keep policy and the evidence read of every universe row: batch rows, then index rows."""
    frames = [(batch, False)] + ([] if index is None else [(index, True)])
    return pl.concat(
        [
            frame.select(
                "article_id",
                "published_date",
                pl.col("word_count").cast(pl.Int64) if "word_count" in frame.columns else pl.lit(None, pl.Int64).alias("word_count"),
                from_index=pl.lit(origin),
            ).with_columns(site=sites(frame))
            for frame, origin in frames
        ]
    )


def _with_word_counts(universe: pl.DataFrame, bodies: pl.Series, component: np.ndarray) -> pl.DataFrame:
    """``universe`` with the ``word_count`` (``tasks.records``' rule) of the batch rows whose cluster has
    other rows: only there does the keep policy read it (counting every text costs seconds a 100k batch)."""
    n = len(bodies)
    crowded = np.flatnonzero(np.bincount(component)[component[:n]] > 1)
    counts = universe["word_count"].clone().scatter(crowded, word_counts(bodies.gather(crowded)).cast(pl.Int64))
    return universe.with_columns(counts)


@dataclass
class _UniverseFeatures:
    """Feature sets of the batch rows (from the signature pass's cache, else tokenised) and sketches
    of every row: the batch's cut from its sets, the index's as stored (``verify.Universe``)."""

    bodies: pl.Series
    index: pl.DataFrame | None
    n_exact: int
    tokeniser: _Tokeniser
    config: DedupConfig
    cache: _FeatureCache | None = None

    def sets(self, rows: np.ndarray, kinds: tuple[str, ...]) -> dict[str, _Sets]:
        return _feature_sets(self.bodies, rows, self.tokeniser, self.config, kinds, self.cache)

    def sketches(self, rows: np.ndarray, kind: str) -> tuple[_Sets, np.ndarray]:
        batch_rows = rows[rows < len(self.bodies)]
        batch_sets = self.sets(batch_rows, (kind,))[kind]
        keys, sizes = [batch_sets.bottom_k(sketch_sizes(self.config)[kind]).keys], [batch_sets.sizes(batch_rows)]
        if self.index is not None:
            stored = _index_sketches(self.index, len(self.bodies), rows[rows >= len(self.bodies)], kind)
            keys.append(stored[0].keys)
            sizes.append(stored[1])
        # Index rows are numbered after batch rows, so concatenating keeps the keys sorted.
        return _Sets(np.concatenate(keys)), np.concatenate(sizes)


def _chained_similarity(
    pairs: pl.DataFrame, edges: pl.DataFrame, features: Universe, evidence: _Evidence, config: DedupConfig
) -> pl.DataFrame:
    """(row, similarity, tier) of dropped rows joined to their kept article only through a chain.

    Measured directly: the first tier whose test the pair passes names the match; otherwise the
    tier of the row's best own edge, with the pair's score in that tier (below its threshold).
    """
    sims = {t: evidence.measure(t, pairs.select("a", "b"), features, config, screen=False) for t in config.tiers}
    direct = _verified(sims, config).rename({"similarity": "direct_similarity", "tier": "direct_tier"})
    own = pl.concat([edges.select(row="a", tier="tier"), edges.select(row="b", tier="tier")]).group_by("row").agg(pl.col("tier").min())
    measured = pl.concat(
        [sims[t].select("a", "b", chain_similarity="score", chain_tier=pl.lit(TIERS.index(t), pl.UInt8)) for t in sims]
    )
    return (
        pairs.join(direct, on=["a", "b"], how="left")
        .join(own, on="row", how="left")
        .join(measured, left_on=["a", "b", "tier"], right_on=["a", "b", "chain_tier"], how="left")
        .select(
            "row",
            similarity=pl.coalesce("direct_similarity", "chain_similarity"),
            tier=pl.coalesce("direct_tier", "tier"),
        )
    )


def deduplicate_table(
    table: pl.DataFrame,
    text_column: str,
    id_column: str,
    config: DedupConfig = DedupConfig(),
    date_column: str | None = None,
    url_column: str | None = None,
) -> pl.DataFrame:
    """Any table with an id and a text column: every row back, plus ``cluster_id``, ``duplicate_of``, ``similarity``.

    Ids are compared as strings; ``date_column`` (a date) feeds the keep policy and the rewrite
    tier's date window when given, ``url_column`` the rewrite tier's site test (as in the pipeline).
    """
    missing = [c for c in (text_column, id_column, date_column, url_column) if c and c not in table.columns]
    if missing:
        raise PipelineError(f"no column {', '.join(map(repr, missing))} in the input; it has {', '.join(table.columns)}")
    ids = table[id_column].cast(pl.String)
    if ids.null_count() or ids.n_unique() != table.height:
        raise PipelineError(f"column {id_column!r} must hold a unique, non-null id per row")
    body = table[text_column].cast(pl.String).fill_null("")
    batch = pl.DataFrame(
        {
            "article_id": ids,
            "body": body,
            "published_date": table[date_column].cast(pl.Date) if date_column else pl.Series([None] * table.height, dtype=pl.Date),
            "url": table[url_column].cast(pl.String) if url_column else pl.Series([None] * table.height, dtype=pl.String),
        }
    )
    verdicts = find_duplicates(batch, config).select("article_id", "cluster_id", "duplicate_of", "similarity")
    return table.with_columns(ids.alias("__id")).join(
        verdicts.rename({"article_id": "__id"}), on="__id", how="left", maintain_order="left"
    ).drop("__id")
