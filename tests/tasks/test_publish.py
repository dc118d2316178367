import json
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from tasks.config import DedupConfig, PublishConfig, S3Config
from tasks.dedup import FEATURE_VERSION, INDEX_DATASET, index_rows, load_index
from tasks.errors import PipelineError
from tasks.publish import (
    articles_and_duplicates,
    check_rerun,
    expire_reports,
    lock_key,
    manifest_key,
    parquet_bytes,
    partition_lock,
    publish_partition,
    read_manifest,
)
from tasks.schema import ARTICLES, DUPLICATES, QUARANTINE, RECORDS
from tasks.storage import LocalStorage, open_storage

DAY = date(2025, 8, 24)


def frames(n_articles: int) -> dict[str, pl.DataFrame]:
    return {
        "articles": pl.DataFrame({"article_id": [f"a{i}" for i in range(n_articles)]}).with_columns(
            [pl.lit(None).cast(t).alias(c) for c, t in ARTICLES.items() if c != "article_id"]
        ).select(list(ARTICLES)),
        "duplicates": pl.DataFrame(schema=DUPLICATES),
        "quarantine": pl.DataFrame(schema=QUARANTINE),
    }


def test_rerun_replaces_the_partition_and_leaves_others(tmp_path):
    storage = LocalStorage(tmp_path)
    publish_partition(storage, date(2025, 8, 23), "r0", frames(1), {"run_id": "r0"})
    publish_partition(storage, DAY, "r1", frames(3), {"run_id": "r1"})
    committed = publish_partition(storage, DAY, "r2", frames(2), {"run_id": "r2"})

    rows = pl.scan_parquet(tmp_path / "articles" / "**" / "*.parquet", hive_partitioning=True).collect()
    assert rows.group_by("ingest_date").len().sort("ingest_date")["len"].to_list() == [1, 2]
    keys = sorted(o.key for o in storage.list() if o.key.startswith("articles/ingest_date=2025-08-24"))
    assert keys == ["articles/ingest_date=2025-08-24/part-r2.parquet"]
    assert read_manifest(storage, DAY)["run_id"] == "r2"
    assert committed["files"]["articles"].endswith("part-r2.parquet")
    assert json.loads(storage.read(manifest_key(DAY)))["manifest_uri"] == storage.uri(manifest_key(DAY))


def test_articles_and_duplicates_split_on_verdicts():
    records = pl.DataFrame(
        {"article_id": ["a", "b"], "body": ["x", "y"], "word_count": [1, 1]}, schema_overrides={"word_count": pl.Int32}
    ).with_columns([pl.lit(None).cast(t).alias(c) for c, t in RECORDS.items() if c not in {"article_id", "body", "word_count"}])
    verdicts = pl.DataFrame(
        {"article_id": ["a", "b"], "cluster_id": ["a", "a"], "duplicate_of": [None, "a"], "similarity": [None, 0.9], "tier": [None, "near_copy"]}
    )
    articles, duplicates = articles_and_duplicates(records, verdicts, "run", datetime(2025, 1, 1, tzinfo=UTC))
    assert articles.schema == ARTICLES and articles["article_id"].to_list() == ["a"]
    assert duplicates.schema == DUPLICATES and duplicates.select("duplicate_of", "similarity").row(0) == ("a", 0.9)


def test_debris_of_a_crashed_publish_is_invisible_then_cleaned(tmp_path):
    storage = LocalStorage(tmp_path)
    publish_partition(storage, DAY, "r1", frames(3), {"run_id": "r1"})
    # A run that died: one file staged, one already moved into the partition, no manifest written.
    storage.write(f"_staging/ingest_date={DAY}/dead/articles.parquet", b"half")
    storage.write(f"articles/ingest_date={DAY}/part-dead.parquet", parquet_bytes(frames(9)["articles"]))
    assert read_manifest(storage, DAY)["keys"]["articles"].endswith("part-r1.parquet")

    publish_partition(storage, DAY, "r2", frames(2), {"run_id": "r2"})
    assert sorted(o.key for o in storage.list()) == [
        f"_manifests/ingest_date={DAY}.json",
        f"articles/ingest_date={DAY}/part-r2.parquet",
        f"duplicates/ingest_date={DAY}/part-r2.parquet",
        f"quarantine/ingest_date={DAY}/part-r2.parquet",
    ]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_one_run_per_date_at_a_time(where, tmp_path, request):
    if where == "s3":
        storage = open_storage(f"s3://{request.getfixturevalue('bucket')}/lake", S3Config())
    else:
        storage = LocalStorage(tmp_path)
    with partition_lock(storage, DAY, "first", timedelta(hours=1)):
        with pytest.raises(PipelineError, match="being published by run first.*refusing to run it twice"):
            with partition_lock(storage, DAY, "second", timedelta(hours=1)):
                pass
        with partition_lock(storage, date(2025, 8, 25), "other-date", timedelta(hours=1)):
            pass  # other dates are independent
    with partition_lock(storage, DAY, "third", timedelta(hours=1)):
        pass  # released after the block
    assert not storage.exists(lock_key(DAY))


def test_a_stale_lock_of_a_dead_run_is_broken(tmp_path):
    storage = LocalStorage(tmp_path)
    old = (datetime.now(UTC) - timedelta(hours=7)).isoformat()
    storage.write(lock_key(DAY), json.dumps({"run_id": "dead", "acquired_at": old}).encode())
    with partition_lock(storage, DAY, "alive", timedelta(hours=6)):
        assert json.loads(storage.read(lock_key(DAY)))["run_id"] == "alive"


def test_index_rows_of_an_older_feature_version_are_rebuilt_from_the_published_articles(tmp_path):
    storage = LocalStorage(tmp_path)
    articles = frames(2)["articles"].with_columns(
        body=pl.Series(["the tokyo summit ended with a joint statement on trade", "rain is expected across the region"]),
        word_count=pl.Series([10, 6], dtype=ARTICLES["word_count"]),
        url=pl.Series(["https://www.example.com/summit", "https://news.example.org/rain"]),  # rebuilt rows keep their site
    )
    current = index_rows(articles, DedupConfig())
    old = current.with_columns(feature_version=pl.lit("0"), near_copy_features=pl.lit([1, 2, 3], pl.List(pl.UInt32)))
    publish_partition(storage, DAY - timedelta(days=2), "r0", {"articles": articles, INDEX_DATASET: old}, {"run_id": "r0"})
    publish_partition(storage, DAY - timedelta(days=1), "r1", {"articles": articles, INDEX_DATASET: current}, {"run_id": "r1"})

    index, rebuilt = load_index(storage, DAY, 30, DedupConfig())

    assert rebuilt == [DAY - timedelta(days=2)]
    assert index.height == 4 and set(index["feature_version"]) == {FEATURE_VERSION}
    assert index.head(2).equals(current) and index.tail(2).equals(current)
    assert load_index(storage, DAY - timedelta(days=2), 30, DedupConfig()) == (None, [])  # nothing before it


def test_a_rerun_with_far_fewer_inputs_than_published_is_refused():
    published = {"run_id": "good", "counts": {"inputs": 10}}
    config = PublishConfig()
    check_rerun(published, 5, DAY, config, allow_shrink=False)  # half is enough at the default 0.5
    check_rerun(None, 0, DAY, config, allow_shrink=False)  # nothing published yet
    check_rerun({"run_id": "e", "counts": {"inputs": 0}}, 0, DAY, config, allow_shrink=False)
    check_rerun(published, 1, DAY, config, allow_shrink=True)
    with pytest.raises(PipelineError, match="this run has 4 inputs, the published partition \\(run good\\) has 10"):
        check_rerun(published, 4, DAY, config, allow_shrink=False)


def test_data_docs_older_than_the_retention_are_deleted_whole(tmp_path):
    import os

    storage = LocalStorage(tmp_path)
    now = datetime.now(UTC)
    for run, age_days in (("old", 40), ("recent", 2)):
        for name in ("index.html", "validations/x.html"):
            storage.write(f"_reports/data_docs/{run}/{name}", b"<html/>")
            stamp = (now - timedelta(days=age_days)).timestamp()
            os.utime(tmp_path / f"_reports/data_docs/{run}/{name}", (stamp, stamp))
    storage.write("articles/ingest_date=2020-01-01/part-old.parquet", b"x")  # data is never expired

    assert expire_reports(storage, 30, now) == ["old"]
    assert [o.key for o in storage.list("_reports")] == [
        "_reports/data_docs/recent/index.html", "_reports/data_docs/recent/validations/x.html",
    ]
    assert storage.exists("articles/ingest_date=2020-01-01/part-old.parquet")
