"""Backfills over real Prefect flow runs, scheduled-date resolution, retries against a faulty S3 endpoint."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.backfill import current_versions, dates_between, is_up_to_date
from flows.cli import main
from flows.daily import resolve_date
from tasks.clean import clean_task
from tasks.config import Settings
from tasks.dedup import dedup_task
from tasks.errors import PipelineError
from tasks.publish import publish_task
from tasks.read import list_inputs_task, read_inputs_task
from tasks.validate import validate_batch_task, validate_records_task
from tests.s3_faults import FaultyS3Proxy, on_requests

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
# After every seed's published date, so no seed is quarantined as published in the future.
DAY_1, DAY_2, DAY_3, DAY_4 = "2025-09-01", "2025-09-02", "2025-09-03", "2025-09-04"
DAYS = {
    DAY_1: ["000_9338658408113c0f.txt"],
    DAY_2: ["002_25261fa121ad078b.txt", "003_25a36b2e330e5d01.txt"],
    DAY_3: ["004_ccae10307af83746.txt", "001_5677622f87daf84b.txt"],  # 001 rewrites 004
}


def landing_with(tmp_path: Path, days: dict[str, list[str]]) -> Path:
    landing = tmp_path / "landing"
    for day, names in days.items():
        (landing / day).mkdir(parents=True)
        for name in names:
            shutil.copy(SEEDS / name, landing / day / name)
    return landing


def manifest(dest: Path, day: str) -> dict:
    return json.loads((dest / "_manifests" / f"ingest_date={day}.json").read_text())


def backfill(source: str, dest: str, start: str, end: str, *flags: str) -> int:
    return main(["backfill", "--source", source, "--dest", dest, "--start", start, "--end", end, *flags])


def table_rows(output: str) -> dict[str, str]:
    """ingest date -> outcome, from the CLI's closing table."""
    rows = [line.split(None, 2) for line in output.splitlines() if line[:4].isdigit()]
    return {row[0]: row[1] if row[1] != "no" else "no input" for row in rows}


# --- pure ------------------------------------------------------------------------------------------


def test_dates_between_is_inclusive_and_rejects_a_reversed_range():
    assert dates_between(date(2025, 2, 27), date(2025, 3, 1)) == [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 1)]
    with pytest.raises(PipelineError):
        dates_between(date(2025, 3, 1), date(2025, 2, 27))


def test_a_partition_is_up_to_date_only_with_every_current_version_and_some_inputs():
    current = current_versions(Settings())
    assert set(current["suites"]) == {"records", "batch"}
    published = {**current, "counts": {"inputs": 5}}
    assert is_up_to_date(published, current)
    assert not is_up_to_date(None, current)
    assert not is_up_to_date({**published, "counts": {"inputs": 0}}, current)
    assert not is_up_to_date({**published, "pipeline_version": "0.0.1"}, current)
    other_suites = {name: "0" * 16 for name in current["suites"]}
    assert not is_up_to_date({**published, "suites": other_suites}, current)


def test_a_scheduled_run_defaults_to_its_scheduled_date_in_the_schedule_time_zone(monkeypatch):
    import prefect.runtime.flow_run

    # What a deployment's flow run sees (Prefect's runtime overrides: env var, module attribute).
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", "6d3c3a3e-0000-4000-8000-000000000000")
    scheduled = datetime(2025, 8, 24, 23, 30, tzinfo=UTC)
    monkeypatch.setattr(prefect.runtime.flow_run, "scheduled_start_time", scheduled, raising=False)
    assert resolve_date(None, "UTC") == date(2025, 8, 24)
    assert resolve_date(None, "Europe/London") == date(2025, 8, 25)  # 00:30 BST
    assert resolve_date(None, "America/New_York") == date(2025, 8, 24)
    assert resolve_date("2025-01-02", "Europe/London") == date(2025, 1, 2)


def test_an_ad_hoc_run_defaults_to_today_in_utc():
    assert resolve_date(None, "Pacific/Kiritimati") == datetime.now(UTC).date()


def test_only_storage_tasks_retry():
    for storage_task in (list_inputs_task, read_inputs_task, publish_task):
        assert storage_task.retries >= 3 and storage_task.retry_jitter_factor, storage_task.name
    # Pure steps fail the same way every time: retrying them only delays the error.
    for pure_task in (clean_task, validate_records_task, dedup_task, validate_batch_task):
        assert not pure_task.retries, pure_task.name


# --- flows -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_a_rerun_reads_unchanged_objects_from_the_cache_and_changed_ones_again(tmp_path):
    from flows.daily import daily_flow

    landing, cache = landing_with(tmp_path, DAYS), tmp_path / "cache"
    overrides = {"ops": {"cache_dir": str(cache), "read_chunk_files": 1}}  # one cache entry per object

    def run() -> dict[str, int]:
        daily_flow(source=str(landing / DAY_2), dest=str(tmp_path / "lake"), date=DAY_2, overrides=overrides)
        return {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}

    first = run()
    assert len(first) == 2 and all(name.startswith("read-") for name in first)
    assert run() == first  # both chunks served from the cache, nothing rewritten
    changed = landing / DAY_2 / DAYS[DAY_2][0]
    changed.write_text(changed.read_text() + "\nOne more paragraph of the article.\n")
    third = run()
    assert len(third) == 3 and {name: third[name] for name in first} == first


@pytest.mark.usefixtures("prefect_harness")
def test_backfill_builds_dates_in_order_skips_them_then_rebuilds_one_with_force(tmp_path, capsys):
    source, dest = str(landing_with(tmp_path, DAYS)) + "/{date}", tmp_path / "lake"

    assert backfill(source, str(dest), DAY_1, DAY_3) == 0
    assert table_rows(capsys.readouterr().out) == {DAY_1: "published", DAY_2: "published", DAY_3: "published"}
    first = {day: manifest(dest, day) for day in DAYS}
    assert [first[day]["started_at"] for day in DAYS] == sorted(first[day]["started_at"] for day in DAYS)
    assert first[DAY_2]["counts"] == {"inputs": 2, "articles": 2, "duplicates": 0, "quarantine": 0}
    assert first[DAY_3]["counts"] == {"inputs": 2, "articles": 1, "duplicates": 1, "quarantine": 0}

    assert backfill(source, str(dest), DAY_1, DAY_3) == 0
    assert table_rows(capsys.readouterr().out) == {DAY_1: "skipped", DAY_2: "skipped", DAY_3: "skipped"}
    assert {day: manifest(dest, day)["run_id"] for day in DAYS} == {day: first[day]["run_id"] for day in DAYS}

    assert backfill(source, str(dest), DAY_2, DAY_2, "--force") == 0
    assert table_rows(capsys.readouterr().out) == {DAY_2: "published"}
    assert manifest(dest, DAY_2)["run_id"] != first[DAY_2]["run_id"]
    assert manifest(dest, DAY_2)["counts"] == first[DAY_2]["counts"]
    assert manifest(dest, DAY_3)["run_id"] == first[DAY_3]["run_id"]


@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_date_does_not_stop_the_others_and_fails_the_exit_code(tmp_path, capsys):
    landing = landing_with(tmp_path, {DAY_1: DAYS[DAY_1], DAY_3: DAYS[DAY_2]})
    broken = landing / DAY_2  # nothing but quarantine: the batch suite refuses to publish it
    broken.mkdir()
    (broken / "empty.txt").write_bytes(b"")
    (broken / "menu.txt").write_text("Home\nNews\nSport\nWeather\n")
    dest = tmp_path / "lake"

    # Two at a time: the parallel path, with dates whose dedup indexes do not interact.
    assert backfill(str(landing) + "/{date}", str(dest), DAY_1, DAY_4, "--max-parallel", "2") == 1
    out, err = capsys.readouterr()
    assert table_rows(out) == {DAY_1: "published", DAY_2: "failed", DAY_3: "published", DAY_4: "no input"}
    assert "batch expectations failed" in out and "1 of 4 dates failed" in err
    assert manifest(dest, DAY_3)["counts"]["articles"] == 2
    assert not (dest / "_manifests" / f"ingest_date={DAY_2}.json").exists()
    assert not (dest / "_manifests" / f"ingest_date={DAY_4}.json").exists()


@pytest.mark.usefixtures("prefect_harness")
def test_backfill_refuses_a_source_without_date_and_a_malformed_date(tmp_path, capsys):
    dest = str(tmp_path / "lake")
    assert backfill(str(tmp_path), dest, DAY_1, DAY_2) == 1
    assert "has no {date}" in capsys.readouterr().err
    assert backfill(str(tmp_path) + "/{date}", dest, "2025-13-01", DAY_2) == 1
    assert "--start '2025-13-01' is not a date in YYYY-MM-DD form" in capsys.readouterr().err


@pytest.mark.usefixtures("prefect_harness")
def test_transient_s3_failures_are_retried_and_the_backfill_succeeds(s3_client, s3_endpoint, capsys):
    s3_client.create_bucket(Bucket="landing-faulty")
    s3_client.create_bucket(Bucket="lake-faulty")
    for name in DAYS[DAY_2]:
        s3_client.upload_file(str(SEEDS / name), "landing-faulty", f"scrapes/{DAY_2}/{name}")

    # Three requests in a row fail (botocore retries each with backoff), then two more further on.
    with FaultyS3Proxy(s3_endpoint, on_requests({2, 3, 4, 9, 10})) as proxy:
        code = backfill(
            "s3://landing-faulty/scrapes/{date}", "s3://lake-faulty/cleanwire", DAY_2, DAY_2,
            "--set", f"s3.endpoint_url={proxy.url}",
        )
    assert code == 0, capsys.readouterr()
    assert table_rows(capsys.readouterr().out) == {DAY_2: "published"}
    assert proxy.failed == 5 and proxy.seen > 10
    committed = json.loads(
        s3_client.get_object(Bucket="lake-faulty", Key=f"cleanwire/_manifests/ingest_date={DAY_2}.json")["Body"].read()
    )
    assert committed["counts"] == {"inputs": 2, "articles": 2, "duplicates": 0, "quarantine": 0}


def test_a_changed_rule_or_threshold_makes_published_partitions_stale():
    baseline = current_versions(Settings())
    assert current_versions(Settings())["pipeline_version"] == baseline["pipeline_version"]  # deterministic
    for changed in ({"dedup": {"rewrite_threshold": 0.3}}, {"clean": {"teaser_min_chars": 151}}):
        assert current_versions(Settings(**changed))["pipeline_version"] != baseline["pipeline_version"]
    # Settings that do not shape the output (S3 access, scheduling) do not.
    assert current_versions(Settings(s3={"max_attempts": 3}, ops={"timezone": "Asia/Tokyo"})) == baseline
