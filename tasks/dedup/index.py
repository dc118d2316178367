"""The cross-run index: rows that let a later run match against published articles without their
bodies, the index of earlier dates loaded (or rebuilt) for a run, and its use in matching."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
from prefect import get_run_logger, task

from tasks.config import DedupConfig, S3Config
from tasks.dedup.candidates import _chunk_keys, _eligible, _Keys, _Lsh
from tasks.dedup.features import (
    _INDEXED_KINDS,
    FEATURE_VERSION,
    TIERS,
    _FeatureCache,
    _Features,
    _features,
    _sorted_unique,
    _Sets,
    _Tokeniser,
)
from tasks.dedup.verify import sites
from tasks.publish import read_manifest
from tasks.storage import STORAGE_TASK_OPTIONS, Storage, open_storage

# The dataset, published with each partition, that holds the index rows of the articles it kept.
INDEX_DATASET = "_index"


def _index_for(batch: pl.DataFrame, index: pl.DataFrame | None) -> pl.DataFrame | None:
    """Index rows to match against: never the batch's own articles (a rerun of the same day)."""
    if index is None or index.height == 0:
        return None
    index = index.filter(~pl.col("article_id").is_in(batch["article_id"].implode()))
    if index.height == 0:
        return None
    stale = index.filter(pl.col("feature_version") != FEATURE_VERSION)
    if stale.height:
        raise ValueError(
            f"{stale.height} index rows were built with feature version(s) "
            f"{stale['feature_version'].unique().to_list()}, this code has {FEATURE_VERSION}: rebuild or drop them"
        )
    return index


def _index_keys(index: pl.DataFrame, lsh: _Lsh) -> dict[str, _Keys]:
    """Stored band keys, or keys recomputed from the stored feature sets when the LSH setup changed."""
    current = (index["lsh_params"] == lsh.fingerprint).to_numpy()
    out = {}
    for tier in lsh.config.tiers:
        bands, _ = lsh.bands[tier]
        keys = np.zeros((bands, index.height), dtype=np.uint64)
        stored = index[f"{tier}_bands"]
        eligible = current & (stored.list.len() == bands).to_numpy()
        same = np.flatnonzero(eligible)
        keys[:, same] = stored.gather(same).explode().to_numpy().reshape(len(same), bands).T
        other = np.flatnonzero(~current)
        if len(other):
            feats = index[f"{tier}_features"].gather(other)
            lens = feats.list.len().to_numpy()
            keys[:, other] = lsh.band_keys(tier, lsh.signatures(tier, feats.explode().drop_nulls().to_numpy(), lens))
            eligible[other] = _eligible(tier, lens, lsh.config)
        out[tier] = _Keys(keys, eligible)
    return out


def _with_index_signatures(
    batch_sigs: np.ndarray, index: pl.DataFrame | None, pairs: pl.DataFrame, tier: str, lsh: _Lsh
) -> np.ndarray:
    """Signatures of all universe rows; index rows' (only those in ``pairs``) from their stored features."""
    if index is None:
        return batch_sigs
    n = len(batch_sigs)
    rows = _sorted_unique(pairs["b"].to_numpy())
    rows = rows[rows >= n]
    out = np.zeros((n + index.height, batch_sigs.shape[1]), dtype=np.uint32)  # calloc: untouched rows cost nothing
    out[:n] = batch_sigs
    feats = index[f"{tier}_features"].gather(rows - n)
    out[rows] = lsh.signatures(tier, feats.explode().drop_nulls().to_numpy(), feats.list.len().to_numpy()).T
    return out


def _index_sets(index: pl.DataFrame, n_batch: int, rows: np.ndarray, tiers: tuple[str, ...]) -> dict[str, _Sets]:
    """Feature sets of the given universe rows that are index rows (offset by the batch size)."""
    out = {}
    for tier in tiers:
        feats = index[f"{tier}_features"].gather(rows - n_batch)
        out[tier] = _Sets.of(np.repeat(rows, feats.list.len().to_numpy()), feats.explode().drop_nulls().to_numpy())
    return out


def index_rows(kept: pl.DataFrame, config: DedupConfig = DedupConfig()) -> pl.DataFrame:
    """What a later run needs to match against published articles, without their bodies.

    Columns: ``article_id``, ``published_date``, ``word_count``, ``site`` (see ``verify.sites``), per feature kind ``{kind}_features``
    (distinct feature hashes, List(UInt32), for exact verification: ``near_copy``, ``rewrite``,
    ``names``), per tier ``{tier}_bands`` (band keys,
    List(UInt64); empty when the article is not eligible for the tier), ``lsh_params`` (the setup the
    band keys belong to; rows of another setup are re-banded from their features) and
    ``feature_version``.
    """
    config = config.model_copy(update={"tiers": TIERS})  # a later run may match on either tier
    return _index_rows(kept, np.ones(kept.height, dtype=np.bool_), _Tokeniser(config), _Lsh(config))


def _index_rows(
    batch: pl.DataFrame,
    keep: np.ndarray,
    tokeniser: _Tokeniser,
    lsh: _Lsh,
    cache: _FeatureCache | None = None,
    keys: dict[str, _Keys] | None = None,
) -> pl.DataFrame:
    """``index_rows`` of the ``keep`` rows of ``batch``, chunk by chunk on worker threads.

    ``cache`` and ``keys`` (every tier's band keys of the whole batch) are what a signature pass
    over ``batch`` already computed; without them, features and keys are computed here.
    """
    config = lsh.config

    def one_chunk(start: int) -> dict[str, pl.Series]:
        rows = slice(start, start + config.chunk_docs)
        feats = cache.chunks.get(start) if cache is not None else None
        if feats is None:  # no signature pass, or beyond the cache's budget
            feats = _features(batch["body"][rows], tokeniser, config, TIERS)
        if keys is None:
            chunk_keys = {tier: _chunk_keys(tier, feats, lsh) for tier in TIERS}
        else:
            chunk_keys = {tier: _Keys(k.keys[:, rows], k.eligible[rows]) for tier, k in keys.items()}
        return _index_chunk(feats, chunk_keys, keep[rows])

    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        parts = list(pool.map(one_chunk, range(0, batch.height, config.chunk_docs)))
    dtypes = {f"{kind}_features": pl.List(pl.UInt32) for kind in _INDEXED_KINDS} | {f"{t}_bands": pl.List(pl.UInt64) for t in TIERS}
    columns = {
        name: pl.concat([p[name] for p in parts], rechunk=False) if parts else pl.Series([], dtype=dtype)
        for name, dtype in dtypes.items()
    }
    return (
        batch.select("article_id", "published_date", pl.col("word_count").cast(pl.Int32))
        .with_columns(site=sites(batch))
        .filter(pl.Series(keep))
        .with_columns(**columns, lsh_params=pl.lit(lsh.fingerprint), feature_version=pl.lit(FEATURE_VERSION))
    )


def _index_chunk(feats: _Features, keys: dict[str, _Keys], keep: np.ndarray) -> dict[str, pl.Series]:
    """Index-row columns of one chunk's ``keep`` rows: distinct sorted features and band keys (none
    for a row not eligible for the tier) per tier.  Built per chunk, so the flat arrays of a
    million rows never exist next to their list columns."""
    out = {}
    for kind in _INDEXED_KINDS:
        lens = feats.lens[kind]
        distinct = _Sets.of(np.repeat(np.arange(len(lens)), lens), feats.flat[kind]).keys
        row = (distinct >> np.uint64(32)).astype(np.int64)
        out[f"{kind}_features"] = _list_series(
            (distinct[keep[row]] & np.uint64(0xFFFFFFFF)).astype(np.uint32), np.bincount(row, minlength=len(lens))[keep]
        )
    for tier in TIERS:
        bands, eligible = keys[tier].keys, keys[tier].eligible
        out[f"{tier}_bands"] = _list_series(
            np.ascontiguousarray(bands.T[keep & eligible]).ravel(), np.where(eligible, bands.shape[0], 0)[keep]
        )
    return out


def _list_series(values: np.ndarray, counts: np.ndarray) -> pl.Series:
    """A List column from flat values and the number of values per row (no per-row Python work)."""
    offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    return pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)))


def load_index(storage: Storage, ingest_date: date, days: int, config: DedupConfig) -> tuple[pl.DataFrame | None, list[date]]:
    """Dedup index rows of the partitions committed for the ``days`` ingest dates before ``ingest_date``,
    and the dates whose rows had to be rebuilt.

    Only earlier dates count, so a date's output depends on its own inputs and the days before it:
    a backfill in date order gives the same result as the daily runs did.  Rows built by another
    feature version (an upgrade changed how features are hashed) cannot match this code's; they are
    rebuilt in memory from that date's published articles, so an upgrade never loses cross-run
    matches, at the cost of tokenising those articles again until the date leaves the window.
    """
    frames, rebuilt = [], []
    for offset in range(days, 0, -1):
        day = ingest_date - timedelta(days=offset)
        manifest = read_manifest(storage, day)
        keys = (manifest or {}).get("keys", {})
        if INDEX_DATASET not in keys:
            continue
        rows = pl.read_parquet(io.BytesIO(storage.read(keys[INDEX_DATASET])))
        if (rows["feature_version"] != FEATURE_VERSION).any():
            articles = pl.read_parquet(
                io.BytesIO(storage.read(keys["articles"])), columns=["article_id", "body", "published_date", "word_count"]
            )
            rows = index_rows(articles, config)
            rebuilt.append(day)
        frames.append(rows)
    return (pl.concat(frames, how="diagonal_relaxed") if frames else None), rebuilt


@task(name="load-dedup-index", **STORAGE_TASK_OPTIONS)
def load_index_task(dest: str, ingest_date: date, config: DedupConfig, s3: S3Config) -> pl.DataFrame | None:
    index, rebuilt = load_index(open_storage(dest, s3), ingest_date, config.index_days, config)
    if rebuilt:
        get_run_logger().warning(
            "dedup index of %s was built by an older feature version (this code: %s); rebuilt from those "
            "dates' published articles for this run (republish them with `cleanwire backfill --force` to store it)",
            ", ".join(d.isoformat() for d in rebuilt), FEATURE_VERSION,
        )
    return index
