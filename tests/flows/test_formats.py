"""End to end: text scrapes, HTML pages, JSON lines and a WARC archive mixed in one source."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from flows.daily import daily_flow
from tasks.config import ParseConfig, ReadConfig, S3Config
from tasks.read import read_objects
from tasks.schema import ARTICLES, DUPLICATES, SCHEMA_VERSION
from tests.flows.test_daily import read_dataset
from tests.scrapes import FERRY, LIBRARY, ORCHARD, Response, html_page, text_scrape, warc_archive

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-08-23"
# Batch boilerplate counts a short line as site chrome once it recurs on 2 distinct pages, so in a
# batch this small the article's own paragraphs, arriving three times, would count as chrome.
SMALL_BATCH = {"clean": {"boilerplate_min_pages": 3}}


def crawl() -> bytes:
    """A CC-NEWS-like WARC: one article page, an image and a 404 (plus warcinfo and request records)."""
    return warc_archive(
        [
            Response(FERRY.url, html_page(FERRY).encode()),
            Response("https://news.example.org/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"),
            Response("https://news.example.org/gone", b"<html><body>Not found</body></html>", status="404 Not Found"),
        ]
    )


def records() -> str:
    """JSON lines: the library article again, a line cut off mid-write, and the orchard article as HTML."""
    return "\n".join(
        [
            json.dumps({"url": LIBRARY.url, "title": LIBRARY.title, "text": LIBRARY.body, "published": LIBRARY.published,
                        "scraped_at": "2025-08-23T11:00:00Z", "site": "Example News"}),
            '{"url": "https://news.example.org/broken", "text": "The council',
            json.dumps({"url": ORCHARD.url, "html": html_page(ORCHARD), "fetched_at": "2025-08-23T11:05:00Z"}),
        ]
    ) + "\n"


@pytest.fixture
def landing(tmp_path):
    root = tmp_path / "landing"
    root.mkdir()
    (root / "library.txt").write_text(text_scrape(LIBRARY), encoding="utf-8")
    (root / "library.html").write_text(html_page(LIBRARY), encoding="utf-8")
    (root / "feed.jsonl").write_text(records(), encoding="utf-8")
    (root / "CC-NEWS-20250823.warc.gz").write_bytes(crawl())
    return root


def test_mixed_formats_in_one_source(landing, tmp_path):
    dest = tmp_path / "lake"
    manifest = daily_flow(source=str(landing), dest=str(dest), date=DAY, run_id="formats-1", overrides=SMALL_BATCH)

    # Inputs are records: 1 text + 1 page + 3 JSON lines + 3 WARC responses (not warcinfo or requests).
    assert manifest["counts"] == {"inputs": 8, "articles": 3, "duplicates": 2, "quarantine": 3}
    assert manifest["schema_version"] == SCHEMA_VERSION == "3"
    assert manifest["quarantine_reasons"] == {
        "bad_json": 1, "warc_http_error": 1, "warc_not_html": 1,
    }
    articles, duplicates = read_dataset(dest, "articles"), read_dataset(dest, "duplicates")
    assert articles.drop("ingest_date").schema == ARTICLES
    assert duplicates.drop("ingest_date").schema == DUPLICATES

    # The library article arrived as text, HTML and a JSON record: one article, two duplicates of it.
    by_title = {row["title"]: row for row in articles.iter_rows(named=True)}
    assert set(by_title) == {LIBRARY.title, ORCHARD.title, FERRY.title}
    library = by_title[LIBRARY.title]
    assert sorted(duplicates["duplicate_of"]) == [library["article_id"]] * 2
    shared = ["source_uri", "body", "published_date"]
    copies = pl.concat([articles.filter(pl.col("title") == LIBRARY.title).select(shared), duplicates.select(shared)])
    assert sorted(uri.rsplit("/", 1)[-1] for uri in copies["source_uri"]) == ["feed.jsonl", "library.html", "library.txt"]
    for row in copies.iter_rows(named=True):
        assert row["body"] == LIBRARY.body, row["source_uri"]
        assert str(row["published_date"]) == LIBRARY.published

    # Rows from containers keep the URL and fetch time their source states.
    ferry, orchard = by_title[FERRY.title], by_title[ORCHARD.title]
    assert ferry["source_uri"].endswith("CC-NEWS-20250823.warc.gz") and ferry["url"] == FERRY.url
    assert ferry["fetched_at"] == dt.datetime(2025, 8, 23, 10, 15, tzinfo=dt.UTC)
    assert (orchard["url"], orchard["byline"]) == (ORCHARD.url, ORCHARD.author)
    assert orchard["fetched_at"] == dt.datetime(2025, 8, 23, 11, 5, tzinfo=dt.UTC)

    quarantine = read_dataset(dest, "quarantine")
    assert sorted(r.split(" (")[0] for rs in quarantine["reasons"] for r in rs) == ["bad_json", "warc_http_error", "warc_not_html"]
    assert any("(line:2: " in rs[0] for rs in quarantine["reasons"])
    assert sorted(quarantine["record_locator"].to_list())[0] == "line:2"
    assert all(loc.startswith("offset:") for loc in sorted(quarantine["record_locator"].to_list())[1:])
    # Every published row points at its exact input: a line of the feed, a record of the archive.
    assert ferry["record_locator"].startswith("offset:") and orchard["record_locator"].startswith("line:")
    assert by_title[LIBRARY.title]["record_locator"] is None or by_title[LIBRARY.title]["record_locator"].startswith("line:")


def test_rows_from_one_file_have_distinct_traceable_ids(landing, tmp_path):
    (landing / "library.txt").unlink()
    (landing / "library.html").unlink()
    dest = tmp_path / "lake"
    daily_flow(source=str(landing), dest=str(dest), date=DAY)
    rows = read_dataset(dest, "articles")
    from_feed = rows.filter(pl.col("source_uri").str.ends_with("feed.jsonl"))
    assert from_feed.height == 2 and from_feed["article_id"].n_unique() == 2


def test_warcs_are_streamed_past_the_file_size_limit_from_s3(s3_client, bucket):
    data = crawl()
    s3_client.put_object(Bucket=bucket, Key=f"scrapes/{DAY}/CC-NEWS.warc.gz", Body=data)
    s3_client.put_object(Bucket=bucket, Key=f"scrapes/{DAY}/big.html", Body=html_page(LIBRARY).encode())
    from tasks.storage import open_storage

    source = f"s3://{bucket}/scrapes/{DAY}"
    objects = open_storage(source, S3Config()).list()
    limit = ReadConfig(max_file_bytes=100)  # far below both files
    outcome = read_objects(source, objects, limit, S3Config(), ParseConfig())
    assert [d.url for d in outcome.documents] == [FERRY.url]
    reasons = sorted(r.reasons[0].split(" ")[0] for r in outcome.rejections)
    assert reasons == ["too_large", "warc_http_error", "warc_not_html"]  # too_large: the HTML page
