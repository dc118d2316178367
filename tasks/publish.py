"""Publish step: write one ingest-date partition of every dataset, then commit it with a manifest.

Order of operations, and why:
1. each dataset's rows go to ``<dataset>/ingest_date=D/part-<run_id>.parquet`` (new, run-unique names,
   so nothing a reader may be reading is overwritten);
2. the partition manifest ``_manifests/ingest_date=D.json`` is written last: it is the commit point and
   lists exactly the files of the partition;
3. files of the partition that the new manifest does not list (the previous run's, or debris of a
   crashed run) are deleted.
A reader that follows the manifest never sees a half-written partition. A reader that globs
``**/*.parquet`` may, between steps 1 and 3, see the previous run's files next to the new ones.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import polars as pl
from prefect import task

from tasks.config import S3Config
from tasks.schema import DATASETS, PARTITION_COLUMN
from tasks.storage import STORAGE_RETRY, Storage, open_storage

MANIFEST_PREFIX = "_manifests"
INDEX_DATASET = "_index"


def partition_prefix(dataset: str, ingest_date: date) -> str:
    return f"{dataset}/{PARTITION_COLUMN}={ingest_date.isoformat()}"


def manifest_key(ingest_date: date) -> str:
    return f"{MANIFEST_PREFIX}/{PARTITION_COLUMN}={ingest_date.isoformat()}.json"


def articles_and_duplicates(
    records: pl.DataFrame, verdicts: pl.DataFrame, run_id: str, ingested_at: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split validated records by the dedup verdicts (article_id, cluster_id, duplicate_of, similarity)."""
    joined = records.join(verdicts, on="article_id", how="left").with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(ingested_at).cast(DATASETS["articles"]["ingested_at"]).alias("ingested_at")
    )
    is_duplicate = pl.col("duplicate_of").is_not_null()
    return (
        conform(joined.filter(~is_duplicate), "articles"),
        conform(joined.filter(is_duplicate), "duplicates"),
    )


def conform(frame: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """Exactly the contract's columns, in order, with the contract's types."""
    schema = DATASETS[dataset]
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=True)
    return buf.getvalue()


def read_manifest(storage: Storage, ingest_date: date) -> dict | None:
    key = manifest_key(ingest_date)
    if not storage.exists(key):
        return None
    return json.loads(storage.read(key))


def publish_partition(
    storage: Storage,
    ingest_date: date,
    run_id: str,
    frames: dict[str, pl.DataFrame],
    manifest: dict,
) -> dict:
    """Write ``frames`` (dataset name -> rows) as the partition for ``ingest_date`` and commit it.

    Returns the committed manifest (``manifest`` plus the list of files written).
    """
    written: dict[str, str] = {}
    for dataset, frame in frames.items():
        key = f"{partition_prefix(dataset, ingest_date)}/part-{run_id}.parquet"
        storage.write(key, parquet_bytes(frame))
        written[dataset] = key

    committed = {
        **manifest,
        "files": {name: storage.uri(key) for name, key in written.items()},
        "keys": written,
        "manifest_uri": storage.uri(manifest_key(ingest_date)),
    }
    storage.write(manifest_key(ingest_date), json.dumps(committed, indent=2, sort_keys=True, default=str).encode())

    keep = set(written.values())
    stale = [
        obj.key
        for dataset in frames
        for obj in storage.list(partition_prefix(dataset, ingest_date))
        if obj.key not in keep
    ]
    storage.delete(stale)
    return committed


@task(name="publish", **STORAGE_RETRY)
def publish_task(dest: str, ingest_date: date, run_id: str, frames: dict[str, pl.DataFrame], manifest: dict, s3: S3Config) -> dict:
    return publish_partition(open_storage(dest, s3), ingest_date, run_id, frames, manifest)


def load_index(storage: Storage, ingest_date: date, days: int) -> pl.DataFrame | None:
    """Dedup index rows of the partitions committed for the ``days`` ingest dates before ``ingest_date``.

    Only earlier dates count, so a date's output depends on its own inputs and the days before it:
    a backfill in date order gives the same result as the daily runs did.
    """
    frames = []
    for offset in range(days, 0, -1):
        manifest = read_manifest(storage, ingest_date - timedelta(days=offset))
        key = manifest and manifest.get("keys", {}).get(INDEX_DATASET)
        if key:
            frames.append(pl.read_parquet(io.BytesIO(storage.read(key))))
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


@task(name="load-dedup-index", **STORAGE_RETRY)
def load_index_task(dest: str, ingest_date: date, days: int, s3: S3Config) -> pl.DataFrame | None:
    return load_index(open_storage(dest, s3), ingest_date, days)
