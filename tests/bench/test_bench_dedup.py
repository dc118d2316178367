"""bench/dedup.py's memory run: the corpus held as the flow holds its records, peak RSS per engine step."""

from __future__ import annotations

import argparse
import re

import polars as pl
import pytest

from bench import dedup as bench
from bench.corpus import as_records, make_corpus
from tasks.config import DedupConfig
from tasks.schema import RECORDS


def test_the_memory_corpus_has_the_records_columns_and_is_written_once(tmp_path, monkeypatch):
    args = argparse.Namespace(docs=300, dup_fraction=0.1, seed=0, profile="realistic", corpus=tmp_path / "records.parquet")
    first = bench.memory_corpus(args)
    assert first.schema == RECORDS
    assert first.height == 300 and first["article_id"].n_unique() == 300
    assert first["body"].equals(make_corpus(300, 0.1, 0)[0]["body"])
    written = args.corpus.stat().st_mtime_ns
    # Reused: no child process generates it again.
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("regenerated")))
    assert bench.memory_corpus(args).equals(first)
    assert args.corpus.stat().st_mtime_ns == written


def test_a_memory_corpus_made_with_other_arguments_is_refused(tmp_path):
    args = argparse.Namespace(docs=200, dup_fraction=0.1, seed=0, profile="realistic", corpus=tmp_path / "records.parquet")
    bench.memory_corpus(args)
    for other in ({"seed": 1}, {"profile": "templated"}, {"docs": 300}):
        with pytest.raises(SystemExit, match="was made with"):
            bench.memory_corpus(argparse.Namespace(**{**vars(args), **other}))


def test_records_keep_the_batch_rows_in_order():
    batch = make_corpus(50, 0.1, 3)[0]
    records = as_records(batch, 3)
    assert records.select("body", "published_date", "word_count").equals(batch.select("body", "published_date", "word_count"))
    assert records["url"].str.starts_with("https://www.site").all()


def test_memory_run_prints_the_peak_of_every_step_and_restores_the_engine(capsys):
    batch = as_records(make_corpus(400, 0.2, 1)[0])
    originals = [getattr(owner, attr) for owner, attr, _ in bench.StepPeaks.STEPS]
    bench.memory_run(batch, DedupConfig(exhaustive_max_pairs=0, chunk_docs=64), with_index_rows=True)
    out = capsys.readouterr().out
    assert re.search(r"peak during deduplicate_with_index_rows \d+\.\d\d GiB", out)
    steps = dict(re.findall(r"^    (\S.*?)\s+(\d+\.\d\d) GiB\s+\d+\.\d s$", out, re.MULTILINE))
    for step in ("signature pass", "candidates near_copy", "candidates rewrite", "verify near_copy", "verify rewrite",
                 "verify rewrite > names sets", "verify rewrite > rewrite sets", "index rows"):
        assert step in steps, out
    assert max(map(float, steps.values())) == float(re.search(r"peak during \S+ (\d+\.\d\d)", out)[1])
    assert [getattr(owner, attr) for owner, attr, _ in bench.StepPeaks.STEPS] == originals
