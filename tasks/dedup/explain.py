"""Why two texts are duplicates: each tier's measures and the evidence they share."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import polars as pl

from tasks.config import DedupConfig
from tasks.dedup.features import _INDEXED_KINDS, _WORD, TIERS, _features, _Sets, _Tokeniser, stopwords
from tasks.dedup.verify import _similarities


def explain_match(dropped: str, kept: str, config: DedupConfig = DedupConfig(), examples: int = 3) -> dict:
    """Why two texts are duplicates, measured again on the two texts alone: per tier what it verifies
    (shingle Jaccard and containment; content-word and names Jaccard: the rarity weights of the run
    that decided need its whole batch, so the verified score is the one stored with the duplicate),
    and the evidence: shared names and numbers, shared content words, shared shingles."""
    bodies = pl.Series([dropped, kept], dtype=pl.String)
    feats = _features(bodies, _Tokeniser(config), config, TIERS)
    pair = pl.DataFrame({"a": [0], "b": [1]}, schema={"a": pl.UInt32, "b": pl.UInt32})
    measured = {}
    for kind in _INDEXED_KINDS:
        sets = _Sets.of(np.repeat(np.arange(2), feats.lens[kind]), feats.flat[kind])
        measured[kind] = _similarities(pair, sets).row(0, named=True)
    stop = set(stopwords(config).to_list())

    def words(text: str) -> tuple[set[str], set[str], set[tuple[str, ...]]]:
        raw = re.findall(_WORD, unicodedata.normalize("NFKC", text))
        lower = [w.lower() for w in raw]
        content = {w for w in lower if w not in stop and len(w) >= config.min_content_word_chars}
        names = {w.lower() for w in raw if (w[0].isupper() or w[0].isdigit()) and w.lower() in content}
        n = config.near_copy_ngram
        return content, names, {tuple(lower[i : i + n]) for i in range(len(lower) - n + 1)}

    (content_a, names_a, shingles_a), (content_b, names_b, shingles_b) = words(dropped), words(kept)
    shared_shingles = sorted(shingles_a & shingles_b)
    return {
        "near_copy": {k: measured["near_copy"][k] for k in ("jaccard", "containment")},
        "rewrite": {"content_jaccard": measured["rewrite"]["jaccard"], "names_jaccard": measured["names"]["jaccard"]},
        "shared_names": sorted(names_a & names_b),
        "shared_content_words": len(content_a & content_b),
        "shared_shingles": len(shared_shingles),
        "shingle_examples": [" ".join(s) for s in shared_shingles[:examples]],
    }
