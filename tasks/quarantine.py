"""Rejected inputs: every step that refuses an input says so with a Rejection, never by dropping it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from tasks.schema import QUARANTINE


@dataclass(frozen=True)
class Rejection:
    source_uri: str
    stage: str  # the step that rejected it: read, parse, clean, validate
    reasons: tuple[str, ...]  # rule names, each optionally followed by " (detail)"
    size_bytes: int | None = None
    title: str | None = None
    excerpt: str | None = None  # enough of the input to inspect it without fetching the raw object
    record_locator: str | None = None  # the record inside the source object, when it holds several


def rejections_frame(rejections: list[Rejection], run_id: str, ingested_at: datetime, excerpt_chars: int) -> pl.DataFrame:
    rows = [
        {
            "source_uri": r.source_uri,
            "record_locator": r.record_locator,
            "stage": r.stage,
            "reasons": list(r.reasons),
            "size_bytes": r.size_bytes,
            "title": r.title,
            "excerpt": None if r.excerpt is None else r.excerpt[:excerpt_chars],
            "run_id": run_id,
            "ingested_at": ingested_at,
        }
        for r in rejections
    ]
    return pl.DataFrame(rows, schema=QUARANTINE)


def record_rejections(records: pl.DataFrame, rejected: pl.DataFrame) -> list[Rejection]:
    """Rejections for the records that failed the record suite (``rejected``: article_id, reasons)."""
    failed = records.join(rejected, on="article_id", how="inner")
    return [
        Rejection(
            row["source_uri"], "validate", tuple(row["reasons"]), row["size_bytes"], row["title"], row["body"], row["record_locator"]
        )
        for row in failed.iter_rows(named=True)
    ]
