"""Backfill: the daily flow for every ingest date of a range, as child flow runs of one parent run.

Dates run in date order by default, so each date's dedup index (the articles of the days before it)
is complete when it runs and the result equals what daily runs would have produced. With
``max_parallel > 1`` up to that many dates run at once on threads of the parent flow; a date then
may start before the days before it are committed and miss them in its dedup index (see
docs/operations.md).

A date is skipped when its partition is already published by the current pipeline, schema and
suite versions (``current_versions``) and had inputs, unless ``force``. A date whose source holds
no objects publishes nothing and is reported as "no input": left unpublished, a later backfill
picks it up once its scrapes land. A failed date does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.daily import daily_flow, require_source, source_uri_of
from flows.runners import progress_bar, with_runner
from tasks.config import Settings, load_settings
from tasks.errors import CleanwireError, PipelineError
from tasks.publish import read_manifest_task
from tasks.read import list_inputs_task
from tasks.schema import SCHEMA_VERSION
from tasks.validate import BATCH_SUITE_FILE, RECORD_SUITE_FILE, load_suite
from tasks.versions import pipeline_version

PUBLISHED, SKIPPED, FAILED, NO_INPUT = "published", "skipped", "failed", "no input"


@dataclass(frozen=True)
class DateOutcome:
    ingest_date: date
    outcome: str  # PUBLISHED, SKIPPED, FAILED or NO_INPUT
    detail: str


def current_versions(settings: Settings) -> dict:
    """The versions a partition published now records in its manifest (pipeline, schema, suites)."""
    suites = [load_suite(settings.validation.expectations_dir / name) for name in (RECORD_SUITE_FILE, BATCH_SUITE_FILE)]
    return {
        "pipeline_version": pipeline_version(settings),
        "schema_version": SCHEMA_VERSION,
        "suites": {suite.name: suite.version for suite in suites},
    }


def is_up_to_date(manifest: dict | None, current: dict) -> bool:
    """Published with the current versions, from a source that had inputs (an empty one is re-checked)."""
    if manifest is None or not manifest.get("counts", {}).get("inputs"):
        return False
    return all(manifest.get(name) == value for name, value in current.items())


def dates_between(start: date, end: date) -> list[date]:
    if end < start:
        raise PipelineError(f"--end {end} is before --start {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def parse_date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PipelineError(f"{flag} {value!r} is not a date in YYYY-MM-DD form") from None


def published_summary(manifest: dict) -> str:
    counts = manifest["counts"]
    return (
        f"{counts['articles']} articles, {counts['duplicates']} duplicates, {counts['quarantine']} quarantined "
        f"(run {manifest['run_id']})"
    )


@task(name="backfill-date")
def backfill_date_task(
    source: str,
    dest: str,
    ingest_date: date,
    force: bool,
    allow_shrink: bool,
    overrides: dict,
    runner: str,
    dask_address: str | None,
) -> DateOutcome:
    """Skip, report no input, or run the daily flow (a child flow run) for one date; never raises."""
    settings = load_settings(overrides)
    try:
        manifest = None if force else read_manifest_task(dest, ingest_date, settings.s3)
        if is_up_to_date(manifest, current_versions(settings)):
            return DateOutcome(ingest_date, SKIPPED, "already published with the current versions: " + published_summary(manifest))
        source_uri = source_uri_of(source, ingest_date)
        if not list_inputs_task(source_uri, settings.s3):
            return DateOutcome(ingest_date, NO_INPUT, f"no objects under {source_uri}; nothing published")
    except Exception as exc:  # this date failed; the others go on
        return DateOutcome(ingest_date, FAILED, failure_message(exc))
    daily = with_runner(daily_flow, runner, dask_address)
    state = daily(
        source=source, dest=dest, date=ingest_date.isoformat(), overrides=overrides, allow_shrink=allow_shrink,
        return_state=True,
    )
    if not state.is_completed():
        return DateOutcome(ingest_date, FAILED, failure_message(state.result(raise_on_failure=False)))
    return DateOutcome(ingest_date, PUBLISHED, published_summary(state.result()))


def failure_message(error: BaseException | object) -> str:
    if isinstance(error, CleanwireError):
        return str(error)
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error} (a bug in cleanwire, not in the input; see the flow run's logs)"
    return str(error)


# One date at a time unless run_backfill says otherwise: FIFO on one thread is date order.
@flow(name="cleanwire-backfill", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def backfill_flow(
    source: str,
    dest: str,
    start: str,
    end: str,
    force: bool = False,
    overrides: dict | None = None,
    runner: str = "local",
    allow_shrink: bool = False,
    dask_address: str | None = None,
) -> list[DateOutcome]:
    """Run the daily flow for every ingest date from ``start`` to ``end`` (inclusive, YYYY-MM-DD).

    The parent's task runner decides how many dates run at once (see ``run_backfill``).
    """
    logger = get_run_logger()
    if "{date}" not in source:
        raise PipelineError(f"--source {source!r} has no {{date}}: every date would read the same objects")
    settings = load_settings(overrides)  # a bad override fails once, here, not once per date
    require_source(source.split("{date}")[0].rpartition("/")[0], settings.s3)  # a typo is not a range of empty days
    dates = dates_between(parse_date(start, "--start"), parse_date(end, "--end"))
    logger.info("backfill %s..%s: %d dates, %s -> %s, force=%s", start, end, len(dates), source, dest, force)
    futures = [
        backfill_date_task.submit(source, dest, day, force, allow_shrink, overrides or {}, runner, dask_address)
        for day in dates
    ]
    with progress_bar("dates", len(dates)) as advance:
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            advance()
            logger.info(
                "backfill progress: date=%s outcome=%s done=%d/%d detail=%s",
                outcome.ingest_date, outcome.outcome, done, len(dates), outcome.detail,
            )
    outcomes = sorted((future.result() for future in futures), key=lambda o: o.ingest_date)
    create_markdown_artifact(key="cleanwire-backfill", markdown=outcomes_markdown(outcomes), description=f"{start}..{end}")
    return outcomes


def run_backfill(max_parallel: int = 1, **parameters) -> list[DateOutcome]:
    """``backfill_flow`` with up to ``max_parallel`` dates at once (1: strictly in date order)."""
    if max_parallel < 1:
        raise PipelineError(f"--max-parallel must be at least 1, got {max_parallel}")
    parent = backfill_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max_parallel))
    return parent(**parameters)


def outcomes_table(outcomes: list[DateOutcome]) -> str:
    width = max((len(o.outcome) for o in outcomes), default=0)
    return "\n".join(f"{o.ingest_date}  {o.outcome:<{width}}  {o.detail}" for o in outcomes)


def outcomes_markdown(outcomes: list[DateOutcome]) -> str:
    rows = [f"| {o.ingest_date} | {o.outcome} | {o.detail.replace('|', '/')} |" for o in outcomes]
    return "\n".join(["# cleanwire backfill", "", "| ingest_date | outcome | detail |", "|---|---|---|", *rows])
