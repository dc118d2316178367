import json
from datetime import UTC, date, datetime

import polars as pl

from tasks.publish import articles_and_duplicates, manifest_key, publish_partition, read_manifest
from tasks.schema import ARTICLES, DUPLICATES, QUARANTINE, RECORDS
from tasks.storage import LocalStorage

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
        {"article_id": ["a", "b"], "cluster_id": ["a", "a"], "duplicate_of": [None, "a"], "similarity": [None, 0.9]}
    )
    articles, duplicates = articles_and_duplicates(records, verdicts, "run", datetime(2025, 1, 1, tzinfo=UTC))
    assert articles.schema == ARTICLES and articles["article_id"].to_list() == ["a"]
    assert duplicates.schema == DUPLICATES and duplicates.select("duplicate_of", "similarity").row(0) == ("a", 0.9)
