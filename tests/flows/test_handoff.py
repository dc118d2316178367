"""How the steps hand the day over (chunk sizes of read, clean and record validation, worker processes
or the flow's own threads, documents spilled to a work folder or held in memory) changes no output."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flows.daily import daily_flow
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2026-01-15"
BENCH_DIRS = [REPO_ROOT.parent / "shared" / "benchmarks" / name for name in ("aeb-dev", "wcxb-dev")]
# Many chunks on worker processes, the read step's documents spilled to Arrow files, against one chunk
# of each step in the flow's own process, held in memory.
SMALL_CHUNKS = {
    "ops": {"read_chunk_files": 2, "clean_chunk_docs": 3, "validate_chunk_rows": 4, "fan_out": "processes", "spill_reads": True}
}
ONE_CHUNK = {
    "ops": {
        "read_chunk_files": 100_000, "clean_chunk_docs": 100_000, "validate_chunk_rows": 100_000,
        "fan_out": "threads", "spill_reads": False,
    }
}  # fmt: skip
RUN_COLUMNS = ("run_id", "ingested_at")


def published(dest: Path) -> dict[str, pl.DataFrame]:
    return {
        dataset: pl.read_parquet(next((dest / dataset).glob("**/*.parquet"))).drop(RUN_COLUMNS)
        for dataset in ("articles", "duplicates", "quarantine")
    }


def assert_same_output(source: Path, tmp_path: Path) -> dict:
    runs = {}
    for name, overrides in (("chunked", SMALL_CHUNKS), ("whole", ONE_CHUNK)):
        manifest = daily_flow(source=str(source), dest=str(tmp_path / name), date=DAY, run_id=name, overrides=overrides)
        runs[name] = (manifest, published(tmp_path / name))
    (chunked, chunked_rows), (whole, whole_rows) = runs["chunked"], runs["whole"]
    assert chunked["counts"] == whole["counts"]
    for key in ("quarantine_reasons", "removed_by_rule", "read_warnings"):
        assert chunked[key] == whole[key], key
    assert chunked["validation"]["records"] == whole["validation"]["records"]
    for dataset, rows in whole_rows.items():
        assert chunked_rows[dataset].equals(rows), dataset
    return whole


def test_chunked_run_equals_one_chunk_run_on_the_seeds(seeds_dir, tmp_path):
    manifest = assert_same_output(seeds_dir, tmp_path)
    assert manifest["counts"]["articles"] == 4


@pytest.mark.skipif(not all((d / "gold.jsonl").is_file() for d in BENCH_DIRS), reason="needs ../shared/benchmarks/{aeb-dev,wcxb-dev}")
def test_chunked_run_equals_one_chunk_run_on_a_bench_day(tmp_path):
    from bench.pipeline import build_day, load_material

    stats = build_day(tmp_path / "day", 60, load_material(BENCH_DIRS), seed=7)
    assert stats.near_duplicates and stats.bad and stats.files["html"] and stats.files["jsonl"]

    manifest = assert_same_output(tmp_path / "day", tmp_path)
    counts = manifest["counts"]
    assert counts["inputs"] == stats.documents
    assert counts["duplicates"] and counts["quarantine"] >= stats.bad


def test_cached_read_results_are_not_also_kept_in_memory(seeds_dir, tmp_path):
    """The read cache persists each chunk's documents to disk; Prefect would also keep every persisted
    result in its in-memory LRU for the life of the process: the whole day, after the flow dropped it."""
    from prefect import flow
    from prefect.context import FlowRunContext

    from flows.runners import read_in_chunks
    from tasks.config import Settings
    from tasks.storage import LocalStorage

    settings = Settings(ops={"cache_reads": True, "cache_dir": tmp_path / "cache", "read_chunk_files": 2})

    @flow
    def read_only() -> tuple[int, list[str]]:
        batch = read_in_chunks(str(seeds_dir), LocalStorage(seeds_dir).list(), settings)
        kept = FlowRunContext.get().result_store.cache.values()
        return batch.documents.height, [type(record.result).__name__ for record in kept]

    documents, kept_in_memory = read_only()
    assert documents == 5 and any((tmp_path / "cache").iterdir())
    assert "ReadBatch" not in kept_in_memory


def test_a_rerun_in_worker_processes_reads_from_the_cache(seeds_dir, tmp_path):
    """Worker processes look the read cache up and fill it as the flow's own threads do."""
    from prefect import flow

    from flows.runners import chunks, completed_chunks, fan_out_pool, read_task
    from prefect.utilities.annotations import unmapped
    from tasks.config import Settings
    from tasks.read import merge_read_batches
    from tasks.storage import LocalStorage

    settings = Settings(ops={"cache_reads": True, "cache_dir": tmp_path / "cache", "fan_out": "processes"})
    parts = chunks(LocalStorage(seeds_dir).list(), 2)

    @flow
    def read_twice() -> list[tuple[list[str], pl.DataFrame]]:
        rounds = []
        with fan_out_pool(settings.ops) as pool:
            for _ in range(2):
                finished = sorted(
                    completed_chunks(
                        pool, read_task(settings.ops),
                        unmapped(str(seeds_dir)), parts, unmapped(settings.read), unmapped(settings.s3), unmapped(settings.parse),
                    ),  # fmt: skip
                    key=lambda pair: pair[0],
                )
                batch = merge_read_batches([future.result() for _, future in finished])
                rounds.append(([future.state.name for _, future in finished], batch.documents))
        return rounds

    (first_states, first), (second_states, second) = read_twice()
    assert len(parts) == 3 and first_states == ["Completed"] * 3 and second_states == ["Cached"] * 3
    assert second.equals(first) and first.height == 5


def test_spilled_read_results_are_arrow_files_in_the_work_folder_until_the_run_ends(seeds_dir, tmp_path):
    from prefect import flow

    from flows.runners import read_in_chunks, work_folder
    from tasks.config import Settings
    from tasks.storage import LocalStorage

    settings = Settings(ops={"read_chunk_files": 2, "cache_reads": False, "work_dir": tmp_path / "work"})
    (tmp_path / "work").mkdir()
    objects = LocalStorage(seeds_dir).list()

    @flow
    def read_both_ways() -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
        in_memory = read_in_chunks(str(seeds_dir), objects, settings)
        with work_folder(settings.ops) as folder:
            spilled = read_in_chunks(str(seeds_dir), objects, settings, spill_dir=folder)
            files = sorted(path.name for path in folder.iterdir())
        return in_memory.documents, spilled.documents, files

    in_memory, spilled, files = read_both_ways()
    assert files == ["documents-000000.arrow", "documents-000001.arrow", "documents-000002.arrow"]
    assert spilled.equals(in_memory) and in_memory.height == 5
    assert not any((tmp_path / "work").iterdir())  # the work folder is gone with the block


def test_site_chrome_found_while_reading_equals_chrome_over_the_read_documents(seeds_dir):
    """The flow feeds each read chunk to the site-chrome pass as it arrives, in whatever order the
    chunks finish: the sites' recurring lines are those of the whole read, in any order."""
    from prefect import flow

    from flows.runners import read_in_chunks
    from tasks.clean import SiteChrome, find_site_boilerplate
    from tasks.config import Settings
    from tasks.parse import raw_documents
    from tasks.storage import LocalStorage

    settings = Settings(ops={"read_chunk_files": 2, "cache_reads": False})

    @flow
    def read_with_chrome() -> tuple[pl.DataFrame, dict[str, frozenset[str]]]:
        chrome = SiteChrome(settings.clean)
        batch = read_in_chunks(str(seeds_dir), LocalStorage(seeds_dir).list(), settings, chrome=chrome)
        return batch.documents, chrome.lines()

    documents, while_reading = read_with_chrome()
    pages = raw_documents(documents)
    assert while_reading and while_reading == find_site_boilerplate(pages, settings.clean)
    assert SiteChrome(settings.clean).add(reversed(pages)).lines() == while_reading


@pytest.mark.parametrize(
    ("total", "workers", "chunks"),
    [(5, 2, [5]), (2_000, 2, [2_000]), (3_000, 2, [1_500, 1_500]), (10_000, 2, [1_667] * 5 + [1_665]), (100_000, 2, [2_000] * 50), (10_000, 3, [1_667] * 5 + [1_665])],
)
def test_clean_chunks_split_the_documents_evenly_over_the_workers(total, workers, chunks):
    from flows.runners import WorkerPool, balanced_chunk_size, frame_chunks

    frame = pl.DataFrame({"n": range(total)})
    parts = frame_chunks(frame, balanced_chunk_size(total, 2_000, WorkerPool(None, workers)))
    assert [part.height for part in parts] == chunks
    assert balanced_chunk_size(total, 2_000, None) == 2_000  # no pool: the flow's runner takes the chunks as they come
