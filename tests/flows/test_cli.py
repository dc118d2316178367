"""The cleanwire command: exit codes and one-paragraph messages, never tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from flows.cli import main, parse_overrides
from tasks.config import load_settings
from tasks.errors import UsageError

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_run_prints_a_summary_and_exits_zero(seeds_dir, tmp_path, capsys):
    code = main(["run", "--source", str(seeds_dir), "--dest", str(tmp_path / "lake"), "--date", "2025-08-24"])
    out = capsys.readouterr().out
    assert code == 0
    assert "5 inputs -> 4 articles, 1 duplicates, 0 quarantined" in out

    # explain: the seed rewrite, its kept article, the tier and the names they share.
    (dropped,) = pl.read_parquet(tmp_path / "lake" / "duplicates", hive_partitioning=True).iter_rows(named=True)
    assert main(["explain", str(tmp_path / "lake"), "--article", dropped["article_id"], "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matched"]["article_id"] == dropped["duplicate_of"] and report["tier"] == "rewrite"
    assert report["similarity"] == dropped["similarity"] and {"ishiba", "tokyo"} <= set(report["evidence"]["shared_names"])
    assert report["evidence"]["rewrite"]["names_jaccard"] >= 0.35
    assert main(["explain", str(tmp_path / "lake"), "--article", dropped["article_id"]]) == 0
    assert "tier     rewrite" in capsys.readouterr().out
    assert main(["explain", str(tmp_path / "lake"), "--article", "no-such-id"]) == 1
    assert "no duplicate with article_id 'no-such-id'" in capsys.readouterr().err


def test_a_bad_date_is_a_clear_error(seeds_dir, tmp_path, capsys):
    code = main(["run", "--source", str(seeds_dir), "--dest", str(tmp_path), "--date", "24/08/2025"])
    err = capsys.readouterr().err
    assert code == 1
    assert "cleanwire: --date '24/08/2025' is not a date in YYYY-MM-DD form" in err


def test_a_missing_bucket_names_the_bucket(s3_endpoint, tmp_path, capsys):
    dest = tmp_path / "lake"
    code = main(["run", "--source", "s3://no-such-landing-bucket/x/", "--dest", str(dest), "--set", "s3.max_attempts=1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cleanwire: source s3://no-such-landing-bucket/x/ does not exist" in err
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in err
    assert not dest.exists()  # nothing written


def test_overrides_parse_into_nested_settings():
    assert parse_overrides(["dedup.near_copy_threshold=0.5", "read.max_file_bytes=10"]) == {
        "dedup": {"near_copy_threshold": "0.5"},
        "read": {"max_file_bytes": "10"},
    }
    with pytest.raises(UsageError, match="SECTION.FIELD=VALUE"):
        parse_overrides(["nonsense"])


def test_list_settings_take_a_json_array_or_comma_separated_items():
    assert parse_overrides(["parse.date_languages=en, it"]) == {"parse": {"date_languages": ["en", "it"]}}
    assert parse_overrides(['parse.date_languages=["en"]']) == {"parse": {"date_languages": ["en"]}}
    assert parse_overrides(["parse.date_languages="]) == {"parse": {"date_languages": []}}
    assert load_settings(parse_overrides(["parse.date_languages=en,it"])).parse.date_languages == ("en", "it")
    with pytest.raises(UsageError, match="not a JSON array"):
        parse_overrides(["parse.date_languages=[en"])
    with pytest.raises(UsageError, match="date_languages"):
        parse_overrides(["parse.date_languages=english"])  # each item is still checked


def test_dedup_command_deduplicates_any_parquet_file(tmp_path, capsys):
    import polars as pl

    from tasks.clean import clean_text

    seeds = Path(__file__).resolve().parents[2] / "seeds"
    texts = {p.stem: clean_text(p.read_text()).body for p in sorted(seeds.glob("*.txt"))}
    table = pl.DataFrame({"doc": list(texts), "content": list(texts.values()), "extra": range(len(texts))})
    table = table.with_columns(when=pl.when(pl.col("doc").str.starts_with("004")).then(pl.date(2025, 8, 23)))
    table.write_parquet(tmp_path / "in.parquet")

    args = ["dedup", str(tmp_path / "in.parquet"), "--text-column", "content", "--id-column", "doc"]
    assert main([*args, "--date-column", "when", "--output", str(tmp_path / "out.parquet")]) == 0
    assert "5 rows, 1 duplicates in 1 clusters" in capsys.readouterr().out
    out = pl.read_parquet(tmp_path / "out.parquet")
    assert out.columns == ["doc", "content", "extra", "when", "cluster_id", "duplicate_of", "similarity"]
    assert out["doc"].to_list() == list(texts)  # every row back, in order
    (dup,) = out.filter(pl.col("duplicate_of").is_not_null()).iter_rows(named=True)
    assert dup["doc"].startswith("001") and dup["duplicate_of"].startswith("004")

    assert main([*args, "--output", str(tmp_path / "o2.parquet"), "--rewrite-threshold", "0.99"]) == 0
    assert "0 duplicates" in capsys.readouterr().out

    # The rewrite pair's pages on one site are two stories of that site; on two sites, a rewrite.
    for hosts, found in ((("https://www.news.example/a", "https://news.example/b"), 0), (("https://one.example/a", "https://two.example/b"), 1)):
        urls = table.with_columns(link=pl.when(pl.col("doc").str.starts_with("001")).then(pl.lit(hosts[0])).otherwise(pl.lit(hosts[1])))
        urls.write_parquet(tmp_path / "urls.parquet")
        command = ["dedup", str(tmp_path / "urls.parquet"), "--text-column", "content", "--id-column", "doc", "--url-column", "link"]
        assert main([*command, "--output", str(tmp_path / "o3.parquet")]) == 0
        assert f"{found} duplicates" in capsys.readouterr().out

    assert main(["dedup", str(tmp_path / "in.parquet"), "--text-column", "nope", "--id-column", "doc", "--output", "x"]) == 1
    assert "no column 'nope'" in capsys.readouterr().err


def test_the_installed_command_prints_no_traceback_when_a_run_fails(s3_endpoint, seeds_dir):
    """Through the command, as a user runs it, with Prefect's own console logging: in-process tests
    cannot see that, because Prefect's console handler keeps the stream of the test that created it."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}  # the harness's server: no start-up cost
    command = [sys.executable, "-m", "flows.cli", "run", "--source", str(seeds_dir), "--dest", "s3://no-such-bucket-cli/x"]
    result = subprocess.run([*command, "--set", "s3.max_attempts=1"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "cleanwire: S3 PutObject on bucket 'no-such-bucket-cli' failed" in result.stderr
    assert "NoSuchBucket" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_temporary_server_that_does_not_start_in_time_is_a_clear_error(seeds_dir, tmp_path):
    """Without PREFECT_API_URL the run starts Prefect's temporary server and waits ops.embedded_server_start_s
    for it; a server that does not answer in time ends the run with advice, not a report of a bug."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "prefect")}
    command = [sys.executable, "-m", "flows.cli", "run", "--source", str(seeds_dir), "--dest", str(tmp_path / "lake")]
    result = subprocess.run(
        [*command, "--set", "ops.embedded_server_start_s=0.01"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 1
    assert "cleanwire: Prefect's temporary API server did not answer in time" in result.stderr
    assert "--set ops.embedded_server_start_s=" in result.stderr and "bug" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "lake").exists()


def test_clean_and_dedup_do_not_pay_for_great_expectations(tmp_path):
    seed = Path(__file__).resolve().parents[2] / "seeds" / "001_5677622f87daf84b.txt"
    code = (
        "import sys; from flows.cli import main\n"
        f"assert main(['clean', {str(seed)!r}]) == 0\n"
        f"main(['dedup', {str(tmp_path / 'missing.parquet')!r}, '--text-column', 't', '--id-column', 'i', '--output', 'o'])\n"
        "assert 'great_expectations' not in sys.modules, 'GX was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_clean_shows_each_document_as_the_run_reads_it(tmp_path, capsys):
    from tests.scrapes import LIBRARY, html_page

    seed = Path(__file__).resolve().parents[2] / "seeds" / "001_5677622f87daf84b.txt"
    (tmp_path / "page.html").write_text(html_page(LIBRARY), encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")

    code = main(["clean", "--json", str(seed), str(tmp_path / "page.html"), str(tmp_path / "empty.txt")])
    out, err = capsys.readouterr()
    shown = {Path(row["file"]).name: row for row in map(json.loads, out.splitlines())}
    assert code == 1 and "empty.txt: empty_file" in err  # a rejected file is reported, like a run quarantines it
    assert {"line": 9, "rule": "hashtags", "text": "#PoliticsNews #WorldNews"} in shown[seed.name]["removed"]
    assert shown["page.html"]["title"] == LIBRARY.title  # the page's own metadata, extracted by trafilatura
    assert shown["page.html"]["body"] == LIBRARY.body
