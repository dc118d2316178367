"""The run history: one record per run of the daily flow, published or not, under ``DEST/_runs/``.

A partition's manifest says what the partition holds now; the run records say what every run did:
the manifest it committed, or why it committed nothing (no input, a refused rerun, a failure).
"""

from __future__ import annotations

import json
from datetime import date

from prefect import task

from tasks.config import S3Config
from tasks.storage import STORAGE_TASK_OPTIONS, Storage, open_storage

RUNS_PREFIX = "_runs"
PUBLISHED, NO_INPUT, FAILED = "published", "no_input", "failed"


def run_key(run_id: str) -> str:
    return f"{RUNS_PREFIX}/{run_id}.json"


def write_run_record(storage: Storage, record: dict) -> str:
    """Store one run's record (``run_id``, ``ingest_date``, ``outcome``, ``error``, … ) and return its URI."""
    key = run_key(record["run_id"])
    storage.write(key, json.dumps(record, indent=2, sort_keys=True, default=str).encode())
    return storage.uri(key)


@task(name="record-run", **STORAGE_TASK_OPTIONS)
def record_run_task(dest: str, record: dict, s3: S3Config) -> str:
    return write_run_record(open_storage(dest, s3), record)


def read_run_records(storage: Storage, ingest_date: date | None = None) -> list[dict]:
    """Every run record under the destination (of one ingest date if given), oldest first."""
    records = [json.loads(storage.read(obj.key)) for obj in storage.list(RUNS_PREFIX) if obj.key.endswith(".json")]
    if ingest_date is not None:
        records = [r for r in records if r.get("ingest_date") == ingest_date.isoformat()]
    return sorted(records, key=lambda r: (r.get("started_at") or "", r["run_id"]))


def history_table(records: list[dict]) -> str:
    """One line per run: when, which date, the outcome, the counts, and the error if it failed."""
    lines = []
    for r in records:
        counts = r.get("counts") or {}
        summary = (
            f"{counts['inputs']} inputs -> {counts['articles']} articles, {counts['duplicates']} duplicates, "
            f"{counts['quarantine']} quarantined"
            if {"inputs", "articles", "duplicates", "quarantine"} <= counts.keys()
            else ""
        )
        detail = "; ".join(filter(None, (summary, r.get("error"))))
        lines.append(f"{r.get('started_at', '?')[:19]}  {r.get('ingest_date', '?')}  {r['run_id']}  {r.get('outcome', '?'):<9}  {detail}")
    return "\n".join(lines)
