"""Language identification for article bodies, offline and deterministic.

Uses py3langid (a naive-Bayes byte n-gram model that ships inside the wheel, ~0.7 s to load once per
process, no network, no randomness): the same text always gets the same code. Its output labels
include ISO 639-3 codes and pseudo-labels; we return ISO 639-1 codes only, fold regional varieties
into their macrolanguage, and say ``None`` when the model is not confident — short or
non-linguistic text (numbers, one word, a hashtag) is "unknown", not a guess.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable

import numpy as np
import polars as pl
from numba import njit
from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Below this normalised probability the top label is a guess (measured: "Hello world" scores 0.14,
# real one-sentence news text 0.95+).
DEFAULT_MIN_CONFIDENCE = 0.5

# Model labels that are varieties of an ISO 639-1 macrolanguage; everything else that is not a
# two-letter code (e.g. "zxx" = no linguistic content, "fuv", "ace") has no 639-1 code → None.
_TO_ISO_639_1 = {"yue": "zh", "wuu": "zh", "arz": "ar", "ary": "ar", "uzs": "uz", "gug": "gn"}


@njit(nogil=True, cache=True)
def _visit_counts(nextmove, rowbase, output, data, counts, order):
    """py3langid's byte-DFA walk (``visit_counts``) compiled: counts every feature the walk visits
    into ``counts`` and lists them in ``order`` by first visit; returns how many there are."""
    state = 0
    found = 0
    for letter in data:
        state = nextmove[rowbase[state] + letter]
        feature = output[state]
        if feature >= 0:
            if counts[feature] == 0:
                order[found] = feature
                found += 1
            counts[feature] += 1
    return found


class _CompiledIdentifier(LanguageIdentifier):
    """py3langid's identifier with its per-byte Python loop compiled; same features in the same
    order and the same weights, so the same scores."""

    __slots__ = ("_arrays", "_buffers")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The model's float16 weights as float32 (+28 MB): the scoring product casts the rows it
        # gathers to float32 anyway, so the scores are the same, without that cast on every call.
        self.nb_ptc = self.nb_ptc.astype(np.float32)
        self._arrays = (
            np.frombuffer(self.tk_nextmove, dtype=np.uint32),
            np.asarray(self._rowbase, dtype=np.int64),
            np.asarray(self.tk_output, dtype=np.int64),
        )
        self._buffers = threading.local()

    def _counts(self) -> np.ndarray:
        """This thread's count per feature (0 between calls): one array of the model's ~100k
        features per thread, not zeroed whole again for every text."""
        counts = getattr(self._buffers, "counts", None)
        if counts is None:
            counts = self._buffers.counts = np.zeros(len(self.nb_ptc), dtype=np.int64)
        return counts

    def _raw_score(self, text: bytes) -> np.ndarray:
        counts = self._counts()
        order = np.empty(len(text), dtype=np.int64)
        found = _visit_counts(*self._arrays, np.frombuffer(text, dtype=np.uint8), counts, order)
        if not found:
            return super()._raw_score(b"")
        visited = order[:found]
        visits = counts[visited].astype(np.float32)
        counts[visited] = 0
        # py3langid's _sparse_score, on the arrays themselves rather than a {feature: count} dict
        # made of them: the same product over the features in the same order.
        return np.log1p(visits) @ self.nb_ptc[visited] + self.nb_pc


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Built lazily: loading the model costs ~0.7 s, which commands that never detect should not pay.
    return _CompiledIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _iso_639_1(label: str) -> str | None:
    label = _TO_ISO_639_1.get(label, label)
    return label if len(label) == 2 else None


def detect_language(text: str | None, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None if empty, non-linguistic or uncertain."""
    if text is None or not text.strip():
        return None
    label, confidence = _identifier().classify(text)
    return _iso_639_1(label) if confidence >= min_confidence else None


def detect_languages(texts: pl.Series | Iterable[str | None], min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> pl.Series:
    """``detect_language`` over many texts, as a String series named ``language`` (nulls stay null).

    The model is per-text Python, so this is a loop; identical texts (syndicated copies are common
    in scraped news) are classified once.
    """
    series = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    distinct = series.unique().drop_nulls()
    codes = {text: detect_language(text, min_confidence) for text in distinct}
    return series.replace_strict(codes, default=None, return_dtype=pl.String).alias("language")
