"""Candidate pairs: MinHash signatures and LSH band keys of both tiers, the pairs that share a band
key, the MinHash prefilter, and every pair of a batch small enough to verify exhaustively."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import polars as pl
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from datasketch.minhash import _FMIX_CONSTANTS

from tasks.config import DedupConfig
from tasks.dedup import kernels
from tasks.dedup.features import (
    _DF_SLOTS,
    _MIX,
    TIERS,
    _document_frequencies,
    _FeatureCache,
    _Features,
    _features,
    _sorted_unique,
    _Tokeniser,
    sketch_sizes,
)

# ------------------------------------------------------------------------------------- signatures
# datasketch's optimiser integrates the banding curve numerically (~0.15 s a call): once per setting.
_lsh_params = cache(_optimal_param)


class _Lsh:
    """Permutations and banding of both tiers, derived from the config the way datasketch does."""

    def __init__(self, config: DedupConfig) -> None:
        unknown = set(config.tiers) - set(TIERS)
        if unknown:
            raise ValueError(f"unknown dedup tiers {sorted(unknown)}; known: {TIERS}")
        self.config = config
        self.num_perm = {"near_copy": config.num_perm, "rewrite": config.rewrite_num_perm}
        # datasketch is the reference: its permutations, its parameter optimiser.
        self.permutations = {
            tier: tuple(np.ascontiguousarray(p, dtype=np.uint32) for p in MinHash(num_perm=n, seed=config.seed).permutations)
            for tier, n in self.num_perm.items()
        }
        weights = (config.lsh_false_positive_weight, config.lsh_false_negative_weight)
        self.bands = {
            "near_copy": _lsh_params(config.near_copy_lsh_threshold, config.num_perm, *weights),
            "rewrite": _lsh_params(config.rewrite_lsh_threshold, config.rewrite_num_perm, *weights),
        }

    @cached_property
    def fingerprint(self) -> str:
        """What stored band keys and sketches depend on; index rows with another one are rebuilt."""
        return "affine32;seed=%d;%s;sketch=%s" % (
            self.config.seed,
            ";".join(f"{t}={self.num_perm[t]}perm,{b}x{r}" for t, (b, r) in self.bands.items()),
            ",".join(map(str, sketch_sizes(self.config).values())),
        )

    def signatures(self, tier: str, feats: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """MinHash signatures of a tier, (num_perm, docs) uint32; a document without features gets all-max."""
        a, b = self.permutations[tier]
        return kernels.signatures(feats.astype(np.uint32, copy=False), lens.astype(np.int64, copy=False), a, b, _FMIX_CONSTANTS[32])

    def band_keys(self, tier: str, sig: np.ndarray) -> np.ndarray:
        """(bands, docs) uint32 keys: the rows of each band mixed into one 64-bit key, its top half
        kept (4 bytes a key in memory and in index rows; a collision only costs a check)."""
        bands, rows = self.bands[tier]
        keys = np.zeros((bands, sig.shape[1]), dtype=np.uint64)
        for r in range(rows):
            keys = (keys ^ sig[r:bands * rows:rows].astype(np.uint64)) * _MIX
        return (keys >> np.uint64(32)).astype(np.uint32)


@dataclass
class _Keys:
    """Band keys of one tier for a set of rows, and which rows take part in the tier."""

    keys: np.ndarray  # (bands, rows) uint32
    eligible: np.ndarray  # (rows,) bool
    signatures: np.ndarray | None = None  # (rows, num_perm) uint32, kept for tiers that prefilter until their candidates are found


# Tiers whose candidates are screened by their MinHash estimate before exact verification: the
# rewrite tier's low threshold makes many same-topic candidates; near-copy candidates are few, and
# its containment test needs the exact sets (a short copy in a long page has a low Jaccard).
_PREFILTERED = ("rewrite",)
# What a tier makes of a band key shared by more than ``lsh_max_bucket_rows`` documents: near-copies
# chain them (mass copies of one text must stay linked); for rewrites such a key is words the day's
# articles share (a template, a topic's vocabulary), not evidence, and makes no candidates: copies
# of one text are the near-copy tier's.
_LARGE_BUCKETS = {"near_copy": "chain", "rewrite": "skip"}


def _batch_keys(
    bodies: pl.Series, tokeniser: _Tokeniser, lsh: _Lsh, cache: _FeatureCache | None = None
) -> tuple[dict[str, _Keys], np.ndarray | None]:
    """Band keys of the configured tiers, chunk by chunk on ``config.workers`` threads (the kernels free
    the GIL), and the rewrite tier's document frequencies (None without that tier).

    Each chunk writes into its slice of the result arrays (no second copy of a million rows' keys).
    With ``cache``, each chunk's features are kept there (within its byte budget) so verification
    need not tokenise the same texts again.
    """
    config, n = lsh.config, len(bodies)
    out = {
        tier: _Keys(
            np.empty((lsh.bands[tier][0], n), dtype=np.uint32),
            np.empty(n, dtype=np.bool_),
            np.empty((n, lsh.num_perm[tier]), dtype=np.uint32) if tier in _PREFILTERED else None,
        )
        for tier in config.tiers
    }
    frequencies = np.zeros(_DF_SLOTS, dtype=np.uint32) if "rewrite" in config.tiers else None
    lock = threading.Lock()

    def store(tier: str, start: int, chunk: _Keys) -> None:
        rows = slice(start, start + len(chunk.eligible))
        out[tier].keys[:, rows] = chunk.keys
        out[tier].eligible[rows] = chunk.eligible
        if out[tier].signatures is not None:
            out[tier].signatures[rows] = chunk.signatures

    def first_pass(start: int) -> None:
        feats = _features(bodies.slice(start, config.chunk_docs), tokeniser, config, config.tiers)
        if cache is not None:
            cache.offer(start, feats)
        if frequencies is not None:
            counted = _document_frequencies(feats.flat["rewrite"], feats.lens["rewrite"])
            with lock:
                frequencies[:] += counted
        for tier in config.tiers:
            if tier != "rewrite":
                store(tier, start, _chunk_keys(tier, feats, lsh))

    def rewrite_pass(start: int) -> None:
        feats = cache.chunks.get(start) if cache is not None else None
        if feats is None:  # beyond the cache's budget: tokenised again
            feats = _features(bodies.slice(start, config.chunk_docs), tokeniser, config, ("rewrite",))
        store("rewrite", start, _chunk_keys("rewrite", feats, lsh, common))

    starts = range(0, n, config.chunk_docs)
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        list(pool.map(first_pass, starts))
        if frequencies is not None:
            common = _common_words(frequencies, n, config)
            list(pool.map(rewrite_pass, starts))
    return out, frequencies


def _chunk_keys(tier: str, feats: _Features, lsh: _Lsh, common: np.ndarray | None = None) -> _Keys:
    """Band keys, eligibility and signatures (docs x num_perm, a view) of one chunk's documents in a
    tier; rewrite signatures leave out the ``common`` words (see ``_rare``)."""
    flat, lens = feats.flat[tier], feats.lens[tier]
    eligible = _eligible(tier, lens, lsh.config)
    if tier == "rewrite":
        flat, lens = _rare(flat, lens, common)
        eligible &= lens > 0
    sig = lsh.signatures(tier, flat, lens)
    return _Keys(lsh.band_keys(tier, sig), eligible, sig.T)


def _common_words(frequencies: np.ndarray, n_docs: int, config: DedupConfig) -> np.ndarray:
    """Per document-frequency slot, whether its words are common in the batch: in more than
    ``rewrite_common_share`` of its documents and more than ``rewrite_common_min_docs``."""
    return frequencies > max(config.rewrite_common_min_docs, config.rewrite_common_share * n_docs)


def _rare(flat: np.ndarray, lens: np.ndarray, common: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Content words without the batch's common ones, and their number per document.

    The rewrite tier's candidates come from these: words most of a day's articles use (a section's,
    a template's vocabulary) make unrelated long articles look alike to MinHash, and the number of
    such pairs grows with the square of the batch.  Verification still weighs every word.
    """
    if common is None:
        return flat, lens
    keep = ~common[(flat & np.uint32(_DF_SLOTS - 1)).astype(np.int64)]
    rows = np.repeat(np.arange(len(lens)), lens)
    return flat[keep], np.bincount(rows[keep], minlength=len(lens)).astype(lens.dtype)


def _eligible(tier: str, lens: np.ndarray, config: DedupConfig) -> np.ndarray:
    """Rows worth banding: any feature; for rewrites enough content words (counted with repeats here,
    the distinct count is checked at verification)."""
    return lens >= (config.rewrite_min_words if tier == "rewrite" else 1)


# ------------------------------------------------------------------------------------- candidates
@dataclass
class CandidateStats:
    """What became of one tier's LSH candidates.  A pair several bands propose is proposed once per
    band that meets it while it is not on the shortlist (a pair left out comes back with each band)."""

    pairs: int = 0  # candidate pairs handed to verification
    screened_out: int = 0  # proposals whose MinHash estimate was below the prefilter's floor
    capped: int = 0  # proposals left out by the per-article bound (``_Shortlist``)


# Score of a pair the prefilter cannot estimate (an index row has no signature): always kept, never ranked.
_UNSCORED = np.iinfo(np.uint16).max


class _Shortlist:
    """Distinct candidate pairs (sorted ``a << 32 | b`` keys) with their scores (equal MinHash values).

    With a ``bound``, only pairs among the ``bound`` best-scored of one of their two rows are kept
    (ties: the lower other row first): a row of a crowded topic meets hundreds of same-topic
    candidates that share its rarer words, and its retelling, if any, is among its best estimates.
    So the pairs kept are at most ``bound`` per row, however large or homogeneous the batch.  The
    list is trimmed whenever it holds ``_TRIM_AT`` times that many pairs, and each row's bar (the
    score a new pair needs to enter its best ``bound``) rises with each trim, so a pair under both its
    rows' bars is left out as soon as it is proposed: memory stays linear in the rows too.
    Pairs with an index row (``_UNSCORED``) are kept and do not count towards the bound.
    """

    _TRIM_AT = 2

    def __init__(self, rows: int, bound: int | None = None) -> None:
        self.bound = bound
        self.keys = np.empty(0, dtype=np.uint64)
        self.scores = np.empty(0, dtype=np.uint16)
        self.bar = np.zeros(rows, dtype=np.uint16)
        self.stats = CandidateStats()
        self._trim_at = self._TRIM_AT * (bound or 0) * rows

    def fresh(self, met: np.ndarray) -> np.ndarray:
        """The sorted distinct keys ``met`` that are not on the list."""
        if not len(self.keys):
            return met
        at = np.minimum(np.searchsorted(self.keys, met), len(self.keys) - 1)
        return met[self.keys[at] != met]

    def add(self, keys: np.ndarray, scores: np.ndarray) -> None:
        """Adds new pairs (sorted keys, none on the list yet)."""
        if self.bound is not None:
            a, b = _split(keys)
            wanted = (scores >= self.bar[a]) | (scores >= self.bar[b])
            self.stats.capped += int(len(keys) - wanted.sum())
            keys, scores = keys[wanted], scores[wanted]
        at = np.searchsorted(self.keys, keys)  # a merge of two sorted runs
        self.keys, self.scores = np.insert(self.keys, at, keys), np.insert(self.scores, at, scores)
        if self.bound is not None and len(self.keys) > self._trim_at:
            self.trim()

    def trim(self) -> None:
        """Keeps the pairs among the ``bound`` best of either row; raises the rows' bars."""
        if self.bound is None or not len(self.keys):
            return
        ranked = np.flatnonzero(self.scores != _UNSCORED)
        a, b = _split(self.keys[ranked])
        # Each pair once as (b, a), then once as (a, b): keys ascend, so every row's entries come in
        # ascending order of the other row, and a stable sort by (row, score descending) keeps that.
        row = np.concatenate([b, a]).astype(np.uint64)
        score = np.tile(self.scores[ranked], 2)
        order = np.argsort((row << np.uint64(16)) | (_UNSCORED - score).astype(np.uint64), kind="stable")
        row = row[order]
        starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
        rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.append(starts, len(row))))
        keep = np.ones(len(self.keys), dtype=np.bool_)
        keep[ranked] = False
        keep[ranked[order[rank < self.bound] % len(ranked)]] = True
        last = order[rank == self.bound - 1]  # each full row's bound-th best
        self.bar[row[rank == self.bound - 1]] = score[last]
        self.stats.capped += int(len(keep) - keep.sum())
        self.keys, self.scores = self.keys[keep], self.scores[keep]

    def frame(self) -> pl.DataFrame:
        self.trim()
        self.stats.pairs = len(self.keys)
        a, b = _split(self.keys)
        return pl.DataFrame({"a": a.astype(np.uint32), "b": b.astype(np.uint32)})


def _split(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows a and b of ``a << 32 | b`` pair keys."""
    return (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _candidate_pairs(
    keys: _Keys,
    window: int,
    max_bucket: int,
    large: str = "chain",
    screen: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    bound: int | None = None,
    stats: CandidateStats | None = None,
) -> pl.DataFrame:
    """Distinct (a, b) row pairs, a < b, that share a band key, band by band.

    Within a bucket sorted by row each row pairs with its next ``window`` rows: every pair of a
    bucket of up to window+1 rows, a linear number in bigger ones.  A bucket of more than
    ``max_bucket`` rows is a key that many documents share (a template, the day's commonest words,
    or mass copies): with ``large="chain"`` each of its rows pairs with the next only (mass copies
    stay connected through the chain), with ``large="skip"`` it is not evidence and makes no pair.
    So each row meets at most ``window`` new rows per band, whatever the corpus.  A pair already on
    the list is skipped (true pairs share most bands); ``screen`` (pair keys and ``keys.signatures``
    -> which pass, their scores) drops hopeless new pairs as each band is done, and with a ``bound``
    only the best-scored pairs of each row are kept (``_Shortlist``), so memory holds the kept pairs
    (10 bytes each), never every band's raw candidates.  Once the last band is screened,
    ``keys.signatures`` is let go (set to None), before the shortlist's final trim, whose sort needs
    memory of its own.  ``stats``, when given, receives the counts.
    """
    rows = np.flatnonzero(keys.eligible).astype(np.uint32)
    shortlist = _Shortlist(len(keys.eligible), bound if screen else None)
    for band_keys in keys.keys if len(rows) > 1 else []:
        key = band_keys[rows]
        by_key = np.argsort(key)
        # Rows whose key another row shares (few), then sorted by key and row.
        same_as_next = key[by_key[1:]] == key[by_key[:-1]]
        shared = by_key[np.concatenate(([False], same_as_next)) | np.concatenate((same_as_next, [False]))]
        shared = shared[np.lexsort((rows[shared], key[shared]))]
        key, row = key[shared], rows[shared].astype(np.uint64)
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        small = np.repeat(np.diff(np.append(starts, len(key))) <= max_bucket, np.diff(np.append(starts, len(key))))
        if large == "skip":
            key, row, small = key[small], row[small], small[small]
        met = []
        for step in range(1, window + 1):
            same = np.flatnonzero((key[step:] == key[:-step]) & (small[:-step] | (step == 1)))
            if len(same) == 0:
                break
            met.append((row[same] << np.uint64(32)) | row[same + step])
        if not met:
            continue
        fresh = shortlist.fresh(_sorted_unique(np.concatenate(met)))
        if screen is None:
            shortlist.add(fresh, np.zeros(len(fresh), dtype=np.uint16))
            continue
        passed, scores = screen(fresh, keys.signatures)
        shortlist.stats.screened_out += int(len(fresh) - passed.sum())
        shortlist.add(fresh[passed], scores[passed])
    keys.signatures = None
    found = shortlist.frame()
    if stats is not None:
        for field in ("pairs", "screened_out", "capped"):
            setattr(stats, field, getattr(stats, field) + getattr(shortlist.stats, field))
    return found


def _prefilter(pairs: np.ndarray, signatures: np.ndarray, threshold: float, config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """Which candidate pairs (``a << 32 | b`` keys) have a MinHash estimate of at least
    ``threshold - prefilter_sigmas`` standard errors, and each pair's number of equal signature values.

    The estimate (share of equal signature values) of a pair at the threshold has standard error
    sqrt(t(1-t)/num_perm); pairs far enough above the threshold (the config field gives the margins)
    keep their place, and most same-topic noise (Jaccard ~0.08) goes.  Pairs with a row beyond
    ``signatures`` (index rows not signed yet) pass, scored ``_UNSCORED``.
    """
    num_perm = signatures.shape[1]
    floor = threshold - config.prefilter_sigmas * np.sqrt(threshold * (1 - threshold) / num_perm)
    a, b = _split(pairs)
    signed = b < len(signatures)
    scores = np.full(len(pairs), _UNSCORED, dtype=np.uint16)
    scores[signed] = kernels.signature_agreement(signatures, a[signed], b[signed])
    return ~signed | (scores / num_perm >= floor), scores


def _all_pairs(n_batch: int, n_index: int) -> pl.DataFrame:
    """Every batch-batch and batch-index pair (small inputs: verifying them all is cheaper than LSH)."""
    a, b = np.triu_indices(n_batch, k=1)
    ia, ib = np.divmod(np.arange(n_batch * n_index), max(n_index, 1))
    return pl.DataFrame(
        {"a": np.concatenate([a, ia]).astype(np.uint32), "b": np.concatenate([b, ib + n_batch]).astype(np.uint32)}
    )
