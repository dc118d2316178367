"""The cross-run index: rows that let a later run match against published articles without their
bodies, and their use in matching (``tasks.dedup.steps`` loads, or rebuilds, the index of earlier dates)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pyarrow as pa

from tasks.config import DedupConfig
from tasks.dedup.candidates import _chunk_keys, _Keys, _Lsh
from tasks.dedup.features import (
    _INDEXED_KINDS,
    FEATURE_VERSION,
    TIERS,
    _FeatureCache,
    _Features,
    _features,
    _Sets,
    _Tokeniser,
    sketch_sizes,
)
from tasks.dedup.memory import release_freed_memory
from tasks.dedup.verify import sites
from tasks.errors import PipelineError

# The dataset, published with each partition, that holds the index rows of the articles it kept.
INDEX_DATASET = "_index"


def _index_for(batch: pl.DataFrame, index: pl.DataFrame | None, lsh: _Lsh) -> pl.DataFrame | None:
    """Index rows to match against: never the batch's own articles (a rerun of the same day)."""
    if index is None or index.height == 0:
        return None
    index = index.filter(~pl.col("article_id").is_in(batch["article_id"].implode()))
    if index.height == 0:
        return None
    stale = _stale(index, lsh)
    if stale.any():
        raise PipelineError(
            f"{int(stale.sum())} index rows were built by another feature version or LSH setup (this code: "
            f"{FEATURE_VERSION}, {lsh.fingerprint}): rebuild them with index_rows from their articles, or drop them"
        )
    return index


def _stale(rows: pl.DataFrame, lsh: _Lsh) -> np.ndarray:
    """Which index rows this code cannot match against: another feature version (how features are
    hashed) or LSH setup (band keys, sketch sizes), or the columns of an older layout."""
    if not {"feature_version", "lsh_params", *_index_columns()}.issubset(rows.columns):
        return np.ones(rows.height, dtype=np.bool_)
    return ((rows["feature_version"] != FEATURE_VERSION) | (rows["lsh_params"] != lsh.fingerprint)).fill_null(True).to_numpy()


def _index_keys(index: pl.DataFrame, lsh: _Lsh) -> dict[str, _Keys]:
    """Stored band keys (an empty list: not eligible for the tier)."""
    out = {}
    for tier in lsh.config.tiers:
        bands, _ = lsh.bands[tier]
        keys = np.zeros((bands, index.height), dtype=np.uint32)
        stored = index[f"{tier}_bands"]
        eligible = (stored.list.len() == bands).to_numpy()
        same = np.flatnonzero(eligible)
        keys[:, same] = stored.gather(same).explode().to_numpy().astype(np.uint32).reshape(len(same), bands).T
        out[tier] = _Keys(keys, eligible)
    return out


def _index_sketches(index: pl.DataFrame, n_batch: int, rows: np.ndarray, kind: str) -> tuple[_Sets, np.ndarray]:
    """Stored sketches and set sizes of the given universe rows that are index rows (offset by the batch size)."""
    sketch = index[f"{kind}_sketch"].gather(rows - n_batch)
    keys = _Sets.of(np.repeat(rows, sketch.list.len().to_numpy()), sketch.explode().drop_nulls().to_numpy())
    return keys, index[f"{kind}_size"].gather(rows - n_batch).to_numpy().astype(np.int64)


def _index_columns() -> dict[str, pl.DataType]:
    """The feature columns of index rows and their types."""
    return (
        {f"{kind}_sketch": pl.List(pl.UInt32) for kind in _INDEXED_KINDS}
        | {f"{kind}_size": pl.Int32 for kind in _INDEXED_KINDS}
        | {f"{t}_bands": pl.List(pl.UInt32) for t in TIERS}
    )


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
    bands: dict[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """``index_rows`` of the ``keep`` rows of ``batch``, chunk by chunk on worker threads.

    ``cache`` and ``bands`` (``_band_columns`` of the keep rows, from every tier's band keys of the
    whole batch, which the caller can then let go) are what a signature pass over ``batch`` already
    computed; without them, features and band keys are computed here.
    """
    config = lsh.config

    def one_chunk(start: int) -> dict[str, pl.Series]:
        rows = slice(start, start + config.chunk_docs)
        feats = cache.chunks.get(start) if cache is not None else None
        if feats is None:  # no signature pass, or beyond the cache's budget
            feats = _features(batch["body"][rows], tokeniser, config, TIERS)
        columns = _sketch_columns(feats, keep[rows], sketch_sizes(config))
        if bands is None:
            columns |= _band_columns({tier: _chunk_keys(tier, feats, lsh) for tier in TIERS}, keep[rows])
        # The chunk's tokens and features, freed between its columns and the next chunk's on this
        # thread's heap, go back to the system rather than stay resident as holes.
        del feats
        release_freed_memory()
        return columns

    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        parts = list(pool.map(one_chunk, range(0, batch.height, config.chunk_docs)))
    columns = {
        name: pl.concat([p[name] for p in parts], rechunk=False) if parts else pl.Series([], dtype=dtype)
        for name, dtype in _index_columns().items()
        if bands is None or name not in bands
    }
    return (
        batch.select("article_id", "published_date", pl.col("word_count").cast(pl.Int32))
        .with_columns(site=sites(batch))
        .filter(pl.Series(keep))
        .with_columns(**columns, **(bands or {}), lsh_params=pl.lit(lsh.fingerprint), feature_version=pl.lit(FEATURE_VERSION))
    )


def _sketch_columns(feats: _Features, keep: np.ndarray, sizes: dict[str, int]) -> dict[str, pl.Series]:
    """Index-row columns of one chunk's ``keep`` rows: per feature kind the bottom-k sketch and the
    number of distinct features.  Built per chunk, so the flat arrays of a million rows never exist
    next to their list columns."""
    out = {}
    for kind in _INDEXED_KINDS:
        lens = feats.lens[kind]
        distinct = _Sets.of(np.repeat(np.arange(len(lens)), lens), feats.flat[kind])
        sketch = distinct.bottom_k(sizes[kind]).keys
        row = (sketch >> np.uint64(32)).astype(np.int64)
        out[f"{kind}_sketch"] = _list_series(
            (sketch[keep[row]] & np.uint64(0xFFFFFFFF)).astype(np.uint32), np.bincount(row, minlength=len(lens))[keep]
        )
        out[f"{kind}_size"] = pl.Series(distinct.sizes(np.arange(len(lens)))[keep], dtype=pl.Int32)
    return out


def _band_columns(keys: dict[str, _Keys], keep: np.ndarray) -> dict[str, pl.Series]:
    """Index-row columns of the ``keep`` rows of ``keys``: per tier the band keys (none for a row
    not eligible for the tier)."""
    out = {}
    for tier in TIERS:
        bands, eligible = keys[tier].keys, keys[tier].eligible
        out[f"{tier}_bands"] = _list_series(
            np.ascontiguousarray(bands.T[keep & eligible]).ravel().astype(np.uint32, copy=False),
            np.where(eligible, bands.shape[0], 0)[keep],
        )
    return out


def _list_series(values: np.ndarray, counts: np.ndarray) -> pl.Series:
    """A List column from flat values and the number of values per row (no per-row Python work)."""
    offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    return pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)))
