"""Near-duplicate detection: MinHash LSH candidates, exact verification, one kept article per cluster.

Features (both from the same normalised tokens: NFKC, lower case, runs of letters/digits):

* tier ``near_copy``: word n-gram shingles; a pair counts when their shingle Jaccard reaches
  ``near_copy_threshold`` or their containment |A∩B|/min(|A|,|B|) reaches ``near_copy_containment``
  (a copy wrapped in another site's boilerplate);
* tier ``rewrite``: the set of content words (stopwordsiso list removed); a pair counts when their
  Jaccard reaches ``rewrite_threshold`` and the evidence a retelling keeps agrees (rarity-weighted
  Jaccard, names and numbers, dates, two sites, what the texts say outside shared passages: see
  ``verify._verified``).  A rewrite keeps the story's vocabulary, not its word order.  Its
  candidates come from the batch's rare words only.

Each feature is a 32-bit ``feature_hash``; signatures use datasketch's default "affine32" permutation
scheme (``num_perm`` permutations for near-copies, ``rewrite_num_perm`` for rewrites) and equal
``datasketch.MinHash(num_perm, seed, hashfunc=feature_hash)`` fed the same features.  Tokens,
shingles and signatures of whole chunks of documents come from the compiled loops of
``tasks/dedup/kernels.py``, chunks on ``workers`` threads (the kernels release the GIL).  Bands and
rows come from ``datasketch.lsh._optimal_param``.  Rows sharing a band key are candidates; rewrite
candidates whose MinHash estimate is far below the threshold are dropped first
(``prefilter_sigmas``), and of the rest each article keeps its best-estimated ones
(``rewrite_candidates_per_article``); every remaining candidate is verified, on its exact feature
sets within the batch and on bottom-k sketches against index rows (thresholds raised by the
estimates' error), so an LSH false positive never drops an article.  Verified pairs of both tiers form a graph; each connected
component (scipy.sparse.csgraph) is one cluster.  Batches with at most ``exhaustive_max_pairs`` pairs
skip LSH and verify every pair (exact recall where it costs nothing).

Keep policy (one article per cluster): an article of ``index`` (published by an earlier run) always
wins; otherwise the earliest ``published_date`` (nulls last), then the larger ``word_count`` (the
more complete body), then the smallest ``article_id``.  Row order never matters.

Memory grows linearly with the number of documents: the signature pass keeps band keys (bands x
4 bytes per doc and tier: 304 bytes by default), the rewrite signatures (rewrite_num_perm x 4 bytes:
1 KiB) for the prefilter until the last band is screened, and every chunk's features (about
the text's size) when they all fit in ``_FEATURE_CACHE_BYTES`` (1 GiB), so candidates need not be
tokenised twice; a batch whose features do not fit keeps none (one whose text alone exceeds the budget
does not try) and re-tokenises the rows it verifies; the texts of the pairs whose own passages are
compared are tokenised ``verify._OWN_TEXT_BLOCK`` pairs at a time.  What the worker threads free
goes back to the system (``memory``: glibc keeps it in its arenas otherwise) as chunks' feature sets
are joined and as index rows are built.  Rewrite candidates are bounded per article
(``rewrite_candidates_per_article``: the best MinHash estimates of each article), so they, and the
verification work, stay linear in the batch however crowded its topics.
"""

from tasks.dedup.clusters import (
    RESULT_SCHEMA,
    deduplicate_table,
    deduplicate_with_index_rows,
    find_duplicates,
)
from tasks.dedup.explain import explain_match
from tasks.dedup.features import FEATURE_VERSION, NFKC_NEUTRAL, TIERS, feature_hash, stopwords, tokens
from tasks.dedup.index import INDEX_DATASET, index_rows

# The pipeline's steps import Prefect and the storage layer: loaded when first asked for.
_STEPS = ("dedup_task", "load_index", "load_index_task")


def __getattr__(name: str) -> object:
    if name in _STEPS:
        from tasks.dedup import steps

        return getattr(steps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "FEATURE_VERSION",
    "INDEX_DATASET",
    "NFKC_NEUTRAL",
    "RESULT_SCHEMA",
    "TIERS",
    "dedup_task",
    "deduplicate_table",
    "deduplicate_with_index_rows",
    "explain_match",
    "feature_hash",
    "find_duplicates",
    "index_rows",
    "load_index",
    "load_index_task",
    "stopwords",
    "tokens",
]
