"""Publish step: write one ingest-date partition of every dataset, then commit it with a manifest.

Order of operations, and why:
1. every dataset's file is written under ``_staging/ingest_date=D/<run_id>/`` (invisible to readers of
   the datasets, so a crash while writing leaves nothing they can see);
2. the staged files are moved to ``<dataset>/ingest_date=D/part-<run_id>.parquet`` (run-unique names:
   nothing a reader may be reading is overwritten);
3. the partition manifest ``_manifests/ingest_date=D.json`` is written: it is the commit point and
   lists exactly the files of the partition;
4. files of the partition that the new manifest does not list (the previous run's, or debris of a
   run that crashed during step 2) are deleted, and so is the staging folder.
A reader that follows the manifest never sees a half-written partition. A reader that globs
``**/*.parquet`` may, between steps 2 and 4, see the previous run's files next to the new ones.

Runs of the same date exclude each other with a lock object created by a conditional write
(``O_EXCL`` locally, ``If-None-Match: *`` on S3): the second run fails at once, naming the first.
"""

from __future__ import annotations

import io
import json
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task

from tasks.config import PublishConfig, S3Config
from tasks.errors import PipelineError, StorageError
from tasks.schema import DATASETS, PARTITION_COLUMN
from tasks.storage import STORAGE_TASK_OPTIONS, Storage, open_storage
from tasks.validate import BatchValidation, RecordValidation, build_data_docs

MANIFEST_PREFIX = "_manifests"
STAGING_PREFIX = "_staging"
LOCK_PREFIX = "_locks"
DATA_DOCS_PREFIX = "_reports/data_docs"


def partition_prefix(dataset: str, ingest_date: date) -> str:
    return f"{dataset}/{PARTITION_COLUMN}={ingest_date.isoformat()}"


def manifest_key(ingest_date: date) -> str:
    return f"{MANIFEST_PREFIX}/{PARTITION_COLUMN}={ingest_date.isoformat()}.json"


def articles_and_duplicates(
    records: pl.DataFrame, verdicts: pl.DataFrame, run_id: str, ingested_at: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split validated records by the dedup verdicts (article_id, cluster_id, duplicate_of, similarity, tier)."""
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


@task(name="read-published-manifest", **STORAGE_TASK_OPTIONS)
def read_manifest_task(dest: str, ingest_date: date, s3: S3Config) -> dict | None:
    return read_manifest(open_storage(dest, s3), ingest_date)


def published_rows(storage: Storage, dataset: str, column: str, values: list[str]) -> pl.DataFrame:
    """Rows of ``dataset`` whose ``column`` is one of ``values``, in every committed partition (the
    files the manifests list, so a half-published partition is never read), with ``ingest_date``."""
    frames = []
    for obj in storage.list(f"{MANIFEST_PREFIX}/"):
        manifest = json.loads(storage.read(obj.key))
        key = manifest.get("keys", {}).get(dataset)
        if key:
            rows = pl.read_parquet(io.BytesIO(storage.read(key))).filter(pl.col(column).is_in(values))
            frames.append(rows.with_columns(pl.lit(manifest["ingest_date"]).alias(PARTITION_COLUMN)))
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def publish_partition(
    storage: Storage,
    ingest_date: date,
    run_id: str,
    frames: dict[str, pl.DataFrame],
    manifest: dict,
) -> dict:
    """Write ``frames`` (dataset name -> rows) as the partition for ``ingest_date`` and commit it.

    Returns the committed manifest (``manifest`` plus the files written).
    """
    staging = f"{STAGING_PREFIX}/{PARTITION_COLUMN}={ingest_date.isoformat()}"
    staged: dict[str, str] = {}
    for dataset, frame in frames.items():
        staged[dataset] = f"{staging}/{run_id}/{dataset}.parquet"
        storage.write(staged[dataset], parquet_bytes(frame))

    written: dict[str, str] = {}
    for dataset, key in staged.items():
        written[dataset] = f"{partition_prefix(dataset, ingest_date)}/part-{run_id}.parquet"
        storage.move(key, written[dataset])

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
        for prefix in [*(partition_prefix(dataset, ingest_date) for dataset in frames), staging]
        for obj in storage.list(prefix)
        if obj.key not in keep
    ]
    storage.delete(stale)
    return committed


def check_rerun(published: dict | None, inputs: int, ingest_date: date, config: PublishConfig, allow_shrink: bool) -> None:
    """Refuse a rerun that would shrink a published partition sharply (a wrong, truncated or expired
    source): fewer than ``config.min_rerun_ratio`` of the published inputs, unless ``allow_shrink``."""
    published_inputs = (published or {}).get("counts", {}).get("inputs", 0)
    if allow_shrink or not published_inputs or inputs >= config.min_rerun_ratio * published_inputs:
        return
    raise PipelineError(
        f"refusing to replace ingest_date={ingest_date}: this run has {inputs} inputs, the published partition "
        f"(run {published.get('run_id', '?')}) has {published_inputs}, and publish.min_rerun_ratio="
        f"{config.min_rerun_ratio} requires at least {config.min_rerun_ratio * published_inputs:g}. Nothing was "
        "written. Check the source; to publish the smaller partition anyway, rerun with --force "
        "(backfill: --allow-shrink; deployment parameter allow_shrink)."
    )


def expire_reports(storage: Storage, keep_days: int, now: datetime) -> list[str]:
    """Delete the Data Docs sites whose newest file is older than ``keep_days``; returns their run ids."""
    newest: dict[str, datetime] = {}
    keys: dict[str, list[str]] = {}
    for obj in storage.list(DATA_DOCS_PREFIX):
        run = obj.key[len(DATA_DOCS_PREFIX) + 1 :].split("/", 1)[0]
        newest[run] = max(newest.get(run, obj.modified), obj.modified)
        keys.setdefault(run, []).append(obj.key)
    expired = sorted(run for run, modified in newest.items() if now - modified > timedelta(days=keep_days))
    storage.delete([key for run in expired for key in keys[run]])
    return expired


@task(name="publish", **STORAGE_TASK_OPTIONS)
def publish_task(
    dest: str, ingest_date: date, run_id: str, frames: dict[str, pl.DataFrame], manifest: dict, config: PublishConfig, s3: S3Config
) -> dict:
    storage = open_storage(dest, s3)
    committed = publish_partition(storage, ingest_date, run_id, frames, manifest)
    expired = expire_reports(storage, config.reports_keep_days, datetime.now(UTC))
    if expired:
        get_run_logger().info(
            "publish: deleted the Data Docs of %d runs older than publish.reports_keep_days=%d",
            len(expired), config.reports_keep_days,
        )
    return committed


def lock_key(ingest_date: date) -> str:
    return f"{LOCK_PREFIX}/{PARTITION_COLUMN}={ingest_date.isoformat()}.lock"


@contextmanager
def partition_lock(storage: Storage, ingest_date: date, run_id: str, stale_after: timedelta) -> Iterator[None]:
    """Hold the ingest date's lock for the block; refuse if another run holds it.

    A lock older than ``stale_after`` is taken to belong to a run that died, and is broken.
    """
    key = lock_key(ingest_date)
    now = datetime.now(UTC)
    body = json.dumps({"run_id": run_id, "acquired_at": now.isoformat(), "host": socket.gethostname()}).encode()
    if not storage.write_if_absent(key, body):
        holder = _lock_holder(storage, key)
        acquired = datetime.fromisoformat(holder.get("acquired_at", now.isoformat()))
        if now - acquired < stale_after:
            raise PipelineError(
                f"ingest_date={ingest_date} is being published by run {holder.get('run_id', '?')} "
                f"(started {acquired:%Y-%m-%d %H:%M:%S} UTC on {holder.get('host', '?')}); refusing to run it twice at once. "
                f"If no such run is alive, delete {storage.uri(key)} or wait until the lock is stale."
            )
        storage.delete([key])
        if not storage.write_if_absent(key, body):
            raise PipelineError(f"ingest_date={ingest_date}: another run took the stale lock {storage.uri(key)} first")
    try:
        yield
    finally:
        if _lock_holder(storage, key).get("run_id") == run_id:
            storage.delete([key])


def _lock_holder(storage: Storage, key: str) -> dict:
    try:
        return json.loads(storage.read(key))
    except (StorageError, OSError, ValueError):
        return {}


def publish_data_docs(storage: Storage, run_id: str, record: RecordValidation, batch: BatchValidation) -> str:
    """Build the run's GX Data Docs site locally and copy it to ``_reports/data_docs/<run_id>/``.

    GX 1.x has no S3 site backend any more, so the site is rendered to a temporary folder and
    uploaded like any other file. Returns the URI of the site's index.html.
    """
    prefix = f"{DATA_DOCS_PREFIX}/{run_id}"
    with tempfile.TemporaryDirectory(prefix="cleanwire-docs-") as tmp:
        build_data_docs(record, batch, Path(tmp))
        storage.upload_dir(Path(tmp), prefix)
    return storage.uri(f"{prefix}/index.html")


@task(name="publish-data-docs", **STORAGE_TASK_OPTIONS)
def publish_data_docs_task(dest: str, run_id: str, record: RecordValidation, batch: BatchValidation, s3: S3Config) -> str:
    return publish_data_docs(open_storage(dest, s3), run_id, record, batch)
