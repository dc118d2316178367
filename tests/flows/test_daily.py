"""End to end: the seeds through the real Prefect flow, to a local folder and to S3 (moto server)."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from flows.daily import daily_flow, run_summary_markdown
from tasks.errors import PipelineError
from tasks.schema import ARTICLES, DUPLICATES, QUARANTINE

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-08-24"
SEED_000 = "000_9338658408113c0f.txt"
SEED_001 = "001_5677622f87daf84b.txt"
SEED_004 = "004_ccae10307af83746.txt"

NOISE = [
    "Photo: AFP", "LIMITS:", "DENIAL:", "COMMUNIST ALIGNMENT:", "Japan Today5 hours ago", "© KYODO",
    "Orange background", "Try Our AI Features", "No comments yet", "Related Articles", "DOWNLOAD THE APP",
    "Share This Post", "শেয়ার করুন", "Author:", "Note For Readers", "#PoliticsNews", "Filipino Catholics",
    "Cambodia’s government", "Tariff Talks Rescheduled", "Skymark", "app-storeplay-store",
]
KEPT = {
    SEED_000: [
        "South Korean President Lee Jae-myung, in his first full summit",
        "China’s growing assertiveness in the region.",
    ],
    "002_25261fa121ad078b.txt": [
        "Japanese Prime Minister Sanae Takaichi yesterday called on",
        "are like “neighbors sharing a front yard.”",
    ],
    "003_25a36b2e330e5d01.txt": [
        "Japanese Prime Minister Shigeru Ishiba and South Korean President Lee Jae Myung agreed Tuesday",
        "resumed reciprocal visits at the summit level in 2023.",
    ],
    SEED_004: [
        "Tokyo, August 23, 2025 – Japanese Prime Minister Shigeru Ishiba welcomed",
        "a point Trump has repeatedly pressed.",
    ],
}


def read_dataset(root, name: str, **kwargs) -> pl.DataFrame:
    return pl.scan_parquet(f"{root}/{name}/**/*.parquet", hive_partitioning=True, **kwargs).collect()


def by_file(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["source_uri"].rsplit("/", 1)[-1]: row for row in frame.iter_rows(named=True)}


def test_seeds_end_to_end_to_a_local_folder(seeds_dir, tmp_path):
    dest = tmp_path / "lake"
    manifest = daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY, run_id="seeds-1")

    assert manifest["counts"] == {"inputs": 5, "articles": 4, "duplicates": 1, "quarantine": 0}
    articles, duplicates = read_dataset(dest, "articles"), read_dataset(dest, "duplicates")
    quarantine = read_dataset(dest, "quarantine")
    assert articles.drop("ingest_date").schema == ARTICLES
    assert duplicates.drop("ingest_date").schema == DUPLICATES
    assert quarantine.drop("ingest_date").schema == QUARANTINE
    assert articles["ingest_date"].cast(pl.String).unique().to_list() == [DAY]

    kept = by_file(articles)
    assert set(kept) == set(KEPT)
    for name, snippets in KEPT.items():
        for snippet in snippets:
            assert snippet in kept[name]["body"], (name, snippet)
    for row in kept.values():
        for noise in NOISE:
            assert noise not in row["body"], (row["source_uri"], noise)
        assert row["word_count"] > 100 and row["run_id"] == "seeds-1" and row["cluster_id"]

    assert kept[SEED_004]["title"] == "Japan’s Ishiba Hosts South Korea’s Lee Ahead of Trump Summit"
    assert str(kept[SEED_004]["published_date"]) == "2025-08-23"
    assert kept["003_25a36b2e330e5d01.txt"]["title"] == "Japan, South Korea leaders vow to boost ties in 1st in-person meeting"

    (dropped,) = duplicates.iter_rows(named=True)
    assert dropped["source_uri"].endswith(SEED_001)
    assert dropped["duplicate_of"] == kept[SEED_004]["article_id"] == dropped["cluster_id"]
    assert 0 < dropped["similarity"] <= 1 and dropped["tier"] == "rewrite"
    assert "#PoliticsNews" not in dropped["body"]

    on_disk = json.loads((dest / "_manifests" / f"ingest_date={DAY}.json").read_text())
    assert on_disk["counts"] == manifest["counts"] and on_disk["schema_version"]
    assert set(on_disk["files"]) == {"articles", "duplicates", "quarantine", "_index"}
    assert on_disk["validation"]["passed"] is True
    docs_index = dest / "_reports" / "data_docs" / "seeds-1" / "index.html"
    assert on_disk["validation"]["data_docs"] == str(docs_index) and docs_index.is_file()
    assert set(on_disk["timings_seconds"]) == {"list", "read", "clean", "validate_records", "dedup", "validate_batch"}


def test_rerun_is_idempotent_and_a_second_date_adds_a_partition(seeds_dir, tmp_path):
    dest = tmp_path / "lake"
    first = daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY)
    ids_first = sorted(read_dataset(dest, "articles")["article_id"])
    second = daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY)
    assert first["run_id"] != second["run_id"]
    articles = read_dataset(dest, "articles")
    assert sorted(articles["article_id"]) == ids_first and articles.height == 4
    assert len(list((dest / "articles" / f"ingest_date={DAY}").iterdir())) == 1

    daily_flow(source=str(seeds_dir), dest=str(dest), date="2025-08-25")
    per_day = read_dataset(dest, "articles").group_by("ingest_date").len().sort("ingest_date")
    assert per_day["len"].to_list() == [4, 4]


@pytest.fixture
def day2(seeds_dir, tmp_path):
    """Splits the seeds over two days: 000 and 001 (the rewrite of 004) land a day later than the rest."""
    folder = tmp_path / "day2"
    folder.mkdir()
    for name in (SEED_000, SEED_001):
        (seeds_dir / name).rename(folder / name)
    return folder


def test_a_copy_arriving_on_a_later_day_is_a_duplicate_of_the_published_article(seeds_dir, day2, tmp_path):
    dest = tmp_path / "lake"
    daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY)
    manifest = daily_flow(source=str(day2), dest=str(dest), date="2025-08-25")

    assert manifest["counts"] == {"inputs": 2, "articles": 1, "duplicates": 1, "quarantine": 0}
    kept = by_file(read_dataset(dest, "articles"))
    assert set(kept) == set(KEPT)
    (dropped,) = read_dataset(dest, "duplicates").iter_rows(named=True)
    assert dropped["source_uri"] == str(day2 / SEED_001)
    assert dropped["duplicate_of"] == kept[SEED_004]["article_id"]

    # Re-running day 1 matches it neither against itself nor against the later day.
    again = daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY)
    assert again["counts"] == {"inputs": 3, "articles": 3, "duplicates": 0, "quarantine": 0}


def test_a_batch_that_breaks_the_contract_publishes_nothing(seeds_dir, tmp_path):
    dest = tmp_path / "lake"
    daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY, run_id="good")
    before = sorted(p.relative_to(dest) for p in dest.rglob("*.parquet"))

    with pytest.raises(PipelineError, match="batch expectations failed.*articles.*previous partition is untouched"):
        daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY, run_id="bad", overrides={"validation": {"min_articles": 10}})

    assert sorted(p.relative_to(dest) for p in dest.rglob("*.parquet")) == before
    assert json.loads((dest / "_manifests" / f"ingest_date={DAY}.json").read_text())["run_id"] == "good"
    assert (dest / "_reports" / "data_docs" / "bad" / "index.html").is_file()


def test_bad_inputs_are_quarantined_and_the_rest_published(seeds_dir, tmp_path):
    (seeds_dir / "empty.txt").write_bytes(b"")
    (seeds_dir / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)))
    (seeds_dir / "menu.txt").write_text("Home\nNews\nSport\nWeather\n")
    dest = tmp_path / "lake"
    manifest = daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY)

    assert manifest["counts"] == {"inputs": 8, "articles": 4, "duplicates": 1, "quarantine": 3}
    rows = by_file(read_dataset(dest, "quarantine"))
    assert rows["empty.txt"]["reasons"][0].startswith("empty_file")
    assert rows["photo.jpg"]["reasons"][0].startswith("not_text")
    assert rows["menu.txt"]["reasons"] == ["no_article_text"]
    assert rows["menu.txt"]["excerpt"].startswith("Home")


def test_seeds_from_s3_to_s3(seeds_dir, s3_client, s3_endpoint, caplog):
    s3_client.create_bucket(Bucket="landing")
    s3_client.create_bucket(Bucket="lake")
    for path in sorted(seeds_dir.iterdir()):
        s3_client.upload_file(str(path), "landing", f"scrapes/{DAY}/{path.name}")

    manifest = daily_flow(source="s3://landing/scrapes/{date}/", dest="s3://lake/cleanwire", date=DAY)

    assert manifest["counts"] == {"inputs": 5, "articles": 4, "duplicates": 1, "quarantine": 0}
    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket="lake")["Contents"])
    assert f"cleanwire/_manifests/ingest_date={DAY}.json" in keys
    assert any(k.startswith(f"cleanwire/articles/ingest_date={DAY}/") and k.endswith(".parquet") for k in keys)
    options = {"aws_endpoint_url": s3_endpoint, "aws_allow_http": "true", "aws_region": "us-east-1"}
    articles = read_dataset("s3://lake/cleanwire", "articles", storage_options=options)
    assert articles.height == 4
    assert all(uri.startswith(f"s3://landing/scrapes/{DAY}/") for uri in articles["source_uri"])
    duplicates = read_dataset("s3://lake/cleanwire", "duplicates", storage_options=options)
    assert duplicates["source_uri"].to_list() == [f"s3://landing/scrapes/{DAY}/{SEED_001}"]

    # Credentials never leak into what a run leaves behind.
    secrets = [os.environ["AWS_SECRET_ACCESS_KEY"], os.environ["AWS_ACCESS_KEY_ID"]]
    manifest_text = s3_client.get_object(Bucket="lake", Key=f"cleanwire/_manifests/ingest_date={DAY}.json")["Body"].read()
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in manifest_text.decode()
        assert secret not in run_summary_markdown(manifest)


def test_a_run_leaves_a_markdown_summary_artifact(seeds_dir, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    manifest = daily_flow(source=str(seeds_dir), dest=str(tmp_path / "lake"), date=DAY, run_id="artifact-1")
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["cleanwire-run-summary"])))
    (artifact,) = [a for a in artifacts if a.description == "artifact-1"]
    assert artifact.type == "markdown"
    assert "| 5 | 4 | 1 | 0 |" in artifact.data
    assert manifest["validation"]["data_docs"] in artifact.data
    assert "| records | expect_column_values_to_be_between:word_count | yes | 0 |" in artifact.data


def test_dates_run_out_of_order_only_see_earlier_dates_and_a_rerun_in_order_restores_the_result(seeds_dir, day2, tmp_path):
    dest = tmp_path / "lake"

    late_first = daily_flow(source=str(day2), dest=str(dest), date="2025-08-25")
    daily_flow(source=str(seeds_dir), dest=str(dest), date=DAY)
    # Day 2 ran before day 1 existed: its copy was published, and day 1 does not look ahead.
    assert late_first["counts"]["articles"] == 2
    assert read_dataset(dest, "duplicates").height == 0

    rerun = daily_flow(source=str(day2), dest=str(dest), date="2025-08-25")
    assert rerun["counts"] == {"inputs": 2, "articles": 1, "duplicates": 1, "quarantine": 0}
    assert read_dataset(dest, "articles").height == 4  # as if the days had run in order


def test_no_task_of_a_run_hashes_its_inputs(seeds_dir, tmp_path, monkeypatch):
    """Prefect's default cache policy pickles every input to hash it: for tasks handed the day's
    frames that costs time growing with the day (and polars' serialise can deadlock), so no task of a
    run may use it, whatever the size of what it is handed."""
    import prefect.cache_policies

    hashed: list[str] = []

    def record(self, task_ctx, inputs, flow_parameters, **kwargs):
        hashed.append(task_ctx.task.name)

    monkeypatch.setattr(prefect.cache_policies.Inputs, "compute_key", record)
    manifest = daily_flow(source=str(seeds_dir), dest=str(tmp_path / "lake"), date=DAY, run_id="no-hash")

    assert manifest["counts"]["articles"] == 4
    assert hashed == []


def test_publish_never_serialises_the_days_frames_nor_persists_them(tmp_path, monkeypatch):
    """The publish task's own overhead does not grow with the day: Prefect neither pickles the frames
    it is handed (to hash them, or to store them as a result) nor writes anything to result storage.
    Publishing a large partition with every way of serialising a frame disabled proves it."""
    import datetime as dt

    from prefect import flow
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from tasks.config import PublishConfig, S3Config
    from tasks.publish import publish_task

    rows = 200_000
    articles = pl.DataFrame(
        {"article_id": [f"a{i}" for i in range(rows)], "body": "A paragraph of an article.\n" * 8}
    ).with_columns(**{name: pl.lit(None).cast(dtype) for name, dtype in ARTICLES.items() if name not in ("article_id", "body")})
    frames = {"articles": articles.select(ARTICLES.names()), "duplicates": pl.DataFrame(schema=DUPLICATES)}
    serialised: list[str] = []

    def refuse(name):
        def serialise(self, *args, **kwargs):
            serialised.append(name)
            raise AssertionError(f"DataFrame.{name} called on a frame handed to the publish task")

        return serialise

    for name in ("__getstate__", "__reduce__", "__reduce_ex__", "serialize", "write_ipc"):
        monkeypatch.setattr(pl.DataFrame, name, refuse(name))

    @flow
    def publish_only() -> dict:
        lake = str(tmp_path / "lake")
        return publish_task(lake, dt.date(2025, 8, 24), "big-run", frames, {"run_id": "big-run"}, PublishConfig(), S3Config())

    results = tmp_path / "prefect-results"
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: results}):
        committed = publish_only()

    assert serialised == []
    assert pl.read_parquet(tmp_path / "lake" / committed["keys"]["articles"]).height == rows
    assert not results.exists() or not any(results.iterdir())
