"""The daily flow: one ingest date of raw scrapes in, one committed partition of each dataset out.

list -> read (decode + parse) -> clean -> validate records -> deduplicate -> validate batch -> publish.

Record validation runs before dedup so that a duplicate always points at an article that is actually
published; the batch suite runs last, on exactly what would be published, and gates the publish.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.runners import clean_in_chunks, fan_out_pool, read_in_chunks, validate_records_in_chunks, work_folder
from tasks.clean import SiteChrome
from tasks.config import S3Config, Settings, load_settings
from tasks.dedup import INDEX_DATASET, dedup_task, load_index_task
from tasks.errors import CleanwireError, PipelineError, UsageError
from tasks.history import FAILED, NO_INPUT, PUBLISHED, record_run_task
from tasks.publish import (
    articles_and_duplicates,
    check_rerun,
    partition_lock,
    publish_data_docs_task,
    publish_task,
    read_manifest_task,
)
from tasks.quarantine import record_rejections, rejections_frame
from tasks.read import list_inputs_task
from tasks.schema import SCHEMA_VERSION
from tasks.storage import open_storage
from tasks.validate import BatchFacts, preload_great_expectations, validate_batch_task
from tasks.versions import pipeline_version


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
    allow_empty: bool = False,
    allow_shrink: bool = False,
) -> dict:
    """Clean, deduplicate, validate and publish the scrapes of one ingest date.

    ``source`` and ``dest`` are local folders or ``s3://bucket/prefix`` URIs; ``{date}`` in ``source`` is
    replaced by the ingest date. ``overrides`` is a partial Settings dict (e.g. ``{"dedup": {...}}``).
    A source that does not exist is a UsageError before anything is written. An empty source never
    replaces a published partition that had inputs unless ``allow_empty``; a rerun with far fewer
    inputs than the published partition is refused unless ``allow_shrink``. Every run that started
    leaves a record under ``DEST/_runs/``. Returns the committed manifest, or the record of a run that
    kept the published partition.
    """
    preload_great_expectations()
    settings = load_settings(overrides)
    ingest_date = resolve_date(date, settings.ops.timezone)
    run_id = run_id or new_run_id(ingest_date)
    source_uri = source_uri_of(source, ingest_date)
    require_source(source_uri, settings.s3)
    record = {
        "run_id": run_id,
        "ingest_date": ingest_date.isoformat(),
        "source": source_uri,
        "pipeline_version": pipeline_version(settings),
        "started_at": datetime.now(UTC).isoformat(),
    }
    stale_after = timedelta(hours=settings.publish.lock_stale_after_hours)
    try:
        with partition_lock(open_storage(dest, settings.s3), ingest_date, run_id, stale_after):
            result = process_partition(
                source_uri, dest, ingest_date, run_id, record["pipeline_version"], settings, allow_empty, allow_shrink
            )
    except BaseException as exc:
        error = str(exc) if isinstance(exc, CleanwireError) else f"{type(exc).__name__}: {exc}"
        save_run_record(dest, {**record, "outcome": FAILED, "error": error}, settings)
        raise
    save_run_record(dest, {"outcome": PUBLISHED, **result, "error": None}, settings)
    return result


def source_uri_of(source: str, ingest_date: date) -> str:
    """The source of one ingest date: ``{date}`` in ``source`` filled in."""
    return source.replace("{date}", ingest_date.isoformat())


def require_source(source_uri: str, s3: S3Config) -> None:
    """A source that does not exist is the operator's slip (a typo, a wrong bucket), not an empty day."""
    if not open_storage(source_uri, s3).root_exists():
        raise UsageError(
            f"source {source_uri} does not exist (no such folder, bucket, or prefix with objects under it or its "
            "parent); nothing was read or written. An existing empty folder or date prefix is a day with no input."
        )


def save_run_record(dest: str, record: dict, settings: Settings) -> None:
    """Write the run's record; a failure to do so is logged, never hides the run's own outcome."""
    record = {**record, "finished_at": datetime.now(UTC).isoformat()}
    try:
        uri = record_run_task(dest, record, settings.s3)
    except Exception as exc:  # the destination itself may be what failed the run
        get_run_logger().warning("could not write the run record of %s: %s", record["run_id"], exc)
        return
    get_run_logger().info("run record: %s (%s)", uri, record["outcome"])


def process_partition(
    source_uri: str,
    dest: str,
    ingest_date: date,
    run_id: str,
    version: str,
    settings: Settings,
    allow_empty: bool,
    allow_shrink: bool,
) -> dict:
    """The steps of one run, inside the daily flow and under the ingest date's lock."""
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    timer = StepTimer()
    logger.info("run %s: %s -> %s, ingest_date=%s", run_id, source_uri, dest, ingest_date)
    published = read_manifest_task(dest, ingest_date, settings.s3)

    with timer.step("list"):
        objects = list_inputs_task(source_uri, settings.s3)
    logger.info("list: %d raw objects under %s", len(objects), source_uri)
    if not objects and published and published["counts"]["inputs"] and not allow_empty:
        return keep_published_partition(source_uri, ingest_date, run_id, published)

    # Worker processes for read, clean and record validation; the read step's documents spilled to a work folder.
    with fan_out_pool(settings.ops) as pool, work_folder(settings.ops) as spill_dir:
        chrome = SiteChrome(settings.clean)  # the sites' recurring lines, found while the workers read
        with timer.step("read"):
            read = read_in_chunks(source_uri, objects, settings, pool, spill_dir, chrome)
        inputs = read.documents.height + len(read.rejections)
        logger.info("read: %d documents, %d inputs rejected", read.documents.height, len(read.rejections))
        check_rerun(published, inputs, ingest_date, settings.publish, allow_shrink or (allow_empty and not inputs))
        for warning in read.warnings:
            logger.warning("read: %s", warning)

        with timer.step("clean"):
            cleaned = clean_in_chunks(read.documents, settings, pool, chrome.lines())
        read = replace(read, documents=read.documents.clear())  # the day's raw text is not needed after cleaning
        logger.info("clean: %d records, %d without article text", cleaned.records.height, len(cleaned.rejections))

        with timer.step("validate_records"):
            record_check = validate_records_in_chunks(cleaned.records, settings, ingest_date, pool)
        logger.info("validate records: %d passed, %d rejected", record_check.passed.height, record_check.rejected.height)
        rejections = read.rejections + cleaned.rejections + record_rejections(cleaned.records, record_check.rejected)
        cleaned = replace(cleaned, records=cleaned.records.clear())  # dedup and publish need only the passed records

    with timer.step("dedup"):
        index = load_index_task(dest, ingest_date, settings.dedup, settings.s3)
        verdicts, published_index = dedup_task(record_check.passed, settings.dedup, index)
    logger.info("dedup index: %d articles from the previous %d days", 0 if index is None else index.height, settings.dedup.index_days)
    ingested_at = datetime.now(UTC)
    articles, duplicates = articles_and_duplicates(record_check.passed, verdicts, run_id, ingested_at)
    logger.info("dedup: %d articles kept, %d duplicates dropped", articles.height, duplicates.height)

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
        "pipeline_version": version,
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
    committed = publish_task(dest, ingest_date, run_id, frames, manifest, settings.publish, settings.s3)
    logger.info("publish: committed %s", committed["manifest_uri"])
    create_markdown_artifact(key="cleanwire-run-summary", markdown=run_summary_markdown(committed), description=run_id)
    return committed


def keep_published_partition(source_uri: str, ingest_date: date, run_id: str, published: dict) -> dict:
    """An empty source does not replace a partition that had inputs: say so in the log and the artifact."""
    message = (
        f"no input under {source_uri}: the published partition of ingest_date={ingest_date} "
        f"({published['counts']['inputs']} inputs, run {published['run_id']}) was kept; nothing was written. "
        "Pass --allow-empty (deployment parameter allow_empty) to replace it with an empty partition."
    )
    get_run_logger().warning(message)
    create_markdown_artifact(
        key="cleanwire-run-summary",
        markdown=f"# cleanwire run `{run_id}` — ingest_date {ingest_date}\n\n**No input.** {message}\n",
        description=run_id,
    )
    counts = {"inputs": 0, "articles": 0, "duplicates": 0, "quarantine": 0}
    return {
        "outcome": NO_INPUT,
        "run_id": run_id,
        "ingest_date": ingest_date.isoformat(),
        "source": source_uri,
        "counts": counts,
        "message": message,
        "kept_manifest_uri": published["manifest_uri"],
    }


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

