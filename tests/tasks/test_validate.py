"""The data contract: record and batch suites, config-driven thresholds, Data Docs.

GX costs ~5 s to import and set up, so one context serves the whole module (validate.py caches it;
the ``gx`` fixture pays for it once).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks import validate
from tasks.config import Settings, ValidationConfig
from tasks.schema import ARTICLES, RECORDS
from tasks.validate import BatchFacts, build_data_docs, merge_record_validations, validate_batch, validate_records
from tests.conftest import REPO_ROOT

TODAY = dt.date(2026, 11, 23)
CONFIG = ValidationConfig()
BODY = "\n".join(
    ["The minister said on Tuesday that the talks had gone well and that more meetings would follow soon."] * 5
)
BENGALI = "সরকার মঙ্গলবার নতুন পদক্ষেপ ঘোষণা করেছে এবং আরও বৈঠক হবে বলে জানিয়েছে। " * 8


def record(article_id: str, **overrides) -> dict:
    body = overrides.get("body", BODY)
    row = {
        "article_id": article_id,
        "source_uri": f"s3://raw/{article_id}.txt",
        "title": "Talks went well, minister says",
        "published_date": dt.date(2025, 5, 1),
        "byline": None,
        "language": "en",
        "body": body,
        "word_count": len(body.split()) if body else 0,
        "content_hash": f"hash-{article_id}",
        "raw_chars": 1000,
        "removed_chars": 100,
        "size_bytes": 1000,
    }
    return row | overrides


def records(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=RECORDS)


def articles(frame: pl.DataFrame) -> pl.DataFrame:
    extra = {"cluster_id": pl.col("article_id"), "run_id": pl.lit("run-1"), "ingested_at": pl.lit(dt.datetime(2026, 11, 23, tzinfo=dt.UTC))}
    return frame.with_columns(**extra).select(ARTICLES.names()).cast(ARTICLES)


@pytest.fixture(scope="module")
def gx() -> None:
    """Warm the process-wide GX context once for the module."""
    validate_records(records(record("warm")), CONFIG, TODAY)


# --- record suite ----------------------------------------------------------------------------

BAD_ROWS = {
    "null_body": (dict(body=None), "expect_column_values_to_not_be_null:body (observed null)"),
    "few_words": (dict(word_count=3), "expect_column_values_to_be_between:word_count (observed 3)"),
    "photo_credit": (dict(body=BODY + "\nPhoto: AFP\nMore text."), "expect_column_values_to_not_match_regex_list:body (observed 'Photo: AFP')"),
    "share_prompt": (dict(body=BODY + "\nShare This Post"), "expect_column_values_to_not_match_regex_list:body (observed 'Share This Post')"),
    "related": (dict(body=BODY + "\nRelated Articles\n" + BODY), "expect_column_values_to_not_match_regex_list:body (observed 'Related Articles')"),
    "hashtags": (dict(body=BODY + "\n#PoliticsNews #WorldNews"), "expect_column_values_to_not_match_regex_list:body (observed '#PoliticsNews #WorldNews')"),
    "app_prompt": (dict(body=BODY + "\nGet Started Now: Download the App"), "expect_column_values_to_not_match_regex_list:body (observed 'Get Started Now: Download the App')"),
    "language": (dict(language="la"), "expect_column_values_to_be_in_set:language (observed 'la')"),
    "future": (dict(published_date=dt.date(2026, 11, 25)), "expect_column_values_to_be_between:published_date (observed 2026-11-25)"),
    "ancient": (dict(published_date=dt.date(1989, 12, 31)), "expect_column_values_to_be_between:published_date (observed 1989-12-31)"),
    "short_title": (dict(title="Hi"), "expect_column_value_lengths_to_be_between:title (observed 2 chars)"),
    "long_title": (dict(title="x" * 301), "expect_column_value_lengths_to_be_between:title (observed 301 chars)"),
    "numbers": (dict(body="2024 1.5% 3,000 $4 -- 17:30 | " * 20, word_count=160), "expect_column_values_to_be_between:letter_ratio (observed 0)"),
    "noisy": (dict(removed_chars=990), "expect_column_values_to_be_between:noise_ratio (observed 0.99)"),
}


def test_each_bad_row_is_rejected_with_its_reason(gx) -> None:
    good = [
        record("good"),
        record("untitled", title=None),
        record("undated", published_date=None),
        record("undetected", language=None),
        record("tomorrow_in_tokyo", published_date=TODAY + dt.timedelta(days=1)),
        record("bengali", body=BENGALI, language="bn"),
    ]
    bad = [record(name, **overrides) for name, (overrides, _) in BAD_ROWS.items()]
    frame = records(*good, *bad)

    result = validate_records(frame, CONFIG, TODAY)

    assert result.passed.equals(frame.head(len(good)))
    got = {row["article_id"]: row["reasons"] for row in result.rejected.iter_rows(named=True)}
    expected = {name: [reason] for name, (_, reason) in BAD_ROWS.items()}
    expected["null_body"].append("expect_column_values_to_be_between:word_count (observed 0)")
    assert got == expected
    assert result.rejected.schema == pl.Schema({"article_id": pl.String, "reasons": pl.List(pl.String)})
    assert result.summary["expect_column_values_to_not_match_regex_list:body"] == {"success": False, "unexpected_count": 5}
    assert result.suite_name == "records" and re.fullmatch(r"[0-9a-f]{16}", result.suite_version)


def test_a_row_failing_several_rules_gets_every_reason_in_suite_order(gx) -> None:
    frame = records(record("a", word_count=3, title="Hi", language="la"))
    [reasons] = validate_records(frame, CONFIG, TODAY).rejected["reasons"].to_list()
    assert [r.split(" ")[0] for r in reasons] == [
        "expect_column_values_to_be_between:word_count",
        "expect_column_values_to_be_in_set:language",
        "expect_column_value_lengths_to_be_between:title",
    ]


def test_repeated_article_ids_are_judged_row_by_row(gx) -> None:
    frame = records(record("same"), record("same", word_count=3))
    result = validate_records(frame, CONFIG, TODAY)
    assert result.passed.equals(frame.head(1)) and result.rejected.height == 1


def test_records_missing_a_checked_column_raise(gx) -> None:
    with pytest.raises(RuntimeError, match="expect_column_values_to_be_in_set:language raised"):
        validate_records(records(record("a")).drop("language"), CONFIG, TODAY)


def test_empty_records_pass(gx) -> None:
    result = validate_records(records(), CONFIG, TODAY)
    assert result.passed.schema == RECORDS and result.passed.is_empty() and result.rejected.is_empty()
    assert all(entry["success"] for entry in result.summary.values())


NOISE_LINES = [
    "Photo: AFP", "Image credit: Jane Doe", "Photo by John Smith/Reuters", "Jane Doe / Getty Images",
    "Share This Post", "Share on Facebook", "Subscribe now for unlimited access", "Follow us on X",
    "Related Articles", "Read more:", "#PoliticsNews #WorldNews", "#巴黎",
    "DOWNLOAD THE APP", "Get Started Now: Download the App", "app-storeplay-store",
    "Ready to dive into the world of global news and events? Download our app today from your preferred app store.",
]  # fmt: skip
PROSE_LINES = [
    "Shares of the company rose 3% on the news.",
    "Users can download the app from Friday, the company said.",
    "He posted photos on social media and shared a statement.",
    "The related articles of the treaty were amended in 2019.",
    "Reuters reported that the meeting was postponed.",
    "Issue #42 of the report lists the changes.",
]


def rejected_lines(lines: list[str]) -> list[str]:
    """The lines whose article (one per line, the line in the middle of a clean body) is rejected."""
    frame = records(*(record(str(i), body=f"{BODY}\n{line}\n{BODY}") for i, line in enumerate(lines)))
    return [lines[int(i)] for i in validate_records(frame, CONFIG, TODAY).rejected["article_id"]]


def test_noise_markers_are_caught(gx) -> None:
    assert rejected_lines(NOISE_LINES) == NOISE_LINES


def test_prose_is_not_mistaken_for_noise(gx) -> None:
    assert rejected_lines(PROSE_LINES) == []


def test_noise_patterns_stay_on_the_pyarrow_regex_path() -> None:
    # pandas 3 runs \s, \S, \w, \d, \b (on non-ASCII text) and $ (on multi-line text) through
    # Python's re, which made this rule ~30x slower on real bodies; the patterns avoid them.
    suite = json.loads((CONFIG.expectations_dir / validate.RECORD_SUITE_FILE).read_text())
    [patterns] = [e["kwargs"]["regex_list"] for e in suite["expectations"] if "regex_list" in e["kwargs"]]
    for pattern in patterns:
        assert not re.search(r"\\[sSwWdDbB]|\$", pattern), pattern
        re.compile(pattern)


def test_letter_ratio_counts_letters_and_marks_among_non_space_characters() -> None:
    bodies = ["ab 12\n", "সরকার মঙ্গলবার", "a\u00a0b\u3000c!", "   ", "", None]
    derived = validate.with_derived_columns(records(*(record(str(i), body=b) for i, b in enumerate(bodies))))
    naive = [
        None if not b or not b.strip() else len(re.findall(r"[^\W\d_]|[\u0980-\u09ff]", b)) / len(re.findall(r"\S", b))
        for b in bodies
    ]
    assert derived["letter_ratio"].to_list() == pytest.approx(naive)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(word_counts=st.lists(st.integers(0, 40_000), max_size=20))
def test_passed_and_rejected_partition_the_input(gx, word_counts: list[int]) -> None:
    frame = records(*(record(f"r{i}", word_count=n) for i, n in enumerate(word_counts)))
    result = validate_records(frame, CONFIG, TODAY)
    in_bounds = [CONFIG.min_word_count <= n <= CONFIG.max_word_count for n in word_counts]
    assert result.passed["article_id"].to_list() == [f"r{i}" for i, ok in enumerate(in_bounds) if ok]
    assert result.rejected["article_id"].to_list() == [f"r{i}" for i, ok in enumerate(in_bounds) if not ok]


def test_validating_in_chunks_gives_the_whole_batch_result(gx) -> None:
    bad = [record(name, **overrides) for name, (overrides, _) in BAD_ROWS.items()]
    frame = records(*(row | {"article_id": f"{row['article_id']}-{i}"} for i in range(3) for row in [record("good"), *bad]))
    whole = validate_records(frame, CONFIG, TODAY)

    merged = merge_record_validations([validate_records(frame.slice(start, 7), CONFIG, TODAY) for start in range(0, frame.height, 7)])

    assert merged.passed.equals(whole.passed) and merged.rejected.equals(whole.rejected)
    assert merged.summary == whole.summary
    [(_, whole_result)], [(_, merged_result)] = whole.gx_results, merged.gx_results
    assert merged_result.statistics == whole_result.statistics and merged_result.success == whole_result.success
    for merged_item, whole_item in zip(merged_result.results, whole_result.results, strict=True):
        assert merged_item.success == whole_item.success
        for key in ("partial_unexpected_list", "partial_unexpected_index_list", "partial_unexpected_counts"):
            assert str(merged_item.result.get(key)) == str(whole_item.result.get(key)), key  # values may be pandas' NA
        for key in ("unexpected_count", "element_count", "missing_count", "unexpected_percent", "missing_percent", "unexpected_percent_total"):
            assert merged_item.result.get(key) == pytest.approx(whole_item.result.get(key)), key


def test_concurrent_validations_do_not_see_each_others_rows(gx) -> None:
    # Backfill runs daily flows in threads; GX's shared batch definition is not thread-safe.
    def job(k: int) -> bool:
        frame = records(*(record(f"{k}-{i}", word_count=3 if i % (k + 2) == 0 else 60) for i in range(40 + 7 * k)))
        rejected = validate_records(frame, CONFIG, TODAY).rejected["article_id"].to_list()
        return rejected == [f"{k}-{i}" for i in range(frame.height) if i % (k + 2) == 0]

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(job, [0, 1, 2, 3] * 3))


# --- thresholds come from configuration -----------------------------------------------------


def test_record_threshold_comes_from_config(gx) -> None:
    frame = records(record("short", word_count=20))
    assert validate_records(frame, CONFIG, TODAY).rejected.height == 1
    relaxed = validate_records(frame, ValidationConfig(min_word_count=10), TODAY)
    assert relaxed.rejected.is_empty() and relaxed.parameters["min_word_count"] == 10


def test_language_set_comes_from_config(gx) -> None:
    frame = records(record("en"))
    assert validate_records(frame, ValidationConfig(languages=["de"]), TODAY).rejected.height == 1


def test_env_override_reaches_the_suite(gx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANWIRE_VALIDATION__MIN_PUBLISHED_YEAR", "2026")
    frame = records(record("last-year", published_date=dt.date(2025, 12, 31)))
    assert validate_records(frame, Settings().validation, TODAY).rejected.height == 1


def test_batch_threshold_comes_from_config(gx) -> None:
    facts = BatchFacts(source_files=1, inputs=10, duplicates=0, quarantined=6)
    frame = articles(records(record("a")))
    assert not validate_batch(frame, facts, CONFIG).success
    assert validate_batch(frame, facts, ValidationConfig(max_quarantine_share=0.7)).success


def test_every_placeholder_has_a_value_and_a_missing_one_fails_by_name(tmp_path: Path) -> None:
    available = validate.suite_parameters(CONFIG, TODAY)
    for path in sorted(CONFIG.expectations_dir.glob("*.json")):
        assert validate.placeholders(json.loads(path.read_text())) <= available.keys(), path.name
    suite = json.loads((CONFIG.expectations_dir / "records.json").read_text())
    suite["expectations"][1]["kwargs"]["min_value"] = {"$PARAMETER": "no_such_threshold"}
    (tmp_path / "records.json").write_text(json.dumps(suite))
    with pytest.raises(KeyError, match="no_such_threshold"):
        validate_records(records(), ValidationConfig(expectations_dir=tmp_path), TODAY)


# --- batch suite ------------------------------------------------------------------------------

GOOD_FACTS = BatchFacts(source_files=3, inputs=4, duplicates=1, quarantined=1)


def test_a_correct_batch_passes(gx) -> None:
    result = validate_batch(articles(records(record("a"), record("b"))), GOOD_FACTS, CONFIG)
    assert result.success and result.failed == []
    assert result.suite_name == "batch" and len(result.summary) == 8


@pytest.mark.parametrize(
    ("breakage", "facts", "failed"),
    [
        (lambda f: pl.concat([f, f.head(1)]), GOOD_FACTS, "expect_column_values_to_be_unique:article_id (observed 'a', 'a')"),
        (lambda f: f.with_columns(content_hash=pl.lit("h")), GOOD_FACTS, "expect_column_values_to_be_unique:content_hash (observed 'h', 'h')"),
        (lambda f: f.with_columns(article_id=pl.lit(None, pl.String)), GOOD_FACTS, "expect_column_values_to_not_be_null:article_id"),
        (lambda f: f.drop("byline"), GOOD_FACTS, "expect_table_columns_to_match_ordered_list"),
        (lambda f: f.drop("content_hash"), GOOD_FACTS, "expect_column_values_to_be_unique:content_hash (raised"),
        (lambda f: f.select(reversed(f.columns)), GOOD_FACTS, "expect_table_columns_to_match_ordered_list"),
        (lambda f: f.with_columns(pl.col("word_count").cast(pl.Int64)), GOOD_FACTS, "expect_column_values_to_be_in_set:schema"),
        (lambda f: f.clear(), GOOD_FACTS, "expect_column_values_to_be_between:articles (observed 0)"),
        (lambda f: f, BatchFacts(3, 4, duplicates=0, quarantined=3), "expect_column_values_to_be_between:quarantine_share (observed 0.75)"),
        (lambda f: f, BatchFacts(3, 10, duplicates=10, quarantined=0), "expect_column_values_to_be_between:duplicate_share (observed 1)"),
    ],
)
def test_a_broken_batch_fails_naming_the_expectation(gx, breakage, facts: BatchFacts, failed: str) -> None:
    result = validate_batch(breakage(articles(records(record("a"), record("b")))), facts, CONFIG)
    assert not result.success
    assert [f for f in result.failed if f.startswith(failed)], result.failed
    assert not result.summary[failed.split(" ")[0]]["success"]


def test_schema_failure_shows_the_observed_types(gx) -> None:
    frame = articles(records(record("a"))).with_columns(pl.col("word_count").cast(pl.Int64))
    [failed] = validate_batch(frame, GOOD_FACTS, CONFIG).failed
    assert "word_count:Int64" in failed


def test_an_empty_run_passes_the_row_count_rule(gx) -> None:
    assert validate_batch(articles(records()), BatchFacts(0, 0, 0, 0), CONFIG).success


# --- suites on disk ---------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", [validate.RECORD_SUITE_FILE, validate.BATCH_SUITE_FILE])
def test_suites_round_trip_through_gx(gx, file_name: str) -> None:
    import great_expectations as gx_lib

    on_disk = json.loads((CONFIG.expectations_dir / file_name).read_text())
    round_tripped = json.loads(json.dumps(gx_lib.ExpectationSuite(**on_disk).to_json_dict()))
    substance = lambda suite: (suite["name"], [(e["type"], e["kwargs"], e["meta"]) for e in suite["expectations"]])  # noqa: E731
    assert substance(round_tripped) == substance(on_disk)
    names = [validate.expectation_name(e) for e in gx_lib.ExpectationSuite(**on_disk).expectation_configurations]
    assert len(names) == len(set(names)), "summary keys must be unique within a suite"


def test_record_rules_are_all_per_row() -> None:
    # A table-level rule in the record suite would have no rows to quarantine: its failure would pass everything.
    suite = json.loads((CONFIG.expectations_dir / validate.RECORD_SUITE_FILE).read_text())
    assert all(e["type"].startswith("expect_column_value") and "column" in e["kwargs"] for e in suite["expectations"])


def test_suite_version_is_a_content_hash(tmp_path: Path) -> None:
    source = CONFIG.expectations_dir / validate.RECORD_SUITE_FILE
    (tmp_path / "reformatted.json").write_text(json.dumps(json.loads(source.read_text())))
    assert validate.load_suite(tmp_path / "reformatted.json").version == validate.load_suite(source).version
    changed = json.loads(source.read_text()) | {"meta": {}}
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    assert validate.load_suite(tmp_path / "changed.json").version != validate.load_suite(source).version


# --- Data Docs and runtime hygiene ------------------------------------------------------------


def test_data_docs_site_names_the_suites(gx, tmp_path: Path) -> None:
    record_result = validate_records(records(record("a"), record("b", word_count=3)), CONFIG, TODAY)
    batch_result = validate_batch(articles(record_result.passed), GOOD_FACTS, CONFIG)
    index = build_data_docs(record_result, batch_result, tmp_path / "docs")
    html = index.read_text()
    assert index == tmp_path / "docs" / "index.html"
    assert all(name in html for name in ("records", "batch.articles", "batch.facts"))
    assert len(list((tmp_path / "docs" / "validations").rglob("*.html"))) == 3


def test_validation_needs_no_network_and_prints_no_progress_bars(gx, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    validate._batch_definition.cache_clear()  # build a fresh context under the guard, too
    validate_records(records(record("a")), CONFIG, TODAY)
    validate_batch(articles(records(record("a"))), GOOD_FACTS, CONFIG)
    assert capfd.readouterr().err == ""


def test_gx_does_not_fingerprint_batches(gx) -> None:
    # The fingerprint was 75% of a 1M-row validation; if GX renames its size threshold, this fails.
    [(_, result)] = validate_records(records(record("a")), CONFIG, TODAY).gx_results
    assert "pandas_data_fingerprint" not in result.meta["batch_markers"]


def test_importing_the_module_does_not_import_great_expectations() -> None:
    code = "import sys, tasks.validate; assert 'great_expectations' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
