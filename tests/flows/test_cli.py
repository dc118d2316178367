"""The cleanwire command: exit codes and one-paragraph messages, never tracebacks."""

from __future__ import annotations

import pytest

from flows.cli import main, parse_overrides

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_run_prints_a_summary_and_exits_zero(seeds_dir, tmp_path, capsys):
    code = main(["run", "--source", str(seeds_dir), "--dest", str(tmp_path / "lake"), "--date", "2025-08-24"])
    out = capsys.readouterr().out
    assert code == 0
    assert "5 inputs -> 4 articles, 1 duplicates, 0 quarantined" in out


def test_a_bad_date_is_a_clear_error(seeds_dir, tmp_path, capsys):
    code = main(["run", "--source", str(seeds_dir), "--dest", str(tmp_path), "--date", "24/08/2025"])
    err = capsys.readouterr().err
    assert code == 1
    assert "is not a date in YYYY-MM-DD form" in err and "Traceback" not in err


def test_a_missing_bucket_names_the_bucket(s3_endpoint, tmp_path, capsys):
    code = main(["run", "--source", "s3://no-such-landing-bucket/x/", "--dest", str(tmp_path), "--set", "s3.max_attempts=1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no-such-landing-bucket" in err and "NoSuchBucket" in err and "Traceback" not in err


def test_overrides_parse_into_nested_settings():
    assert parse_overrides(["dedup.threshold=0.5", "read.max_file_bytes=10"]) == {
        "dedup": {"threshold": "0.5"},
        "read": {"max_file_bytes": "10"},
    }
    with pytest.raises(SystemExit, match="SECTION.FIELD=VALUE"):
        parse_overrides(["nonsense"])
