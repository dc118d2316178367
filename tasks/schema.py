"""The published dataset contract: column names and types of the three datasets.

Bump ``SCHEMA_VERSION`` whenever a column is added, removed or changes type; the manifest records it
and downstream readers can refuse versions they do not know.
"""

from __future__ import annotations

import polars as pl

SCHEMA_VERSION = "3"  # 2 added record_locator, url, fetched_at; 3 added duplicates.tier

PARTITION_COLUMN = "ingest_date"

TIMESTAMP = pl.Datetime("us", "UTC")

ARTICLES = pl.Schema(
    {
        "article_id": pl.String,
        "source_uri": pl.String,
        "record_locator": pl.String,  # where in the source object (line:N, index:N, offset:N); null = the whole object
        "url": pl.String,  # the page URL the source states (WARC target, JSON field, canonical link)
        "fetched_at": TIMESTAMP,  # when the scraper fetched it, when the source says
        "title": pl.String,
        "published_date": pl.Date,
        "byline": pl.String,
        "language": pl.String,
        "body": pl.String,
        "word_count": pl.Int32,
        "content_hash": pl.String,
        "cluster_id": pl.String,
        "run_id": pl.String,
        "ingested_at": TIMESTAMP,
    }
)

DUPLICATES = pl.Schema(
    {
        "article_id": pl.String,
        "source_uri": pl.String,
        "record_locator": pl.String,  # where in the source object (line:N, index:N, offset:N); null = the whole object
        "url": pl.String,
        "fetched_at": TIMESTAMP,
        "title": pl.String,
        "published_date": pl.Date,
        "body": pl.String,
        "word_count": pl.Int32,
        "content_hash": pl.String,
        "duplicate_of": pl.String,
        "similarity": pl.Float64,
        "tier": pl.String,  # the dedup tier that verified the match: "near_copy" or "rewrite"
        "cluster_id": pl.String,
        "run_id": pl.String,
        "ingested_at": TIMESTAMP,
    }
)

QUARANTINE = pl.Schema(
    {
        "source_uri": pl.String,
        "record_locator": pl.String,  # where in the source object (line:N, index:N, offset:N); null = the whole object
        "stage": pl.String,
        "reasons": pl.List(pl.String),
        "size_bytes": pl.Int64,
        "title": pl.String,
        "excerpt": pl.String,
        "run_id": pl.String,
        "ingested_at": TIMESTAMP,
    }
)

DATASETS: dict[str, pl.Schema] = {"articles": ARTICLES, "duplicates": DUPLICATES, "quarantine": QUARANTINE}

# The in-flight record between "clean" and "publish": everything an article row needs, plus what
# validation and dedup look at. Pure steps take and return frames of (a superset of) this schema.
RECORDS = pl.Schema(
    {
        "article_id": pl.String,
        "source_uri": pl.String,
        "record_locator": pl.String,  # where in the source object (line:N, index:N, offset:N); null = the whole object
        "url": pl.String,
        "fetched_at": TIMESTAMP,
        "title": pl.String,
        "published_date": pl.Date,
        "byline": pl.String,
        "language": pl.String,
        "body": pl.String,
        "word_count": pl.Int32,
        "content_hash": pl.String,
        "raw_chars": pl.Int64,
        "removed_chars": pl.Int64,
        "size_bytes": pl.Int64,
    }
)
