"""Where the daily flow's work runs: the read, clean and record-validation fan-out, the read cache, and Dask.

The read step (fetch, decode, parse), the clean step and record validation are per-document work:
each is split into chunks (``ops.read_chunk_files`` objects, ``ops.clean_chunk_docs`` documents,
``ops.validate_chunk_rows`` records), each one task. With the local runner the chunks go to a pool
of worker processes (``ops.fan_out``; parsing and cleaning are pure Python and hold the GIL, so
threads would use one core), started on the first step with more than one chunk and kept for the
run's fan-out steps; a step of one chunk runs in the flow's process. With ``--runner dask`` they go
to the Dask workers. The
clean step's one batch-wide signal, each site's recurring lines, is computed once in the flow's
process, from each read chunk as it arrives, and handed to every clean chunk. Everything after them (dedup against the whole batch and the
index, batch validation, publish) needs the whole batch and stays in the flow's process, so the dedup join
sees every article exactly as with the default runner.

A chunk's result is cached under a key made of the source objects' ETags, the read settings, the
package version and all of cleanwire's code (``tasks.versions.code_digest``), so a rerun over
unchanged inputs skips fetching and decoding them.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import polars as pl
from prefect import Flow, Task
from prefect.cache_policies import CachePolicy
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped
from prefect.utilities.callables import get_call_parameters
from pydantic import BaseModel

from tasks.clean import CleanOutcome, SiteChrome, clean_task, merge_outcomes
from tasks.config import CleanConfig, OpsConfig, S3Config, Settings
from tasks.errors import PipelineError
from tasks.parse import raw_documents
from tasks.read import ReadBatch, merge_read_batches, read_inputs_task
from tasks.storage import StoredObject
from tasks.validate import RecordValidation, merge_record_validations, validate_records_task
from tasks.versions import code_digest

T = TypeVar("T")

def read_cache_key(_context, parameters: dict) -> str:
    """Same objects (URI, ETag, size), settings, package version and code: same result."""
    objects: list[StoredObject] = parameters["objects"]
    identity = {
        "package_version": version("cleanwire"),
        "code": code_digest(),  # an edit to any of cleanwire's code or data must not be served stale results
        # Every settings section the task takes except S3 access, which does not change the bytes read.
        "settings": {
            name: value.model_dump(mode="json")
            for name, value in parameters.items()
            if isinstance(value, BaseModel) and not isinstance(value, S3Config)
        },
        "objects": [[obj.uri, obj.etag, obj.size] for obj in objects],
    }
    return "read-" + hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def read_task(ops: OpsConfig) -> Task:
    if not ops.cache_reads:
        return read_inputs_task
    return read_inputs_task.with_options(
        cache_policy=CachePolicy.from_cache_key_fn(read_cache_key),
        persist_result=True,
        result_storage=ops.cache_dir.expanduser(),
        # Prefect otherwise also keeps every persisted result in an in-memory LRU (1,000 entries) for
        # the life of the process: the whole day's documents, long after the flow has dropped them.
        cache_result_in_memory=False,
    )


def chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def read_in_chunks(
    source_uri: str,
    objects: list[StoredObject],
    settings: Settings,
    pool: WorkerPool | None = None,
    spill_dir: Path | None = None,
    chrome: SiteChrome | None = None,
) -> ReadBatch:
    """The read step, one task per chunk (see ``completed_chunks``); results in listing order.
    With ``spill_dir``, each chunk's documents are spilled there as they arrive (``spilled``); with
    ``chrome``, they are fed to it as they arrive, so the flow's process finds the sites' recurring
    lines while the workers are still reading (a site's chrome does not depend on its pages' order)."""
    parts = chunks(objects, settings.ops.read_chunk_files)
    finished = completed_chunks(
        pool, read_task(settings.ops),
        unmapped(source_uri), parts, unmapped(settings.read), unmapped(settings.s3), unmapped(settings.parse),
    )  # fmt: skip

    def keep(index: int, batch: ReadBatch) -> ReadBatch:
        if spill_dir is not None:
            batch = spilled(batch, spill_dir / f"documents-{index:06d}.arrow")
        if chrome is not None:
            chrome.add(raw_documents(batch.documents))
        return batch

    return merge_read_batches(results_with_progress(finished, [len(part) for part in parts], "files read", keep))


def spilled(batch: ReadBatch, path: Path) -> ReadBatch:
    """``batch`` with its documents written to ``path`` (Arrow IPC, uncompressed) and read back, which
    polars does by mapping the file: the flow process then holds the day's raw text as file pages the
    kernel can drop and read again, not as heap memory."""
    batch.documents.write_ipc(path, compression="uncompressed")
    return replace(batch, documents=pl.read_ipc(path))


@contextmanager
def work_folder(ops: OpsConfig) -> Iterator[Path | None]:
    """The run's work folder for spilled documents (``ops.spill_reads``), removed at the end of the block;
    None when spilling is off."""
    if not ops.spill_reads:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="cleanwire-run-", dir=ops.work_dir) as folder:
        yield Path(folder)


def clean_in_chunks(
    documents: pl.DataFrame,
    settings: Settings,
    pool: WorkerPool | None = None,
    boilerplate: dict[str, frozenset[str]] | None = None,
) -> CleanOutcome:
    """The clean step over tasks.parse.DOCUMENTS rows, one task per chunk (see ``completed_chunks``);
    results in order. ``boilerplate``: the sites' recurring lines over ``documents`` when already
    found (``SiteChrome``), else found here."""
    parts = frame_chunks(documents, balanced_chunk_size(documents.height, settings.ops.clean_chunk_docs, pool))
    if boilerplate is None:
        boilerplate = site_chrome(parts, settings.clean)
    finished = completed_chunks(pool, clean_task, parts, unmapped(settings.clean), unmapped(boilerplate))
    return merge_outcomes(results_with_progress(finished, [part.height for part in parts], "documents cleaned"))


def site_chrome(parts: list[pl.DataFrame], config: CleanConfig) -> dict[str, frozenset[str]]:
    """Each site's recurring lines over the whole run (``tasks.clean.find_site_boilerplate``), fed a
    chunk at a time: only one chunk's text is held as Python strings, the rest stays in the frame."""
    chrome = SiteChrome(config)
    for part in parts:
        chrome.add(raw_documents(part))
    return chrome.lines()


def balanced_chunk_size(total: int, size: int, pool: WorkerPool | None) -> int:
    """A chunk size of at most ``size`` that splits ``total`` items into a multiple of the pool's
    workers (equal chunks), so that the workers finish the step together: 10,000 documents in
    chunks of 2,000 on two workers would leave one worker idle for the fifth chunk, six of 1,667 do
    not. What fits in one chunk stays one chunk (it runs in the flow's process)."""
    if pool is None or total <= size:
        return size
    rounds = -(-total // (size * pool.workers))
    return -(-total // (rounds * pool.workers))


def frame_chunks(frame: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    """Consecutive slices of ``frame`` (zero-copy); an empty frame is one empty chunk."""
    return [frame.slice(start, size) for start in range(0, max(frame.height, 1), size)]


def validate_records_in_chunks(
    records: pl.DataFrame, settings: Settings, today: date, pool: WorkerPool | None = None
) -> RecordValidation:
    """Record validation, one task per chunk of records (see ``completed_chunks``); merged in order."""
    parts = frame_chunks(records, settings.ops.validate_chunk_rows)
    finished = completed_chunks(pool, validate_records_task, parts, unmapped(settings.validation), unmapped(today))
    return merge_record_validations(results_with_progress(finished, [part.height for part in parts], "records validated"))


@dataclass(frozen=True)
class WorkerPool:
    """A started pool of worker processes, and how many chunks it is handed at a time."""

    runner: ProcessPoolTaskRunner
    workers: int

    @property
    def in_flight(self) -> int:
        """Chunks submitted and not yet collected: each worker has its next chunk waiting."""
        return 2 * self.workers


def completed_chunks(pool: WorkerPool | None, task: Task, *args) -> Iterator[tuple[int, PrefectFuture]]:
    """Each chunk's index and finished future, in the order they finish, of ``task`` mapped over ``args``.

    Without ``pool``, or for a single chunk (a worker process would cost more than it saves), the
    chunks are mapped on the flow's own task runner. On a pool they are submitted at most
    ``pool.in_flight`` at a time: a submitted chunk is pickled at once, and a finished one holds its
    pickled result until collected, so the flow process holds a few chunks in transit, not the day.
    """
    parameters = get_call_parameters(task.fn, args, {}, apply_defaults=False)
    count = len(next(value for value in parameters.values() if not isinstance(value, unmapped)))
    if pool is None or count < 2:
        futures = task.map(*args)
        position = {future.task_run_id: index for index, future in enumerate(futures)}
        for future in as_completed(futures):
            yield position[future.task_run_id], future
        return
    finished: queue.SimpleQueue[tuple[int, PrefectFuture]] = queue.SimpleQueue()

    def submit(index: int) -> None:
        chunk = {name: value.value if isinstance(value, unmapped) else value[index] for name, value in parameters.items()}
        pool.runner.submit(task, chunk).add_done_callback(lambda future: finished.put((index, future)))

    submitted = min(count, pool.in_flight)
    for index in range(submitted):
        submit(index)
    for _ in range(count):
        yield finished.get()
        if submitted < count:
            submit(submitted)
            submitted += 1


@contextmanager
def fan_out_pool(ops: OpsConfig) -> Iterator[WorkerPool | None]:
    """Where the run's chunks go, for the block's duration: a pool of worker processes when the flow
    runs on the default thread runner and ``ops.fan_out`` asks for processes; otherwise None (the
    flow's own task runner: its threads, or Dask). The pool starts its workers at the first step of
    more than one chunk and stops them at the end of the block."""
    flow_runner = FlowRunContext.get().task_runner
    processes = ops.fan_out == "processes" or (ops.fan_out == "auto" and (os.cpu_count() or 1) > 1)
    if not processes or not isinstance(flow_runner, ThreadPoolTaskRunner):
        yield None
        return
    workers = ops.fan_out_workers or os.cpu_count() or 1
    with ProcessPoolTaskRunner(max_workers=workers, initializer=use_api, initargs=(prefect_api_url(),)) as runner:
        yield WorkerPool(runner, workers)


def use_api(url: str) -> None:
    """In a worker process: report to the flow's Prefect API rather than start an ephemeral server."""
    os.environ["PREFECT_API_URL"] = url


def results_with_progress(
    finished: Iterator[tuple[int, PrefectFuture]], sizes: list[int], unit: str, keep: Callable[[int, T], T] | None = None
) -> list:
    """The chunks' results in chunk order, advancing a progress bar by each one's size as it finishes;
    ``keep(index, result)``, when given, is what is kept of each result."""
    results: list = [None] * len(sizes)
    with progress_bar(unit, sum(sizes)) as advance:
        for index, future in finished:
            results[index] = future.result() if keep is None else keep(index, future.result())
            advance(sizes[index])
    return results


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on an interactive terminal (stderr is a TTY); elsewhere the log lines suffice."""
    if not sys.stderr.isatty() or not total:
        yield lambda amount=1: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task_id = bar.add_task(description, total=total)
        yield lambda amount=1: bar.advance(task_id, amount)


def prefect_api_url(start_timeout_s: float | None = None) -> str:
    """The API every process of a run reports to; starts the ephemeral server if none is configured,
    waiting up to ``start_timeout_s`` (None: Prefect's own setting) for it to answer.

    A Dask worker without PREFECT_API_URL starts an ephemeral server of its own (measured: 43.8 s
    instead of 2.3 s for the seeds, stray server processes, port clashes), so workers get this URL.
    """
    from prefect.settings import PREFECT_API_URL

    if url := PREFECT_API_URL.value():
        return url
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same instance Prefect's client falls back to in this process
    try:
        server.start(timeout=start_timeout_s)
    except RuntimeError as exc:  # Prefect's only signal that the server did not come up
        raise PipelineError(
            f"Prefect's temporary API server did not answer in time ({str(exc).split(' stdout:')[0]}) "
            "Nothing was read or written. "
            "On a busy machine give it longer (--set ops.embedded_server_start_s=300), "
            "or point PREFECT_API_URL at a running Prefect server."
        ) from exc
    return server.api_url


@contextmanager
def dask_scheduler(runner: str, address: str | None, workers: int | None = None) -> Iterator[str | None]:
    """The Dask scheduler for ``runner``: none for local, ``address`` when given, else a cluster of
    ``workers`` local processes (default: one per core, 1 thread each) for the block's duration."""
    if runner == "local" or address:
        yield address
        return
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"PREFECT_API_URL": prefect_api_url()},
    ) as cluster:
        yield cluster.scheduler_address


def with_runner(flow: Flow, runner: str, scheduler_address: str | None) -> Flow:
    """``flow`` with its mapped tasks sent to Dask when ``runner`` is dask (a scheduler address of
    None lets prefect-dask start a local cluster per flow run, inheriting this process's environment)."""
    if runner == "local":
        return flow
    from prefect_dask import DaskTaskRunner

    return flow.with_options(task_runner=DaskTaskRunner(address=scheduler_address))


def call_with_runner(flow: Flow, runner: str, dask_address: str | None, **parameters):
    with dask_scheduler(runner, dask_address) as scheduler:
        return with_runner(flow, runner, scheduler)(**parameters)
