"""The daily flow: one ingest date of raw scrapes in, one committed partition of each dataset out.

list -> read (decode + parse) -> clean -> validate records -> deduplicate -> validate batch -> publish.

Record validation runs before dedup so that a duplicate always points at an article that is actually
published; the batch suite runs last, on exactly what would be published, and gates the publish.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

import tasks.clean
import tasks.dedup
import tasks.language
import tasks.parse
import tasks.publish
import tasks.quarantine
import tasks.read
import tasks.records
import tasks.schema
import tasks.validate
from flows.runners import clean_in_chunks, read_in_chunks, validate_records_in_chunks
from tasks.config import Settings
from tasks.dedup import dedup_task
from tasks.errors import PipelineError
from tasks.publish import (
    INDEX_DATASET,
    articles_and_duplicates,
    load_index_task,
    partition_lock,
    publish_data_docs_task,
    publish_task,
)
from tasks.quarantine import record_rejections, rejections_frame
from tasks.read import list_inputs_task
from tasks.records import pipeline_version
from tasks.schema import SCHEMA_VERSION
from tasks.storage import open_storage
from tasks.validate import BatchFacts, preload_great_expectations, validate_batch_task


def resolve_date(value: str | date | None, timezone: str = "UTC") -> date:
    if value is None or value == "":
        return default_date(timezone)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PipelineError(f"--date {value!r} is not a date in YYYY-MM-DD form") from None


def default_date(timezone: str) -> date:
    """A deployment's run processes the date it was scheduled for, in the schedule's time zone (so a
    late or retried run still processes its own day); an ad hoc run (CLI, tests) today's UTC date."""
    from prefect.runtime import deployment, flow_run

    if deployment.id is None:
        return datetime.now(UTC).date()
    return flow_run.scheduled_start_time.astimezone(ZoneInfo(timezone)).date()


# The code that decides what a partition holds (a change to any of it makes published partitions stale).
STEP_MODULES = [
    tasks.read, tasks.parse, tasks.clean, tasks.dedup, tasks.validate,
    tasks.publish, tasks.quarantine, tasks.records, tasks.schema, tasks.language,
]  # fmt: skip


def current_pipeline_version(settings: Settings) -> str:
    """Package version + digest of the step code and of every setting that shapes the output."""
    shaping = settings.model_dump(mode="json", include={"read", "parse", "clean", "dedup", "validation"})
    shaping["validation"].pop("expectations_dir")  # where the suites are is not what they say (suite versions are)
    return pipeline_version(STEP_MODULES, json.dumps(shaping, sort_keys=True))


def new_run_id(ingest_date: date) -> str:
    return f"{ingest_date:%Y%m%d}-{datetime.now(UTC):%H%M%S}-{secrets.token_hex(3)}"


class StepTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


@flow(name="cleanwire-daily", log_prints=False)
def daily_flow(
    source: str,
    dest: str,
    date: str | None = None,
    run_id: str | None = None,
    overrides: dict | None = None,
) -> dict:
    """Clean, deduplicate, validate and publish the scrapes of one ingest date.

    ``source`` and ``dest`` are local folders or ``s3://bucket/prefix`` URIs; ``{date}`` in ``source`` is
    replaced by the ingest date. ``overrides`` is a partial Settings dict (e.g. ``{"dedup": {...}}``).
    Returns the committed manifest.
    """
    preload_great_expectations()
    settings = Settings(**(overrides or {}))
    ingest_date = resolve_date(date, settings.ops.timezone)
    run_id = run_id or new_run_id(ingest_date)
    stale_after = timedelta(hours=settings.publish.lock_stale_after_hours)
    with partition_lock(open_storage(dest, settings.s3), ingest_date, run_id, stale_after):
        return process_partition(source.replace("{date}", ingest_date.isoformat()), dest, ingest_date, run_id, settings)


def process_partition(source_uri: str, dest: str, ingest_date: date, run_id: str, settings: Settings) -> dict:
    """The steps of one run, inside the daily flow and under the ingest date's lock."""
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    timer = StepTimer()
    logger.info("run %s: %s -> %s, ingest_date=%s", run_id, source_uri, dest, ingest_date)

    with timer.step("list"):
        objects = list_inputs_task(source_uri, settings.s3)
    logger.info("list: %d raw objects under %s", len(objects), source_uri)

    with timer.step("read"):
        read = read_in_chunks(source_uri, objects, settings)
    inputs = read.documents.height + len(read.rejections)
    logger.info("read: %d documents, %d inputs rejected", read.documents.height, len(read.rejections))
    for warning in read.warnings:
        logger.warning("read: %s", warning)

    with timer.step("clean"):
        cleaned = clean_in_chunks(read.documents, settings)
    read = replace(read, documents=read.documents.clear())  # the day's raw text is not needed after cleaning
    logger.info("clean: %d records, %d without article text", cleaned.records.height, len(cleaned.rejections))

    with timer.step("validate_records"):
        record_check = validate_records_in_chunks(cleaned.records, settings, ingest_date)
    logger.info("validate records: %d passed, %d rejected", record_check.passed.height, record_check.rejected.height)

    with timer.step("dedup"):
        index = load_index_task(dest, ingest_date, settings.dedup, settings.s3)
        verdicts, published_index = dedup_task(record_check.passed, settings.dedup, index)
    logger.info("dedup index: %d articles from the previous %d days", 0 if index is None else index.height, settings.dedup.index_days)
    ingested_at = datetime.now(UTC)
    articles, duplicates = articles_and_duplicates(record_check.passed, verdicts, run_id, ingested_at)
    logger.info("dedup: %d articles kept, %d duplicates dropped", articles.height, duplicates.height)

    rejections = read.rejections + cleaned.rejections + record_rejections(cleaned.records, record_check.rejected)
    quarantine = rejections_frame(rejections, run_id, ingested_at, settings.read.excerpt_chars)
    counts = {
        "inputs": inputs,
        "articles": articles.height,
        "duplicates": duplicates.height,
        "quarantine": quarantine.height,
    }
    if counts["articles"] + counts["duplicates"] + counts["quarantine"] != inputs:
        raise PipelineError(f"accounting does not balance, refusing to publish: {counts}")

    with timer.step("validate_batch"):
        batch_check = validate_batch_task(
            articles,
            BatchFacts(len(objects), inputs, duplicates.height, quarantine.height),
            settings.validation,
        )
    data_docs = publish_data_docs_task(dest, run_id, record_check, batch_check, settings.s3)
    logger.info("validation report: %s", data_docs)
    if not batch_check.success:
        raise PipelineError(
            f"batch expectations failed for ingest_date={ingest_date}: {', '.join(batch_check.failed)}. "
            f"Nothing was published; the previous partition is untouched. Report: {data_docs}"
        )

    reasons = Counter(reason.split(" (")[0] for r in rejections for reason in r.reasons)
    manifest = {
        "run_id": run_id,
        "ingest_date": ingest_date.isoformat(),
        "source": source_uri,
        "schema_version": SCHEMA_VERSION,
        "pipeline_version": current_pipeline_version(settings),
        "suites": {
            record_check.suite_name: record_check.suite_version,
            batch_check.suite_name: batch_check.suite_version,
        },
        "validation": {
            "passed": batch_check.success,
            "records": record_check.summary,
            "batch": batch_check.summary,
            "data_docs": data_docs,
        },
        "counts": counts,
        "quarantine_reasons": dict(sorted(reasons.items())),
        "read_warnings": read.warnings,
        "removed_by_rule": cleaned.rule_counts,
        "started_at": started_at.isoformat(),
        "timings_seconds": timer.seconds,  # every step before publish, which writes this manifest
    }
    frames = {"articles": articles, "duplicates": duplicates, "quarantine": quarantine, INDEX_DATASET: published_index}
    committed = publish_task(dest, ingest_date, run_id, frames, manifest, settings.s3)
    logger.info("publish: committed %s", committed["manifest_uri"])
    create_markdown_artifact(key="cleanwire-run-summary", markdown=run_summary_markdown(committed), description=run_id)
    return committed


def run_summary_markdown(manifest: dict) -> str:
    counts = manifest["counts"]
    lines = [
        f"# cleanwire run `{manifest['run_id']}` — ingest_date {manifest['ingest_date']}",
        "",
        f"Source: `{manifest['source']}`",
        "",
        "| inputs | published | duplicates | quarantined |",
        "|---:|---:|---:|---:|",
        f"| {counts['inputs']} | {counts['articles']} | {counts['duplicates']} | {counts['quarantine']} |",
        "",
    ]
    if manifest["quarantine_reasons"]:
        lines += ["## Quarantine reasons", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {reason} | {n} |" for reason, n in manifest["quarantine_reasons"].items()]
        lines.append("")
    if manifest["removed_by_rule"]:
        lines += ["## Noise removed, by rule", "", "| rule | spans |", "|---|---:|"]
        lines += [f"| {rule} | {n} |" for rule, n in manifest["removed_by_rule"].items()]
        lines.append("")
    validation = manifest["validation"]
    lines += [f"Validation report (GX Data Docs): [{validation['data_docs']}]({validation['data_docs']})", ""]
    lines += ["## Expectations", "", "| suite | expectation | passed | failing rows |", "|---|---|---|---:|"]
    for suite in ("records", "batch"):
        for name, outcome in validation[suite].items():
            lines.append(f"| {suite} | {name} | {'yes' if outcome['success'] else '**no**'} | {outcome.get('unexpected_count', 0)} |")
    lines += ["", "## Files", ""] + [f"- {name}: `{uri}`" for name, uri in manifest["files"].items()]
    return "\n".join(lines)

