"""The engine as the pipeline's steps (Prefect tasks), with the storage they read: the index of
earlier dates loaded (or rebuilt) for a run, and a batch deduplicated.  Kept apart from the engine so
that using it (``cleanwire dedup``, the benchmarks) does not import Prefect."""

from __future__ import annotations

import io
from datetime import date, timedelta

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.config import DedupConfig, S3Config
from tasks.dedup.candidates import _Lsh
from tasks.dedup.clusters import deduplicate_with_index_rows
from tasks.dedup.features import FEATURE_VERSION, TIERS
from tasks.dedup.index import INDEX_DATASET, _stale, index_rows
from tasks.publish import read_manifest
from tasks.storage import STORAGE_TASK_OPTIONS, Storage, open_storage


def load_index(storage: Storage, ingest_date: date, days: int, config: DedupConfig) -> tuple[pl.DataFrame | None, list[date]]:
    """Dedup index rows of the partitions committed for the ``days`` ingest dates before ``ingest_date``,
    and the dates whose rows had to be rebuilt.

    Only earlier dates count, so a date's output depends on its own inputs and the days before it:
    a backfill in date order gives the same result as the daily runs did.  Rows built by another
    feature version or LSH setup (an upgrade changed how features are hashed or sketched, or the
    settings changed) cannot match this code's; they are rebuilt in memory from that date's published articles, so an upgrade never loses cross-run
    matches, at the cost of tokenising those articles again until the date leaves the window.
    """
    frames, rebuilt = [], []
    lsh = _Lsh(config.model_copy(update={"tiers": TIERS}))
    for offset in range(days, 0, -1):
        day = ingest_date - timedelta(days=offset)
        manifest = read_manifest(storage, day)
        keys = (manifest or {}).get("keys", {})
        if INDEX_DATASET not in keys:
            continue
        rows = pl.read_parquet(io.BytesIO(storage.read(keys[INDEX_DATASET])))
        if _stale(rows, lsh).any():
            # What index rows are built from; `url` (the site test) only where the partition's layout has it.
            articles = pl.scan_parquet(io.BytesIO(storage.read(keys["articles"])))
            wanted = ["article_id", "body", "published_date", "word_count", "url"]
            articles = articles.select(c for c in wanted if c in articles.collect_schema().names()).collect()
            rows = index_rows(articles, config)
            rebuilt.append(day)
        frames.append(rows)
    return (pl.concat(frames, how="diagonal_relaxed") if frames else None), rebuilt


@task(name="load-dedup-index", **STORAGE_TASK_OPTIONS)
def load_index_task(dest: str, ingest_date: date, config: DedupConfig, s3: S3Config) -> pl.DataFrame | None:
    index, rebuilt = load_index(open_storage(dest, s3), ingest_date, config.index_days, config)
    if rebuilt:
        get_run_logger().warning(
            "dedup index of %s was built by another feature version or LSH setup (this code: %s); rebuilt from those "
            "dates' published articles for this run (republish them with `cleanwire backfill --force` to store it)",
            ", ".join(d.isoformat() for d in rebuilt), FEATURE_VERSION,
        )
    return index


@task(name="dedup", cache_policy=NO_CACHE)
def dedup_task(
    batch: pl.DataFrame, config: DedupConfig, index: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Verdicts for the batch (``matched_tier`` named ``tier``, as the duplicates dataset calls it), and
    the index rows of the articles it keeps (for later runs); logs the candidate counts."""
    verdicts, rows, stats = deduplicate_with_index_rows(batch, config, index)
    get_run_logger().info("dedup candidates: %s", stats.summary())
    return verdicts.rename({"matched_tier": "tier"}), rows
