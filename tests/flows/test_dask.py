"""The Dask task runner (a LocalCluster of 2 worker processes, 1 thread each) publishes what the default runner does."""

from __future__ import annotations

import time

import polars as pl
import pytest

from flows.daily import daily_flow
from flows.runners import dask_scheduler, with_runner
from tasks.config import ParseConfig, Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-08-24"
# Three read chunks for two workers, and no cache: every chunk is really read on a worker.
OVERRIDES = {"ops": {"read_chunk_files": 2, "cache_reads": False}}


def published(dest, dataset: str) -> pl.DataFrame:
    frame = pl.read_parquet(f"{dest}/{dataset}/**/*.parquet", hive_partitioning=True)
    return frame.drop("ingested_at").sort(frame.columns[:2])


def test_dask_runner_output_equals_the_default_runner_output(seeds_dir, tmp_path):
    (seeds_dir / "empty.txt").write_bytes(b"")  # one rejection to carry back from a worker too
    local = daily_flow(source=str(seeds_dir), dest=str(tmp_path / "local"), date=DAY, run_id="same", overrides=OVERRIDES)

    started = time.perf_counter()
    with dask_scheduler("dask", None, workers=2) as address:
        on_dask = with_runner(daily_flow, "dask", address)
        dask = on_dask(source=str(seeds_dir), dest=str(tmp_path / "dask"), date=DAY, run_id="same", overrides=OVERRIDES)
    elapsed = time.perf_counter() - started

    assert dask["counts"] == local["counts"] == {"inputs": 6, "articles": 4, "duplicates": 1, "quarantine": 1}
    for dataset in ("articles", "duplicates", "quarantine"):
        assert published(tmp_path / "dask", dataset).equals(published(tmp_path / "local", dataset)), dataset
    assert elapsed < 60, f"the Dask run took {elapsed:.1f} s: are the workers starting ephemeral servers?"


def test_cleaning_in_chunks_equals_cleaning_the_whole_run(seeds_dir):
    from prefect import flow

    from flows.runners import clean_in_chunks
    from tasks.clean import clean_documents
    from tasks.parse import documents_frame, parse_text

    documents = [doc for path in sorted(seeds_dir.iterdir()) for doc in parse_text(str(path), path.read_text(), 0, ParseConfig())]
    settings = Settings(ops={"clean_chunk_docs": 2})

    @flow
    def chunked():
        return clean_in_chunks(documents_frame(documents), settings)

    whole, parts = clean_documents(documents, settings.clean), chunked()
    assert parts.records.equals(whole.records)
    assert parts.rule_counts == whole.rule_counts and parts.rejections == whole.rejections
