"""An operator's slips never lose published data: a missing source, an empty or shrunken rerun,
unknown settings. Every run leaves a record, and the history lists it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from flows.daily import daily_flow
from tasks.errors import PipelineError, UsageError

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-08-24"


def run(source, dest, *flags: str) -> int:
    return main(["run", "--source", str(source), "--dest", str(dest), "--date", DAY, *flags])


def manifest(dest: Path) -> dict:
    return json.loads((dest / "_manifests" / f"ingest_date={DAY}.json").read_text())


@pytest.fixture
def published(seeds_dir, tmp_path) -> Path:
    """A destination with the seeds' partition of DAY published (5 inputs, 4 articles)."""
    dest = tmp_path / "lake"
    daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY, run_id="good")
    return dest


def test_a_missing_source_is_a_usage_error_that_writes_nothing(published, tmp_path, capsys):
    before = sorted(p.relative_to(published) for p in published.rglob("*"))
    typo = tmp_path / "seedz"

    assert run(typo, published) == 2
    err = capsys.readouterr().err
    assert f"source {typo} does not exist" in err and "Traceback" not in err
    assert sorted(p.relative_to(published) for p in published.rglob("*")) == before  # not even a run record
    assert manifest(published)["counts"]["articles"] == 4

    fresh = tmp_path / "fresh-lake"
    assert run(typo, fresh) == 2
    assert not fresh.exists()


def test_a_missing_s3_prefix_is_a_usage_error_but_an_empty_day_beside_others_is_no_input(s3_client, bucket, tmp_path, seeds_dir):
    s3_client.upload_file(str(next(seeds_dir.iterdir())), bucket, "scrapes/2025-08-23/a.txt")
    with pytest.raises(UsageError, match=f"source s3://{bucket}/scrapez/{DAY}/ does not exist"):
        daily_flow(source=f"s3://{bucket}/scrapez/{{date}}/", dest=str(tmp_path / "lake"), date=DAY)
    # The day's prefix is empty, but its parent holds other days: an empty day, published as such.
    committed = daily_flow(source=f"s3://{bucket}/scrapes/{{date}}/", dest=str(tmp_path / "lake"), date=DAY)
    assert committed["counts"]["inputs"] == 0


def test_an_empty_source_keeps_a_published_partition_unless_allowed(published, tmp_path, capsys):
    empty = tmp_path / "empty-day"
    empty.mkdir()

    assert run(empty, published) == 0
    out = capsys.readouterr().out
    assert "no input under" in out and "was kept" in out and "--allow-empty" in out
    assert manifest(published)["run_id"] == "good"
    assert len(list((published / "articles" / f"ingest_date={DAY}").iterdir())) == 1

    assert run(empty, published, "--allow-empty", "--run-id", "emptied") == 0
    assert manifest(published)["run_id"] == "emptied"
    assert manifest(published)["counts"]["inputs"] == 0


def test_an_empty_source_with_nothing_published_publishes_an_empty_partition(tmp_path):
    empty = tmp_path / "empty-day"
    empty.mkdir()
    committed = daily_flow(source=str(empty), dest=str(tmp_path / "lake"), date=DAY)
    assert committed["counts"] == {"inputs": 0, "articles": 0, "duplicates": 0, "quarantine": 0}


def test_a_rerun_that_would_shrink_the_partition_sharply_is_refused_unless_forced(published, seeds_dir, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in sorted(p.name for p in seeds_dir.iterdir())[:2]:
        shutil.copy(seeds_dir / name, partial / name)

    assert run(partial, published, "--run-id", "shrunk") == 1
    err = capsys.readouterr().err
    assert "this run has 2 inputs, the published partition (run good) has 5" in err
    assert "publish.min_rerun_ratio=0.5" in err and "--force" in err
    assert manifest(published)["run_id"] == "good"

    # The ratio is a setting; at 0.4 two of five inputs are enough.
    assert run(partial, published, "--run-id", "lower-ratio", "--set", "publish.min_rerun_ratio=0.4") == 0
    assert manifest(published)["counts"]["inputs"] == 2
    shutil.rmtree(published)
    daily_flow(source=str(seeds_dir), dest=str(published), date=DAY, run_id="good")
    assert run(partial, published, "--run-id", "forced", "--force") == 0
    assert manifest(published)["run_id"] == "forced"


def test_a_backfill_date_that_would_shrink_fails_unless_allowed(tmp_path, seeds_dir, capsys):
    landing = tmp_path / "landing"
    shutil.copytree(seeds_dir, landing / DAY)
    dest = tmp_path / "lake"
    daily_flow(source=str(landing / DAY), dest=str(dest), date=DAY, run_id="good")
    for path in sorted((landing / DAY).iterdir())[1:]:
        path.unlink()  # the landing zone's lifecycle rule expired four of the five scrapes

    args = ["backfill", "--source", f"{landing}/{{date}}", "--dest", str(dest), "--start", DAY, "--end", DAY, "--force"]
    assert main(args) == 1
    assert "this run has 1 inputs" in capsys.readouterr().out
    assert manifest(dest)["run_id"] == "good"
    assert main([*args, "--allow-shrink"]) == 0
    assert manifest(dest)["counts"]["inputs"] == 1


def test_a_backfill_whose_source_root_does_not_exist_is_a_usage_error(tmp_path, capsys):
    args = ["backfill", "--source", f"{tmp_path}/nope/{{date}}", "--dest", str(tmp_path / "lake")]
    assert main([*args, "--start", DAY, "--end", DAY]) == 2
    assert f"source {tmp_path}/nope does not exist" in capsys.readouterr().err


def test_unknown_settings_are_refused_with_the_valid_names(seeds_dir, tmp_path, capsys, monkeypatch):
    dest = tmp_path / "lake"
    assert run(seeds_dir, dest, "--set", "dedup.threshold=0.4") == 2
    err = capsys.readouterr().err
    assert "unknown setting 'dedup.threshold'" in err and "near_copy_threshold" in err
    assert not dest.exists()

    monkeypatch.setenv("CLEANWIRE_DEDUP__THRESHOLD", "0.4")
    assert run(seeds_dir, dest) == 2
    assert "unknown setting 'dedup.threshold'" in capsys.readouterr().err
    monkeypatch.delenv("CLEANWIRE_DEDUP__THRESHOLD")
    monkeypatch.setenv("CLEANWIRE_DEDUPE__NEAR_COPY_THRESHOLD", "0.4")
    assert run(seeds_dir, dest) == 2
    assert "CLEANWIRE_DEDUPE__NEAR_COPY_THRESHOLD names no settings section" in capsys.readouterr().err
    monkeypatch.delenv("CLEANWIRE_DEDUPE__NEAR_COPY_THRESHOLD")

    # A deployment passes its overrides as a flow parameter: the flow run fails with the same message.
    with pytest.raises(UsageError, match="unknown setting 'validation.min_words'.*min_word_count"):
        daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY, overrides={"validation": {"min_words": 10}})
    assert not dest.exists()


def test_every_run_leaves_a_record_and_history_lists_them(published, seeds_dir, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(next(seeds_dir.iterdir()), partial)
    with pytest.raises(PipelineError):
        daily_flow(source=str(partial), dest=str(published), date=DAY, run_id="refused")
    daily_flow(source=str(seeds_dir), dest=str(published), date="2025-08-25", run_id="next-day")

    records = {p.stem: json.loads(p.read_text()) for p in (published / "_runs").iterdir()}
    assert set(records) == {"good", "refused", "next-day"}
    assert records["good"]["outcome"] == "published" and records["good"]["counts"]["articles"] == 4
    assert records["good"]["files"] == manifest(published)["files"]  # the manifest it committed
    assert records["refused"]["outcome"] == "failed" and "this run has 1 inputs" in records["refused"]["error"]
    assert all(r["finished_at"] >= r["started_at"] for r in records.values())

    assert main(["history", str(published)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["good", "refused", "next-day"]
    assert "4 articles" in lines[0] and "failed" in lines[1]
    assert main(["history", str(published), "--date", DAY, "--json"]) == 0
    assert [json.loads(line)["run_id"] for line in capsys.readouterr().out.splitlines()] == ["good", "refused"]
