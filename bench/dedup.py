"""Benchmark of tasks/dedup/ against datasketch and rensa on one seeded corpus (bench/corpus.py).

    .venv/bin/python -m bench.dedup                      # 100k docs: speed ratios + quality
    .venv/bin/python -m bench.dedup --docs 1000000 --memory   # peak RSS of one 1M-doc run
    .venv/bin/python -m bench.dedup --docs 1000000 --memory --with-index-rows --corpus /tmp/records-1m.parquet   # the flow's dedup step
    .venv/bin/python -m bench.dedup --real               # only the real-article negatives (below)
    .venv/bin/python -m bench.dedup --index              # index bytes per article, sketch vs exact verification
    .venv/bin/python -m bench.dedup --versus-rensa 100000   # whole-process cleanwire dedup vs rensa
    .venv/bin/python -m bench.dedup --scaling 50000,100000   # both tiers, realistic vs templated corpus

Every baseline does the same job on the same documents: word 3-gram shingles, 128 permutations,
LSH banding, a query per document.  Slow baselines run on the first ``--naive-docs`` /
``--baseline-docs`` documents (said in the output); docs/s are comparable across sizes because
each method's cost is linear.  ``ours`` is ``find_duplicates`` (tokenising included) with
``workers`` threads; ``ours near_copy`` runs the shingle tier only (the baselines' job).  Ratios are
against the naive loop with datasketch 2's default scheme; the same loop with the "legacy" scheme
(the only one before datasketch 2.0) is printed beside it.
Real articles (``--real``, and after the speed run when ../shared/benchmarks is there): the 800
distinct articles of aeb-dev + wcxb-dev as gold bodies, as raw scrapes through the clean step, and as
raw scrapes, each deduplicated as one batch; every merge is classed against the hand-reviewed pairs
of bench/same_story_pairs.json (same story / known false merge / new false merge), and the seed
rewrite pair 001/004 is deduplicated inside the gold batch.
Not a timed test: numbers depend on the machine and its load (printed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl

import tasks.dedup as dedup
from tasks.dedup import candidates, clusters, features, verify
from bench.corpus import make_corpus, real_articles, reviewed_pairs
from tasks.config import DedupConfig

_WORD = re.compile(r"[^\W_]+")


def _shingles(text: str, n: int = 3) -> list[str]:
    """The baselines' own tokenising (counted in their time): lower case, words, n-grams."""
    words = _WORD.findall(text.lower())
    return [" ".join(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))]


def datasketch_naive(bodies: list[str], bands: int, rows: int, scheme: str = "affine32") -> float:
    """One MinHash per document, update per shingle, MinHashLSH insert + query: docs/s.

    ``scheme``: datasketch 2's default "affine32", or "legacy", the only scheme before 2.0.
    """
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    for i, text in enumerate(bodies):
        m = MinHash(num_perm=128, scheme=scheme)
        for shingle in _shingles(text):
            m.update(shingle.encode())
        lsh.query(m)
        lsh.insert(i, m)
    return len(bodies) / (time.perf_counter() - start)


def datasketch_bulk(bodies: list[str], bands: int, rows: int) -> float:
    """MinHash.bulk into LeanMinHash, bulk LSH insertion, then a query per document: docs/s."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    start = time.perf_counter()
    sketches = [LeanMinHash(m) for m in MinHash.bulk([[s.encode() for s in _shingles(t)] for t in bodies], num_perm=128)]
    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    with lsh.insertion_session() as session:
        for i, m in enumerate(sketches):
            session.insert(i, m)
    for m in sketches:
        lsh.query(m)
    return len(bodies) / (time.perf_counter() - start)


def rensa_loop(bodies: list[str], threshold: float) -> float:
    """rensa RMinHash per document + RMinHashLSH insert + query (32 bands x 4 rows): docs/s."""
    from rensa import RMinHash, RMinHashLSH

    start = time.perf_counter()
    lsh = RMinHashLSH(threshold=threshold, num_perm=128, num_bands=32)
    for i, text in enumerate(bodies):
        m = RMinHash(num_perm=128, seed=42)
        m.update(_shingles(text))
        lsh.query(m)
        lsh.insert(i, m)
    return len(bodies) / (time.perf_counter() - start)


def ours(batch: pl.DataFrame, config: DedupConfig, with_index_rows: bool = False) -> tuple[float, pl.DataFrame]:
    """docs/s and verdicts of find_duplicates, or of the flow's deduplicate_with_index_rows."""
    start = time.perf_counter()
    if with_index_rows:
        result, _, _ = dedup.deduplicate_with_index_rows(batch, config)
    else:
        result = dedup.find_duplicates(batch, config)
    return batch.height / (time.perf_counter() - start), result


def _families(planted: pl.DataFrame, ids: pl.Series) -> dict[str, int]:
    """Planted family of every article (connected planted pairs), singletons their own."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pos = {a: i for i, a in enumerate(ids.to_list())}
    a = np.array([pos[x] for x in planted["source"]], dtype=np.int64)
    b = np.array([pos[x] for x in planted["copy"]], dtype=np.int64)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(pos), len(pos)))
    return dict(zip(ids.to_list(), connected_components(graph, directed=False)[1].tolist()))


def quality(batch: pl.DataFrame, planted: pl.DataFrame, result: pl.DataFrame, config: DedupConfig) -> None:
    """Per tier: LSH candidate recall on planted pairs vs 1-(1-s^r)^b at their exact Jaccard;
    precision and per-kind recall of the final clusters."""
    lsh, tokeniser = candidates._Lsh(config), features._Tokeniser(config)
    pos = {a: i for i, a in enumerate(batch["article_id"].to_list())}
    pairs = planted.select(
        a=pl.col("source").replace_strict(pos, return_dtype=pl.UInt32),
        b=pl.col("copy").replace_strict(pos, return_dtype=pl.UInt32),
        kind="kind",
    ).with_columns(pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b"))
    rows = np.unique(np.concatenate([pairs["a"].to_numpy(), pairs["b"].to_numpy()]))
    sets = verify._feature_sets(batch["body"], rows, tokeniser, config)
    keys, _ = candidates._batch_keys(batch["body"], tokeniser, lsh)
    print("quality (planted pairs; LSH candidates vs the banding curve at each pair's exact Jaccard):")
    for tier in config.tiers:
        bands, r = lsh.bands[tier]
        sims = verify._similarities(pairs.select("a", "b"), sets[tier])
        cands = candidates._candidate_pairs(keys[tier], config.lsh_bucket_window, config.lsh_max_bucket_rows, candidates._LARGE_BUCKETS[tier]).with_columns(found=pl.lit(True))
        eligible = pl.Series(keys[tier].eligible)
        judged = (
            sims.join(pairs, on=["a", "b"])
            .join(cands, on=["a", "b"], how="left")
            .filter(pl.lit(eligible).gather(pl.col("a")) & pl.lit(eligible).gather(pl.col("b")))
            .with_columns(
                predicted=1 - (1 - pl.col("jaccard") ** r) ** bands,
                found=pl.col("found").fill_null(False).cast(pl.Float64),
            )
        )
        print(f"  {tier:9s} b={bands} r={r}  pairs={judged.height}  recall measured={judged['found'].mean():.4f} "
              f"predicted={judged['predicted'].mean():.4f}  (diff {judged['found'].mean() - judged['predicted'].mean():+.4f})")
        by_kind = judged.group_by("kind").agg(
            pl.col("jaccard").mean().round(3).alias("mean_jaccard"), pl.col("found").mean().round(4), pl.col("predicted").mean().round(4)
        ).sort("kind")
        for kind, jac, found, pred in by_kind.iter_rows():
            print(f"      {kind:8s} mean Jaccard {jac:.3f}  measured {found:.4f}  predicted {pred:.4f}")
    family = _families(planted, batch["article_id"])
    dropped = result.filter(pl.col("duplicate_of").is_not_null())
    correct = sum(family[a] == family[b] for a, b in dropped.select("article_id", "duplicate_of").iter_rows())
    print(f"  precision after verification: {correct}/{dropped.height} = {correct / max(dropped.height, 1):.4f} "
          f"(dropped article and its kept article are one planted family)")
    clustered = dict(result.select("article_id", "cluster_id").iter_rows())
    per_kind = planted.with_columns(
        same=pl.struct("source", "copy").map_elements(lambda p: clustered[p["source"]] == clustered[p["copy"]], return_dtype=pl.Boolean)
    ).group_by("kind").agg(pl.col("same").mean().round(4), pl.len()).sort("kind")
    print("  end-to-end recall (copy and source in one cluster):", ", ".join(f"{k} {v:.4f} (n={n})" for k, v, n in per_kind.iter_rows()))
    print("  matched tiers:", dict(result["matched_tier"].drop_nulls().value_counts().iter_rows()))


DEFAULT_BENCH_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


def merged_pairs(result: pl.DataFrame) -> set[frozenset[str]]:
    """Each dropped article with the article it was matched to."""
    return {frozenset(p) for p in result.filter(pl.col("duplicate_of").is_not_null()).select("article_id", "duplicate_of").iter_rows()}


def seed_batch() -> pl.DataFrame:
    """The five seed scrapes through the clean step, 004 dated as in the seeds run."""
    from tasks.clean import clean_text

    seeds = Path(__file__).resolve().parents[1] / "seeds"
    bodies = {f"seed{p.name[:3]}": clean_text(p.read_text(encoding="utf-8")).body for p in sorted(seeds.glob("*.txt"))}
    return pl.DataFrame(
        {
            "article_id": list(bodies),
            "body": list(bodies.values()),
            "published_date": pl.Series([dt.date(2025, 8, 23) if k == "seed004" else None for k in bodies], dtype=pl.Date),
        }
    ).with_columns(word_count=pl.col("body").str.count_matches(r"\w+").cast(pl.Int32))


def real_negatives(bench_dir: Path, config: DedupConfig) -> None:
    """Merges among the 800 distinct real articles, classed against the reviewed pairs."""
    reviewed = reviewed_pairs()
    print(f"real articles ({bench_dir}): merges among the 800 distinct articles of aeb-dev + wcxb-dev")
    for text, urls in (("gold", True), ("cleaned", True), ("raw", True), ("gold", False), ("cleaned", False), ("raw", False)):
        batch = real_articles(bench_dir, text, urls)
        if text == "gold":
            batch = pl.concat([batch, seed_batch()], how="diagonal")
        result = dedup.find_duplicates(batch, config)
        merged = merged_pairs(result)
        seeds = {p for p in merged if all(a.startswith("seed") for a in p)}
        same, known = merged & reviewed["same_story"], merged & reviewed["known_false_merges"]
        new = merged - same - known - seeds
        tiers = dict(result["matched_tier"].drop_nulls().value_counts().iter_rows())
        print(f"  {text:8s} {'with URLs' if urls else 'no URLs  '} {batch.height} docs: {len(merged)} merges = {len(same)} reviewed same-story + "
              f"{len(known)} known false + {len(new)} new false{' + seed pair' if seeds else ''}; tiers {tiers}")
        for pair in sorted(sorted(p) for p in known | new):
            print(f"      false merge {'(known)' if frozenset(pair) in known else '(NEW)  '} {pair[0]} ~ {pair[1]}")
        if text == "gold":
            print(f"      seed rewrite 001/004 inside the gold batch: {'found' if frozenset(('seed001', 'seed004')) in seeds else 'MISSED'}"
                  f"{'' if len(seeds) <= 1 else f'; other seed merges {len(seeds) - 1}'}")


def index_fit(
    batch: pl.DataFrame, config: DedupConfig, name: str, pairs: pl.DataFrame | None = None, planted: set[tuple[int, int]] | None = None
) -> None:
    """Bytes per article of ``index_rows`` as the flow publishes them (zstd Parquet), and how verification
    from what they store (bottom-k sketches) agrees with exact verification: every pair of ``batch``
    (or ``pairs``) verified both ways, the pairs each way verifies, and the estimates' error."""
    import io

    from tasks.dedup.clusters import _universe, _UniverseFeatures
    from tasks.dedup.verify import _Evidence, _verified

    buf = io.BytesIO()
    dedup.index_rows(batch, config).write_parquet(buf, compression="zstd", statistics=True)
    tokeniser, n = features._Tokeniser(config), batch.height
    if pairs is None:
        a, b = np.triu_indices(n, k=1)
        pairs = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.UInt32, "b": pl.UInt32})
    feats = features._features(batch["body"], tokeniser, config, ("rewrite",))
    frequencies = features._document_frequencies(feats.flat["rewrite"], feats.lens["rewrite"])
    evidence = _Evidence.of(frequencies, _universe(batch, None), batch["body"], tokeniser, config)
    verified, measured = {}, {}
    sample = pairs.sample(min(pairs.height, 20_000), seed=0).sort("a", "b")
    for mode, n_exact in (("exact", n), ("sketched", 0)):
        universe = _UniverseFeatures(batch["body"], None, n_exact, tokeniser, config)
        sims = {t: evidence.measure(t, pairs, universe, config) for t in config.tiers}
        verified[mode] = set(_verified(sims, config).select("a", "b").iter_rows())
        measured[mode] = evidence.measure("rewrite", sample, universe, config, screen=False)
    both = verified["exact"] & verified["sketched"]
    print(f"index rows of {name}: {buf.tell() / n:,.0f} bytes per article (zstd Parquet, {n:,} articles); "
          f"verification from them vs exact, {pairs.height:,} pairs: {len(verified['exact'])} verified exactly, "
          f"{len(verified['sketched'])} from sketches, {len(both)} by both "
          f"({len(verified['exact'] - both)} lost, {len(verified['sketched'] - both)} gained)")
    ids = batch["article_id"]
    for kind, changed in (("lost", verified["exact"] - both), ("gained", verified["sketched"] - both)):
        if planted is not None:
            print(f"      {kind}: {len(changed & planted)} planted pairs, {len(changed - planted)} others")
        else:
            for a, b in sorted(changed)[:5]:
                print(f"      {kind}: {ids[a]} ~ {ids[b]}")
    joined = measured["exact"].join(measured["sketched"], on=["a", "b"], suffix="_sketch")
    errors = ", ".join(
        f"{c} {np.abs(joined[c] - joined[c + '_sketch']).mean():.3f} / {np.percentile(np.abs(joined[c] - joined[c + '_sketch']), 99):.3f}"
        for c in ("jaccard", "weighted", "names", "verbatim")
    )
    print(f"      estimate error, mean / p99 absolute ({sample.height:,} of the pairs): {errors}")


def index_agreement(bench_dir: Path, config: DedupConfig) -> None:
    """``index_fit`` on the real gold bodies (every pair) and on 20,000 documents of the bench corpus
    (their LSH candidates of both tiers and the planted pairs)."""
    if bench_dir.is_dir():
        index_fit(pl.concat([real_articles(bench_dir, "gold"), seed_batch()], how="diagonal"), config, "the real gold bodies + seeds")
    batch, planted = make_corpus(20_000, 0.1, 0)
    lsh, tokeniser = candidates._Lsh(config), features._Tokeniser(config)
    keys, _ = candidates._batch_keys(batch["body"], tokeniser, lsh)
    pos = {a: i for i, a in enumerate(batch["article_id"].to_list())}
    found = [candidates._candidate_pairs(keys[t], config.lsh_bucket_window, config.lsh_max_bucket_rows, candidates._LARGE_BUCKETS[t]) for t in config.tiers]
    planted_pairs = planted.select(
        a=pl.min_horizontal(pl.col("source").replace_strict(pos, return_dtype=pl.UInt32), pl.col("copy").replace_strict(pos, return_dtype=pl.UInt32)),
        b=pl.max_horizontal(pl.col("source").replace_strict(pos, return_dtype=pl.UInt32), pl.col("copy").replace_strict(pos, return_dtype=pl.UInt32)),
    )
    pairs = pl.concat([*found, planted_pairs]).unique().sort("a", "b")
    index_fit(batch, config, "20,000 bench-corpus documents", pairs, set(planted_pairs.iter_rows()))


def content_jaccard_percentiles(bodies: pl.Series, pairs: int = 20_000, seed: int = 0) -> np.ndarray:
    """Median, p90 and p99 of the content-word Jaccard of random pairs of distinct documents."""
    config = DedupConfig()
    feats = features._features(bodies, features._Tokeniser(config), config, ("rewrite",))
    sets = features._Sets.of(np.repeat(np.arange(len(bodies)), feats.lens["rewrite"]), feats.flat["rewrite"])
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(bodies), (2, pairs))
    a, b = np.minimum(a, b)[a != b], np.maximum(a, b)[a != b]
    sims = verify._similarities(pl.DataFrame({"a": a, "b": b}, schema={"a": pl.UInt32, "b": pl.UInt32}), sets)["jaccard"]
    return np.percentile(sims.to_numpy(), [50, 90, 99])


def corpus_realism(bench_dir: Path, corpora: dict[str, pl.DataFrame]) -> None:
    """Content-word Jaccard of random pairs: the real gold bodies beside the synthetic corpora."""
    rows = {name: content_jaccard_percentiles(batch["body"].head(5_000)) for name, batch in corpora.items()}
    if bench_dir.is_dir():
        rows = {"real: aeb-dev + wcxb-dev gold bodies": content_jaccard_percentiles(real_articles(bench_dir, "gold")["body"])} | rows
    print("content-word Jaccard of random pairs (20,000 pairs):        median      p90      p99")
    for name, (median, p90, p99) in rows.items():
        print(f"  {name:54s} {median:8.4f} {p90:8.4f} {p99:8.4f}")


def scaling(sizes: list[int], config: DedupConfig, bench_dir: Path) -> None:
    """Both tiers, whole find_duplicates, on the realistic and the templated corpus at each size."""
    seconds = {}
    for profile in ("realistic", "templated"):
        for n in sizes:
            batch, _ = make_corpus(n, 0.1, 0, profile=profile)
            if n == sizes[0]:
                corpus_realism(bench_dir, {f"synthetic {profile}": batch}) if profile == "realistic" else None
            start = time.perf_counter()
            result = dedup.find_duplicates(batch, config)
            seconds[profile, n] = time.perf_counter() - start
            print(f"  {profile:9s} {n:>9,} docs: {seconds[profile, n]:7.1f} s  {n / seconds[profile, n]:9,.0f} docs/s  "
                  f"dropped {result['duplicate_of'].is_not_null().sum():,}", flush=True)
    for profile in ("realistic", "templated"):
        for small, big in zip(sizes, sizes[1:]):
            print(f"  {profile}: time x{seconds[profile, big] / seconds[profile, small]:.2f} from {small:,} to {big:,} docs")
    for n in sizes:
        print(f"  {n:,} docs: templated / realistic time x{seconds['templated', n] / seconds['realistic', n]:.2f}")


def versus_rensa(n: int, profile: str) -> None:
    """Whole processes on the same Parquet file of ``n`` documents: ``cleanwire dedup`` (both tiers,
    reading and writing included) against a process that reads the file and runs ``rensa_loop``."""
    batch, _ = make_corpus(n, 0.1, 0, profile=profile)
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "in.parquet", Path(tmp) / "out.parquet"
        batch.select("article_id", "body").write_parquet(source)
        cleanwire = [str(Path(sys.executable).parent / "cleanwire"), "dedup", str(source), "--text-column", "body", "--id-column", "article_id", "--output", str(output)]
        rensa = [sys.executable, "-c", f"import polars as pl; from bench.dedup import rensa_loop; rensa_loop(pl.read_parquet({str(source)!r})['body'].to_list(), 0.5)"]
        seconds = {}
        for name, command in (("cleanwire dedup", cleanwire), ("rensa", rensa)):
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            seconds[name] = time.perf_counter() - start
    print(f"whole process, {n:,} {profile} documents (load {os.getloadavg()[0]:.2f}): cleanwire dedup {seconds['cleanwire dedup']:.1f} s "
          f"({n / seconds['cleanwire dedup']:,.0f} docs/s, both tiers), rensa {_version('rensa')} {seconds['rensa']:.1f} s "
          f"({n / seconds['rensa']:,.0f} docs/s): x{seconds['rensa'] / seconds['cleanwire dedup']:.2f} rensa")


def _rss_gib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


class StepPeaks:
    """Peak RSS per step of the engine, sampled every ``interval`` seconds by a thread and at each
    step's start and end.  A step is a call of one of the engine functions ``STEPS`` names (steps
    nest: a rewrite verification's content-word sets are "verify rewrite > rewrite sets"); RSS outside
    every step counts to "other" (universe, clusters, verdicts)."""

    # (module, attribute, step name; a name with {} takes the call's tier or feature kind)
    STEPS = (
        (clusters, "_batch_keys", "signature pass"),
        (clusters, "_tier_candidates", "candidates {}"),
        (verify._Evidence, "measure", "verify {}"),
        (verify, "_kind_similarities", "{} sets"),
        (verify, "_own_text", "own text"),
        (clusters, "_chained_similarity", "chained similarity"),
        (clusters, "_index_rows", "index rows"),
    )

    def __init__(self, interval: float = 0.02) -> None:
        self.peaks: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._stack: list[str] = []
        self._lock = threading.Lock()
        self._interval = interval
        self._done = threading.Event()

    def _sample(self) -> None:
        rss = _rss_gib()
        with self._lock:
            name = " > ".join(self._stack) or "other"
            self.peaks[name] = max(self.peaks.get(name, 0.0), rss)

    def _sampler(self) -> None:
        while not self._done.wait(self._interval):
            self._sample()

    def _wrap(self, function, name: str):
        def step(*args, **kwargs):
            label = name.format(*(a for a in args if isinstance(a, str))) if "{}" in name else name
            self._sample()
            with self._lock:
                self._stack.append(label)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._sample()
                with self._lock:
                    step_name = " > ".join(self._stack)
                    self.seconds[step_name] = self.seconds.get(step_name, 0.0) + time.perf_counter() - start
                    self._stack.pop()

        return step

    def __enter__(self) -> StepPeaks:
        self._originals = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in self.STEPS]
        for (owner, attr, name), (_, _, original) in zip(self.STEPS, self._originals):
            setattr(owner, attr, self._wrap(original, name))
        self._thread = threading.Thread(target=self._sampler, daemon=True)
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self._sample()
        for owner, attr, original in self._originals:
            setattr(owner, attr, original)

    @property
    def peak(self) -> float:
        return max(self.peaks.values())


def memory_run(batch: pl.DataFrame, config: DedupConfig, with_index_rows: bool) -> None:
    """Peak RSS while find_duplicates (or, ``with_index_rows``, the flow's deduplicate_with_index_rows)
    runs, in all and per step (``StepPeaks``; ru_maxrss would include the generator)."""
    gc.collect()
    before = _rss_gib()
    with StepPeaks() as steps:
        rate, result = ours(batch, config, with_index_rows)
    body_gib = batch["body"].str.len_bytes().cast(pl.Int64).sum() / 2**30  # UInt32 lengths overflow past 4 GiB
    name = "deduplicate_with_index_rows" if with_index_rows else "find_duplicates"
    print(f"memory: {batch.height:,} docs ({body_gib:.2f} GiB of text; the frame {batch.estimated_size() / 2**30:.2f} GiB, "
          f"{batch.width} columns): {name} {rate:,.0f} docs/s; RSS before {before:.2f} GiB (corpus in memory), peak during "
          f"{name} {steps.peak:.2f} GiB, process max {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB; "
          f"dropped {result['duplicate_of'].is_not_null().sum():,}")
    print("  peak RSS per step (GiB, seconds):")
    for step, peak in steps.peaks.items():
        print(f"    {step:48s} {peak:6.2f} GiB  {steps.seconds.get(step, 0.0):7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--dup-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-docs", type=int, default=2_000, help="subsample for the naive datasketch loop")
    parser.add_argument("--baseline-docs", type=int, default=20_000, help="subsample for datasketch bulk and rensa")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="only run find_duplicates once and report peak RSS")
    parser.add_argument("--with-index-rows", action="store_true", help="with --memory: the flow's step, verdicts and index rows")
    parser.add_argument("--corpus", type=Path, help="with --memory: Parquet file of the corpus, written once (minutes at 1M documents) and reused")
    parser.add_argument("--real", action="store_true", help="only the real-article negatives")
    parser.add_argument("--versus-rensa", type=int, metavar="N", help="only whole-process cleanwire dedup vs rensa on N documents")
    parser.add_argument("--index", action="store_true", help="only the index size and its agreement with exact verification")
    parser.add_argument("--scaling", help="comma-separated sizes: only the realistic vs templated timing")
    parser.add_argument("--profile", default="realistic", choices=["realistic", "templated"], help="bench/corpus.py profile")
    parser.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH_DIR, help="folder holding aeb-dev/ and wcxb-dev/")
    args = parser.parse_args()

    config = DedupConfig(workers=args.workers)
    if args.real:
        real_negatives(args.bench_dir, config)
        return
    if args.index:
        index_agreement(args.bench_dir, config)
        return
    if args.versus_rensa:
        versus_rensa(args.versus_rensa, args.profile)
        return
    if args.scaling:
        dedup.find_duplicates(make_corpus(2_000, 0.1, 1)[0], config.model_copy(update={"exhaustive_max_pairs": 0}))  # compile
        scaling([int(n) for n in args.scaling.split(",")], config, args.bench_dir)
        return
    start = time.perf_counter()
    if args.memory:
        batch, planted = memory_corpus(args), pl.DataFrame()
    else:
        batch, planted = make_corpus(args.docs, args.dup_fraction, args.seed, profile=args.profile)
    print(f"corpus: {batch.height} docs, mean {batch['body'].str.len_bytes().mean():,.0f} bytes, {args.docs * args.dup_fraction:,.0f} planted copies "
          f"(generated in {time.perf_counter() - start:.1f}s); cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f}; "
          f"workers={config.workers} threads (+ polars' own pool)")
    if args.memory:
        memory_run(batch, config, args.with_index_rows)
        return

    bands, rows = candidates._Lsh(config).bands["near_copy"]
    bodies = batch["body"].to_list()
    near_only = config.model_copy(update={"tiers": ("near_copy",)})
    rates = {
        f"datasketch naive ({args.naive_docs} docs)": datasketch_naive(bodies[: args.naive_docs], bands, rows),
        f"datasketch naive, legacy scheme ({args.naive_docs} docs)": datasketch_naive(bodies[: args.naive_docs], bands, rows, "legacy"),
        f"datasketch bulk/LeanMinHash ({args.baseline_docs} docs)": datasketch_bulk(bodies[: args.baseline_docs], bands, rows),
        f"rensa {_version('rensa')} ({args.baseline_docs} docs)": rensa_loop(bodies[: args.baseline_docs], config.near_copy_lsh_threshold),
    }
    start = time.perf_counter()
    dedup.find_duplicates(batch.head(2_000), config.model_copy(update={"exhaustive_max_pairs": 0}))
    print(f"warm-up: numba kernels compiled or loaded from their disk cache in {time.perf_counter() - start:.1f}s (once per process)")
    rates[f"ours near_copy, 1 worker ({batch.height} docs)"] = ours(batch, near_only.model_copy(update={"workers": 1}))[0]
    rates[f"ours near_copy ({batch.height} docs)"] = ours(batch, near_only)[0]
    rates[f"ours both tiers ({batch.height} docs)"], result = ours(batch, config)
    naive = rates[f"datasketch naive ({args.naive_docs} docs)"]
    rensa = rates[f"rensa {_version('rensa')} ({args.baseline_docs} docs)"]
    print(f"speed (signatures + LSH + verification; 3-word shingles, 128 perms, near_copy b={bands} r={rows}):")
    for name, rate in rates.items():
        print(f"  {name:48s} {rate:>10,.0f} docs/s   x{rate / naive:8.1f} naive   x{rate / rensa:5.2f} rensa")
    quality(batch, planted, result, config)
    corpus_realism(args.bench_dir, {f"synthetic {args.profile} (this run's corpus)": batch})
    if args.bench_dir.is_dir():
        real_negatives(args.bench_dir, config)
    else:
        print(f"real articles: skipped, no {args.bench_dir}")


def memory_corpus(args: argparse.Namespace) -> pl.DataFrame:
    """The corpus of a memory run as the flow holds its records when it calls the dedup step: one frame
    of the records' columns (``bench.corpus.as_records``).  Generated in a child process, so this
    process holds only the frame when measured; kept in ``args.corpus`` when given and read from there
    if it exists and was made with the same corpus arguments (stored in the file's metadata)."""
    made_with = {"docs": str(args.docs), "dup_fraction": str(args.dup_fraction), "seed": str(args.seed), "profile": args.profile}
    with tempfile.TemporaryDirectory() as tmp:
        path = args.corpus or Path(tmp) / "records.parquet"
        if not path.exists():
            code = (
                "from bench.corpus import as_records, make_corpus; "
                f"as_records(make_corpus({args.docs}, {args.dup_fraction}, {args.seed}, profile={args.profile!r})[0], {args.seed})"
                f".write_parquet({str(path)!r}, metadata={made_with!r})"
            )
            subprocess.run([sys.executable, "-c", code], check=True)
        stored = {key: value for key, value in pl.read_parquet_metadata(path).items() if key in made_with}
        if stored != made_with:
            raise SystemExit(f"{path} was made with {stored or 'unknown arguments'}, not {made_with}: give another --corpus or delete it")
        return pl.read_parquet(path)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
