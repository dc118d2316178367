"""The data contract, enforced with Great Expectations: per-record and per-batch suites.

Suites
    ``expectations/records.json`` (per row: a failing row is quarantined with the failed expectations'
    names and observed values) and ``expectations/batch.json`` (per run: any failure stops the publish
    of the partition). They are plain GX ExpectationSuite JSON, reviewed in git; a suite's version is
    a hash of its canonical JSON, for the manifest.

Thresholds: one source of truth, ``ValidationConfig``
    Suites hold structure only. Every threshold is a placeholder ``{"$PARAMETER": "<name>"}`` where
    ``<name>`` is a ``ValidationConfig`` field (so env/CLI overrides apply) or one of the few values
    derived at run time: ``min_published_date`` (1 January of ``min_published_year``),
    ``max_published_date`` (the run's ``today`` plus ``published_date_slack_days``),
    ``articles_columns`` and ``articles_schema`` (from ``tasks.schema.ARTICLES``, the contract in code).
    GX substitutes them via ``expectation_parameters``; a placeholder with no value raises before
    validating. The noise-marker regexes are not thresholds: they live in records.json.

Batch facts
    Shares are properties of the run, not of any article row, so the batch suite validates two
    frames: expectations with ``meta.frame == "articles"`` read the partition to publish (column
    order, uniqueness), those with ``"facts"`` a one-row frame of run counts with derived shares and
    the partition's rendered schema (GX's pandas type check only sees Python types, e.g. ``int`` for
    both Int32 and Int64, so exact types are compared as polars dtype strings). The row-count rule
    uses a GX row condition on ``source_files > 0``, so "only when the source had files" is in the
    reviewed JSON too. Shares are of ``inputs`` (everything read): ``quarantined / inputs`` and
    ``duplicates / inputs``; an empty run has shares 0.

Records
    Derived columns (``letter_ratio``, ``noise_ratio``) are computed in polars. Rejects are found by
    row position (GX reports the pandas RangeIndex), so repeated ids are judged row by row. Null
    title, date or language pass: the rules judge values that exist; a null body does not. Rejected
    rows carry ``"<expectation_type>:<column> (observed <value>)"`` per failed rule, in suite order.

GX runs in an ephemeral, in-memory context with usage statistics and progress bars off, no network.
``great_expectations`` takes ~5 s to import, so it is imported inside functions only. It validates
pandas: frames cross over with ``to_pandas(use_pyarrow_extension_array=True)`` (cheap, keeps
nullable types), numbers as numpy float64 (see ``_to_pandas``). The context is built once per
process; validations through it are serialised by a lock (GX's batch definition is not
thread-safe). ``build_data_docs`` writes a static site for one run to a local folder.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import importlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.config import ValidationConfig
from tasks.schema import ARTICLES

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult

RECORD_SUITE_FILE = "records.json"
BATCH_SUITE_FILE = "batch.json"

_ROW = "_row"  # row position: identifies a failing row even if article_ids repeat
_OBSERVED_CHARS = 80


@dataclass(frozen=True)
class RecordValidation:
    passed: pl.DataFrame  # input rows that passed every record expectation (input columns)
    rejected: pl.DataFrame  # article_id: String, reasons: List(String)
    summary: dict[str, dict]  # "<type>:<column>" -> {"success", "unexpected_count"}
    suite_name: str
    suite_version: str
    parameters: dict[str, Any]  # the threshold values this run used, for the manifest
    gx_results: tuple[tuple[Any, Any], ...] = field(default=(), repr=False, compare=False)  # (suite, result) for Data Docs


@dataclass(frozen=True)
class BatchFacts:
    source_files: int
    inputs: int
    duplicates: int
    quarantined: int


@dataclass(frozen=True)
class BatchValidation:
    success: bool
    failed: list[str]  # "<type>:<column> (observed ...)" per failed expectation
    summary: dict[str, dict]
    suite_name: str
    suite_version: str
    parameters: dict[str, Any]
    gx_results: tuple[tuple[Any, Any], ...] = field(default=(), repr=False, compare=False)


# --- suites and parameters -------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A suite file as reviewed: its JSON, name and content version."""

    json: dict[str, Any]
    name: str
    version: str


def load_suite(path: Path) -> Suite:
    suite_json = json.loads(path.read_text(encoding="utf-8"))
    canonical = json.dumps(suite_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Suite(suite_json, suite_json["name"], hashlib.sha256(canonical.encode()).hexdigest()[:16])


def placeholders(suite_json: dict[str, Any]) -> set[str]:
    """Names of every ``{"$PARAMETER": name}`` in a suite's expectation kwargs."""
    return {
        value["$PARAMETER"]
        for expectation in suite_json["expectations"]
        for value in expectation["kwargs"].values()
        if isinstance(value, dict) and "$PARAMETER" in value
    }


def render_schema(schema: pl.Schema) -> str:
    return ", ".join(f"{name}:{dtype}" for name, dtype in schema.items())


def suite_parameters(config: ValidationConfig, today: dt.date | None = None) -> dict[str, Any]:
    """Every value a suite placeholder may name: config fields plus the run-time derived ones.

    ``today`` is needed only by suites with date rules (the record suite).
    """
    parameters = config.model_dump(exclude={"expectations_dir"}) | {
        "min_published_date": dt.date(config.min_published_year, 1, 1),
        "articles_columns": ARTICLES.names(),
        "articles_schema": [render_schema(ARTICLES)],
    }
    if today is not None:
        parameters["max_published_date"] = today + dt.timedelta(days=config.published_date_slack_days)
    return parameters


def with_parameters(expectations: list[dict[str, Any]], parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Expectation JSON with each placeholder replaced by its value."""

    def value(v: Any) -> Any:
        return parameters[v["$PARAMETER"]] if isinstance(v, dict) and "$PARAMETER" in v else v

    return [e | {"kwargs": {k: value(v) for k, v in e["kwargs"].items()}} for e in expectations]


def _parameters_for(suite: Suite, available: dict[str, Any]) -> dict[str, Any]:
    # GX would leave an unknown placeholder in place and fail obscurely; fail here, by name.
    missing = placeholders(suite.json) - available.keys()
    if missing:
        raise KeyError(f"suite {suite.name!r} names parameters that ValidationConfig lacks: {sorted(missing)}")
    return {name: available[name] for name in sorted(placeholders(suite.json))}


# --- GX plumbing -------------------------------------------------------------------------------


def _new_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


@functools.cache
def _batch_definition():
    """One context and pandas batch definition per process: setting them up is the slow part."""
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch below this size for its batch markers, hashing Arrow
    # strings one Python object at a time: 75% of the time of a 1M-row validation. Nothing here
    # reads the fingerprint.
    pandas_execution_engine.HASH_THRESHOLD = 0
    source = _new_context().data_sources.add_pandas("cleanwire")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def _gx_suite(name: str, expectations: list[dict[str, Any]], meta: dict[str, Any]):
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=expectations, meta=meta)


def _to_pandas(frame: pl.DataFrame):
    """Arrow-backed pandas, except numbers: GX's between check is vectorised only for numpy
    int64/float64 and calls Python per value on Arrow dtypes (~3 s per rule per 1M rows).
    Float64 holds every count exactly and nulls become NaN, which GX treats as missing."""
    pdf = frame.to_pandas(use_pyarrow_extension_array=True)
    for name, dtype in frame.schema.items():
        if dtype.is_numeric():
            pdf[name] = frame.get_column(name).cast(pl.Float64).to_numpy()
    return pdf


# The shared batch definition holds the dataframe of the batch being built, so concurrent
# validations (backfill runs daily flows in threads) would read each other's frames.
_GX_LOCK = threading.Lock()


def _run(frame: pl.DataFrame, gx_suite, parameters: dict[str, Any], result_format: dict[str, Any]):
    pdf = _to_pandas(frame)
    with _GX_LOCK:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": pdf})
        return batch.validate(gx_suite, expectation_parameters=parameters, result_format=result_format)


def _raised(item) -> str | None:
    """GX's message if the expectation could not be evaluated (e.g. its column is missing)."""
    info = item.exception_info or {}
    # One flat record, or (when a metric failed) one record per metric id.
    infos = [info] if "raised_exception" in info else list(info.values())
    return next((i["exception_message"] for i in infos if isinstance(i, dict) and i.get("raised_exception")), None)


def expectation_name(config) -> str:
    column = config.kwargs.get("column")
    return f"{config.type}:{column}" if column else config.type


def _summary(results: list[ExpectationSuiteValidationResult]) -> dict[str, dict]:
    return {
        expectation_name(item.expectation_config): {
            "success": bool(item.success),
            "unexpected_count": int(item.result.get("unexpected_count") or 0),
        }
        for result in results
        for item in result.results
    }


def _trimmed(result: ExpectationSuiteValidationResult) -> ExpectationSuiteValidationResult:
    # COMPLETE results list every failing value; Data Docs and the manifest need only the partial lists.
    for item in result.results:
        for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
            item.result.pop(key, None)
    return result


def _observed(config, value: Any, limit: int | None = _OBSERVED_CHARS) -> str:
    """A readable observed value: the matched marker for regex rules, the length for length rules."""
    if value is None or str(value) == "<NA>":  # GX hands over pandas' NA for nulls
        return "null"
    if isinstance(value, str):
        patterns = config.kwargs.get("regex_list") or [config.kwargs.get("regex")]
        match = next((m for p in patterns if p and (m := re.search(p, value))), None)
        if match:
            value = match.group(0).strip()
        elif "lengths" in config.type:
            return f"{len(value)} chars"
        return repr(value if limit is None or len(value) <= limit else value[:limit] + "…")
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# --- records -------------------------------------------------------------------------------------


def with_derived_columns(records: pl.DataFrame) -> pl.DataFrame:
    """The ratios the record suite checks, computed in polars."""
    body = pl.col("body").str
    # count_matches pays per match (~20x slower for a class matching every character), so count
    # the common spaces literally and only the rare classes by regex.
    spaces = sum(body.count_matches(c, literal=True) for c in (" ", "\n", "\t")) + body.count_matches(r"[^\S \n\t]")
    non_space = body.len_chars() - spaces
    # Combining marks count as letters: Indic scripts write vowels as marks (Bengali is ~30% \p{M}).
    non_letters = body.count_matches(r"[^\p{L}\p{M}\s]")
    return records.with_columns(
        letter_ratio=pl.when(non_space > 0).then(1 - non_letters / non_space),
        noise_ratio=pl.when(pl.col("raw_chars") > 0).then(pl.col("removed_chars") / pl.col("raw_chars")),
    )


def _failures(item, frame: pl.DataFrame) -> pl.DataFrame:
    """(row, reason) for each row failing one expectation; values are looked up in polars.

    The pandas frame keeps its default RangeIndex, so GX reports failing rows as positions. (Naming
    an index column instead makes GX fetch two cells per failing row with ``DataFrame.at``: 45 s
    more for 1M rows, 90% failing.)
    """
    config = item.expectation_config
    rows = pl.Series(_ROW, item.result.get("unexpected_index_list") or [], dtype=pl.UInt32)
    name = expectation_name(config)
    values = frame.get_column(config.kwargs["column"]).gather(rows)
    reasons = [f"{name} (observed {_observed(config, value)})" for value in values]
    return pl.DataFrame({_ROW: rows, "reason": pl.Series(reasons, dtype=pl.String)})


def _rejected(result, frame: pl.DataFrame) -> pl.DataFrame:
    """Row position, article_id and reasons (in suite order) of every row failing some expectation."""
    for item in result.results:
        # A rule that raised fails without failing rows; passing every row would hide the broken input or suite.
        if message := _raised(item):
            raise RuntimeError(f"record expectation {expectation_name(item.expectation_config)} raised: {message}")
    failures = [_failures(item, frame) for item in result.results if not item.success]
    empty = pl.DataFrame(schema={_ROW: pl.UInt32, "reason": pl.String})
    rejected = pl.concat([empty, *failures]).group_by(_ROW, maintain_order=True).agg(reasons="reason").sort(_ROW)
    return rejected.with_columns(article_id=frame.get_column("article_id").gather(rejected.get_column(_ROW)))


def validate_records(records: pl.DataFrame, config: ValidationConfig, today: dt.date) -> RecordValidation:
    """Split ``records`` (tasks.schema.RECORDS columns) into rows passing the record suite and rejects."""
    suite = load_suite(config.expectations_dir / RECORD_SUITE_FILE)
    parameters = _parameters_for(suite, suite_parameters(config, today))
    frame = with_derived_columns(records)
    gx_suite = _gx_suite(suite.name, suite.json["expectations"], suite.json.get("meta", {}))
    result = _run(frame, gx_suite, parameters, {"result_format": "COMPLETE"})
    rejected = _rejected(result, frame)
    passed = records.filter(~pl.int_range(pl.len(), dtype=pl.UInt32).is_in(rejected.get_column(_ROW).implode()))
    return RecordValidation(
        passed=passed,
        rejected=rejected.select("article_id", "reasons"),
        summary=_summary([result]),
        suite_name=suite.name,
        suite_version=suite.version,
        parameters=parameters,
        gx_results=((gx_suite, _trimmed(result)),),
    )


_PARTIAL_VALUES = 20  # GX's default partial_unexpected_count


def merge_record_validations(parts: list[RecordValidation]) -> RecordValidation:
    """One validation of the chunks' rows, in order, from the validations of consecutive chunks.

    Rows are judged one by one, so the passed and rejected rows are the chunks' own; the GX result
    is rebuilt as if the suite had run once (counts summed, percentages recomputed, partial lists
    the first failing values in row order), so the summary and Data Docs do not depend on chunking.
    """
    first = parts[0]
    sizes = [part.passed.height + part.rejected.height for part in parts]
    offsets = [sum(sizes[:i]) for i in range(len(parts))]
    results = [part.gx_results[0][1] for part in parts]
    merged = _merged_result(results, offsets)
    return RecordValidation(
        passed=pl.concat([part.passed for part in parts]),
        rejected=pl.concat([part.rejected for part in parts]),
        summary=_summary([merged]),
        suite_name=first.suite_name,
        suite_version=first.suite_version,
        parameters=first.parameters,
        gx_results=((first.gx_results[0][0], merged),),
    )


def _merged_result(results: list, offsets: list[int]):
    merged = copy.deepcopy(results[0])
    for position, item in enumerate(merged.results):
        items = [result.results[position] for result in results]
        item.success = all(i.success for i in items)
        out = item.result
        counts = {key: sum(i.result.get(key) or 0 for i in items) for key in ("element_count", "unexpected_count", "missing_count")}
        out.update({key: value for key, value in counts.items() if key in out})
        nonmissing = counts["element_count"] - counts["missing_count"]
        percents = {
            "missing_percent": _percent(counts["missing_count"], counts["element_count"]),
            "unexpected_percent_total": _percent(counts["unexpected_count"], counts["element_count"]),
            "unexpected_percent": _percent(counts["unexpected_count"], nonmissing),
            "unexpected_percent_nonmissing": _percent(counts["unexpected_count"], nonmissing),
        }
        out.update({key: value for key, value in percents.items() if key in out})
        if "partial_unexpected_list" in out:
            out["partial_unexpected_list"] = [v for i in items for v in i.result.get("partial_unexpected_list") or []][:_PARTIAL_VALUES]
        if "partial_unexpected_counts" in out:
            out["partial_unexpected_counts"] = _merged_counts([i.result.get("partial_unexpected_counts") or [] for i in items])
        if "partial_unexpected_index_list" in out:
            rows = [row + offset for i, offset in zip(items, offsets) for row in i.result.get("partial_unexpected_index_list") or []]
            out["partial_unexpected_index_list"] = rows[:_PARTIAL_VALUES]
    evaluated = len(merged.results)
    successful = sum(1 for item in merged.results if item.success)
    merged.success = successful == evaluated
    merged.statistics.update(
        evaluated_expectations=evaluated,
        successful_expectations=successful,
        unsuccessful_expectations=evaluated - successful,
        success_percent=_percent(successful, evaluated),
    )
    return merged


def _merged_counts(parts: list[list[dict]]) -> list[dict]:
    """The most common failing values over chunks, ordered as GX orders them (count, then value).
    Exact while each chunk has at most ``_PARTIAL_VALUES`` distinct failing values."""
    counts: Counter = Counter()
    for part in parts:
        if any("value" not in entry for entry in part):  # GX's note that the values are unhashable
            return part
        counts.update({entry["value"]: entry["count"] for entry in part})
    try:
        top = sorted(counts.most_common(_PARTIAL_VALUES), key=lambda vc: (-vc[1], vc[0]))
    except TypeError:  # values of mixed types (e.g. a null among strings) keep count order only
        top = counts.most_common(_PARTIAL_VALUES)
    return [{"value": value, "count": count} for value, count in top]


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


# --- batch ---------------------------------------------------------------------------------------


def facts_frame(articles: pl.DataFrame, facts: BatchFacts) -> pl.DataFrame:
    """The one-row frame the batch suite's "facts" expectations read."""
    inputs = facts.inputs or 1  # shares of an empty run are 0, not undefined
    return pl.DataFrame(
        {
            "source_files": facts.source_files,
            "inputs": facts.inputs,
            "duplicates": facts.duplicates,
            "quarantined": facts.quarantined,
            "articles": articles.height,
            "quarantine_share": facts.quarantined / inputs,
            "duplicate_share": facts.duplicates / inputs,
            "schema": render_schema(articles.schema),
        }
    )


def _failure(item) -> str:
    config = item.expectation_config
    result = item.result
    if message := _raised(item):
        # A partition missing a checked column cannot satisfy the contract: a failure, not a crash.
        return f"{expectation_name(config)} (raised {message})"
    if "observed_value" in result:
        observed = result["observed_value"]
    else:
        values = result.get("partial_unexpected_list") or []
        # Untruncated: batch failures are few, and a schema mismatch is only readable in full.
        observed = ", ".join(_observed(config, value, limit=None) for value in values[:3])
    return f"{expectation_name(config)} (observed {observed})"


def validate_batch(articles: pl.DataFrame, facts: BatchFacts, config: ValidationConfig) -> BatchValidation:
    """Check the partition about to be published (ARTICLES columns) and the run's counts."""
    suite = load_suite(config.expectations_dir / BATCH_SUITE_FILE)
    parameters = _parameters_for(suite, suite_parameters(config))
    frames = {"articles": articles, "facts": facts_frame(articles, facts)}
    runs = []
    for frame_name, frame in frames.items():
        expectations = [e for e in suite.json["expectations"] if e["meta"]["frame"] == frame_name]
        gx_suite = _gx_suite(f"{suite.name}.{frame_name}", expectations, suite.json.get("meta", {}))
        runs.append((gx_suite, _run(frame, gx_suite, parameters, {"result_format": "SUMMARY"})))
    results = [result for _, result in runs]
    failed = [_failure(item) for result in results for item in result.results if not item.success]
    return BatchValidation(
        success=not failed,
        failed=failed,
        summary=_summary(results),
        suite_name=suite.name,
        suite_version=suite.version,
        parameters=parameters,
        gx_results=tuple(runs),
    )


# --- Data Docs -----------------------------------------------------------------------------------


def build_data_docs(record: RecordValidation, batch: BatchValidation, out_dir: Path) -> Path:
    """Render this run's suites and results as a static GX Data Docs site in ``out_dir``.

    A fresh context per call, so the site shows this run only. Local filesystem only; uploading the
    folder is the caller's job.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _new_context()
    site = "local"
    context.add_data_docs_site(
        site,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    run_id = RunIdentifier(run_name="cleanwire", run_time=dt.datetime.now(dt.UTC))
    runs = [(gx_suite, result, record.parameters) for gx_suite, result in record.gx_results]
    runs += [(gx_suite, result, batch.parameters) for gx_suite, result in batch.gx_results]
    for gx_suite, result, parameters in runs:
        # The suite pages show this run's thresholds (GX's renderers cannot draw a placeholder list).
        expectations = with_parameters(gx_suite.to_json_dict()["expectations"], parameters)
        context.suites.add(_gx_suite(gx_suite.name, expectations, gx_suite.meta))
        suite_id = ExpectationSuiteIdentifier(name=gx_suite.name)
        context.validation_results_store.store_validation_results(
            suite_validation_result=result,
            suite_validation_result_identifier=ValidationResultIdentifier(suite_id, run_id, gx_suite.name),
            expectation_suite_identifier=suite_id,
        )
    context.build_data_docs(site_names=[site])
    return out_dir / "index.html"


def preload_great_expectations() -> threading.Thread:
    """Import GX in the background while the run lists, reads and cleans, so validation does not wait ~5 s."""
    thread = threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True)
    thread.start()
    return thread


@task(name="validate-records", cache_policy=NO_CACHE)
def validate_records_task(records: pl.DataFrame, config: ValidationConfig, today: dt.date) -> RecordValidation:
    return validate_records(records, config, today)


@task(name="validate-batch", cache_policy=NO_CACHE)
def validate_batch_task(articles: pl.DataFrame, facts: BatchFacts, config: ValidationConfig) -> BatchValidation:
    return validate_batch(articles, facts, config)
