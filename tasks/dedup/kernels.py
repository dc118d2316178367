"""The dedup engine's hot loops, compiled with numba (see tasks/dedup/ for what they compute and why).

Each kernel is one pass over flat arrays, releases the GIL (``nogil``), so ``tasks.dedup`` runs
chunks on several threads, and is cached on disk after its first compilation (``cache``).  As numpy
array expressions these loops made several passes through memory with a temporary array each, and
held the GIL in ``reduceat``; compiled, they stay in registers and cache.  Tests check every kernel
against its definition: tokens against the regex tokeniser, shingle and content-word signatures
against ``datasketch.MinHash`` fed ``feature_hash``, intersections against Python sets.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Token hash: a word's bytes in 64-bit blocks mixed by the FNV-1a 64 prime, then MurmurHash3's fmix64.
_PRIME = np.uint64(0x100000001B3)
_FMIX64 = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_LOW32 = np.uint64(0xFFFFFFFF)
# Bits of a word's flags (``word_hashes``).
CONTENT = 1
NAME = 2


@njit(nogil=True, cache=True)
def _scan_words(data, offsets, neutral, ascii_fold, seed, stop_tokens, stop_starts, min_chars, tokens, flags, per_text):
    """Writes every word's token hash (and flags, when ``flags`` is not empty), counts words per text.

    Flags: ``CONTENT`` for a content word, plus ``NAME`` when it is written with a capital or a digit
    first (a name or a number: "Tokyo", "2025"; only seen in ASCII and neutral Latin-1 text, as the
    other texts are lower-cased by NFKC beforehand).

    ASCII goes through ``ascii_fold`` (separators to 0x20, capitals to small letters).  In a
    ``neutral`` text (NFKC-neutral characters only) the non-ASCII characters are C2 A0 (no-break
    space), C3 97 and C3 B7 (the signs × and ÷) and E2 80 xx (dashes, quotes, ellipsis), which
    separate words, and C3 80-BF, Latin-1 letters, whose capitals (second byte up to 9E) fold to
    small (+0x20).  In any other text every non-ASCII byte belongs to a word (those texts were reduced
    to words and spaces beforehand).  A word's bytes are packed 8 at a time into 64-bit blocks (no
    word contains a zero byte, so the padding is unambiguous), each block mixed in ``h = (h ^ block)
    * prime``, and the result finished with fmix64 and folded to 32 bits.
    """
    k = 0
    for t in range(len(offsets) - 1):
        end = offsets[t + 1]
        inside, count, chars, h, block, shift = False, 0, 0, np.uint64(0), np.uint64(0), np.uint64(0)
        separator_bytes, fold_next = 0, False
        for i in range(offsets[t], end + 1):
            c = np.int64(0x20)  # the end of the text separates too
            if i < end:
                c = np.int64(data[i])
                if c < 0x80:
                    c = np.int64(ascii_fold[c])
                elif neutral[t]:
                    if c >= 0xC0:  # a lead byte
                        second = data[i + 1] if i + 1 < end else 0
                        if c == 0xC3 and second != 0x97 and second != 0xB7:
                            fold_next = second <= 0x9E
                        else:
                            separator_bytes = 2 if c == 0xE2 else 1
                            c = 0x20
                    elif separator_bytes > 0:
                        separator_bytes -= 1
                        c = 0x20
                    elif fold_next:
                        c += 0x20
                        fold_next = False
            if c != 0x20:
                if not inside:
                    inside, count, chars, h, block, shift = True, count + 1, 0, np.uint64(seed), np.uint64(0), np.uint64(0)
                    raw = data[i] if i < end else 0
                    named = (0x41 <= raw <= 0x5A) or (0x30 <= raw <= 0x39) or fold_next
                block |= np.uint64(c) << shift
                shift += np.uint64(8)
                if shift == 64:
                    h = (h ^ block) * _PRIME
                    block, shift = np.uint64(0), np.uint64(0)
                if c < 0x80 or c >= 0xC0:  # a character starts here (not a UTF-8 continuation byte)
                    chars += 1
            elif inside:
                inside = False
                if shift:
                    h = (h ^ block) * _PRIME
                h ^= h >> np.uint64(33)
                h *= _FMIX64[0]
                h ^= h >> np.uint64(33)
                h *= _FMIX64[1]
                h ^= h >> np.uint64(33)
                token = np.uint32(((h >> np.uint64(32)) ^ h) & _LOW32)
                tokens[k] = token
                if len(flags):
                    stop = False
                    for j in range(stop_starts[token >> 16], stop_starts[(token >> 16) + 1]):
                        stop |= stop_tokens[j] == token
                    flags[k] = (CONTENT | (NAME if named else 0)) if chars >= min_chars and not stop else 0
                k += 1
        per_text[t] = count
    return k


def stop_index(stop_tokens):
    """Where each 16-bit prefix's entries start in ``stop_tokens`` (sorted): a lookup in
    ``word_hashes`` then checks about one entry.  Built once per stopword list."""
    return np.searchsorted(stop_tokens, np.arange(2**16 + 1, dtype=np.uint64) << np.uint64(16))


_NO_STOPWORDS = (np.empty(0, np.uint32), stop_index(np.empty(0, np.uint32)))


def word_hashes(data, offsets, neutral, ascii_fold, seed, stopwords=None, min_chars=1):
    """Per word of every text: 32-bit token hash, and (given ``stopwords``) its flags (``CONTENT``, ``NAME``).

    ``data``/``offsets``: the texts' UTF-8 bytes and ``len(texts) + 1`` offsets.  ``stopwords`` is
    (sorted unique stop tokens, their ``stop_index``); a content word has at least ``min_chars``
    characters and its token hash is not a stop token.
    Returns (tokens uint32, flags uint8 or None, words per text int64).
    """
    with_flags = stopwords is not None
    stop_tokens, stop_starts = stopwords if with_flags else _NO_STOPWORDS
    # A text of n bytes has at most (n + 1) // 2 words: room for all of them, trimmed after one pass.
    room = int(((np.diff(offsets) + 1) // 2).sum())
    tokens, flags = np.empty(room, np.uint32), np.empty(room if with_flags else 0, np.uint8)
    per_text = np.zeros(len(offsets) - 1, dtype=np.int64)
    found = _scan_words(data, offsets, neutral, ascii_fold, np.uint64(seed), stop_tokens, stop_starts, min_chars, tokens, flags, per_text)
    return tokens[:found].copy(), (flags[:found].copy() if with_flags else None), per_text


@njit(nogil=True, cache=True)
def ngram_hashes(tokens, per_text, n, mix, mix_out):
    """Hash of every word n-gram per text (a text shorter than n: one n-gram of all its words).

    The n-gram hash mixes its token hashes in order, ``h = (h ^ token) * mix``, then keeps the top
    32 bits of ``h * mix_out``: exactly ``tasks.dedup.feature_hash`` of the words joined by spaces.
    """
    lens = np.where(per_text > 0, np.maximum(per_text - n + 1, 1), 0)
    out = np.empty(lens.sum(), dtype=np.uint32)
    start, k = 0, 0
    for t in range(len(per_text)):
        for j in range(lens[t]):
            h = np.uint64(0)
            for w in range(start + j, min(start + j + n, start + per_text[t])):
                h = (h ^ np.uint64(tokens[w])) * mix
            out[k] = np.uint32((h * mix_out) >> np.uint64(32))
            k += 1
        start += per_text[t]
    return out, lens


@njit(nogil=True, cache=True)
def content_hashes(tokens, flags, per_text, mix, wanted):
    """Hash of every word whose flags include all of ``wanted`` (``CONTENT``: content words;
    ``CONTENT | NAME``: names and numbers), and their number per text: the top 32 bits of
    ``token * mix``, i.e. ``tasks.dedup.feature_hash`` of the word alone."""
    out = np.empty(len(flags), dtype=np.uint32)
    lens = np.zeros(len(per_text), dtype=np.int64)
    w, k = 0, 0
    for t in range(len(per_text)):
        for _ in range(per_text[t]):
            if flags[w] & wanted == wanted:
                out[k] = np.uint32((np.uint64(tokens[w]) * mix) >> np.uint64(32))
                k += 1
                lens[t] += 1
            w += 1
    return out[:k].copy(), lens


@njit(nogil=True, cache=True)
def signatures(features, lens, a, b, fmix):
    """MinHash signatures (len(a), texts) of datasketch's "affine32" scheme; all-max for no features.

    Per feature: ``h = fmix32(feature)``; per permutation k: ``min(a_k * h + b_k mod 2^32)`` over the
    text's features.  ``fmix`` holds the five fmix32 constants datasketch uses.  The loop over a
    text's features is innermost, so it vectorises as a min-reduction.
    """
    sig = np.empty((len(a), len(lens)), dtype=np.uint32)
    s1, m1, s2, m2, s3 = fmix
    mixed = np.empty(int(lens.max()) if len(lens) else 0, dtype=np.uint32)
    start = 0
    for t in range(len(lens)):
        n = lens[t]
        for i in range(n):
            h = np.uint32(features[start + i])
            h = np.uint32(h ^ (h >> s1))
            h = np.uint32(h * m1)
            h = np.uint32(h ^ (h >> s2))
            h = np.uint32(h * m2)
            mixed[i] = np.uint32(h ^ (h >> s3))
        for k in range(len(a)):
            a_k, b_k, low = a[k], b[k], np.uint32(0xFFFFFFFF)
            for i in range(n):
                low = min(low, np.uint32(a_k * mixed[i] + b_k))
            sig[k, t] = low
        start += n
    return sig


@njit(nogil=True, cache=True)
def intersections(keys, slot_weights, start_a, end_a, start_b, end_b):
    """|A ∩ B| per pair, and the summed weight of A ∩ B (``slot_weights``: a table indexed by a
    feature's low bits, its length a power of two; empty: sums stay 0); A and B given as ranges of
    ``keys`` (each range sorted, distinct, one row's ``row << 32 | feature`` keys): a merge of the two
    ranges on their low 32 bits."""
    common = np.zeros(len(start_a), dtype=np.int64)
    weighted = np.zeros(len(start_a), dtype=np.float64)
    with_weights = len(slot_weights) > 0
    slot = np.uint64(len(slot_weights) - 1) if with_weights else np.uint64(0)
    for p in range(len(start_a)):
        i, j, end_i, end_j, same, mass = start_a[p], start_b[p], end_a[p], end_b[p], 0, 0.0
        while i < end_i and j < end_j:
            x, y = keys[i] & _LOW32, keys[j] & _LOW32
            if x == y:
                same += 1
                if with_weights:
                    mass += slot_weights[x & slot]
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        common[p] = same
        weighted[p] = mass
    return common, weighted


@njit(nogil=True, cache=True)
def set_weights(keys, slot_weights, starts, ends):
    """The summed weight (``slot_weights`` as in ``intersections``) of each range of ``keys``."""
    slot = np.uint64(len(slot_weights) - 1)
    out = np.zeros(len(starts), dtype=np.float64)
    for r in range(len(starts)):
        mass = 0.0
        for i in range(starts[r], ends[r]):
            mass += slot_weights[keys[i] & slot]
        out[r] = mass
    return out


@njit(nogil=True, cache=True)
def document_frequencies(features, lens, slots):
    """In how many texts each feature occurs: a table of ``slots`` counters (a power of two) indexed
    by the feature's low bits; features sharing a counter add up (a rare word that collides with a
    common one looks common, which only ever lowers a pair's weighted similarity).

    A text's repeated features count once: each text's distinct features are found with a small
    open-addressing set (slots stamped with the text's number, so it is never cleared), not by
    sorting every text (5x faster).
    """
    table = np.zeros(slots, dtype=np.uint32)
    bits = 4
    while len(lens) and (1 << bits) < 2 * lens.max():
        bits += 1
    held = np.empty(1 << bits, dtype=np.uint32)
    owner = np.full(1 << bits, -1, dtype=np.int64)
    mask = (1 << bits) - 1
    start = 0
    for t in range(len(lens)):
        for i in range(start, start + lens[t]):
            f = features[i]
            h = np.int64((np.uint64(f) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))
            while owner[h] == t and held[h] != f:
                h = (h + 1) & mask
            if owner[h] != t:
                owner[h] = t
                held[h] = f
                table[f & (slots - 1)] += 1
        start += lens[t]
    return table


@njit(nogil=True, cache=True)
def sketch_intersections(keys, weights, start_a, end_a, start_b, end_b, k):
    """Bottom-k estimates per pair: of the ``k`` smallest features of A ∪ B (read off the two bottom-k
    sketches, ranges of ``keys`` as in ``intersections``), how many are in both, and the sum of their
    ``weights`` over those in both and over all of them (no weights: sums stay 0)."""
    seen = np.zeros(len(start_a), dtype=np.int64)
    common = np.zeros(len(start_a), dtype=np.int64)
    shared = np.zeros(len(start_a), dtype=np.float64)
    total = np.zeros(len(start_a), dtype=np.float64)
    with_weights = len(weights) > 0
    for p in range(len(start_a)):
        i, j, end_i, end_j = start_a[p], start_b[p], end_a[p], end_b[p]
        while seen[p] < k and (i < end_i or j < end_j):
            x = keys[i] & _LOW32 if i < end_i else _LOW32 + np.uint64(1)
            y = keys[j] & _LOW32 if j < end_j else _LOW32 + np.uint64(1)
            w = 0.0
            if x == y:
                if with_weights:
                    w = weights[i]
                    shared[p] += w
                common[p] += 1
                i += 1
                j += 1
            elif x < y:
                if with_weights:
                    w = weights[i]
                i += 1
            else:
                if with_weights:
                    w = weights[j]
                j += 1
            total[p] += w
            seen[p] += 1
    return seen, common, shared, total


@njit(nogil=True, cache=True)
def sketch_containment(keys, start_small, end_small, start_large, end_large, large_truncated):
    """Per pair, a sample for the containment of the smaller set in the larger one: the smaller set's
    sketched features that the larger set's sketch can vouch for (at most its largest sketched
    feature when the sketch is truncated, any otherwise), and how many of them it holds."""
    sample = np.zeros(len(start_small), dtype=np.int64)
    held = np.zeros(len(start_small), dtype=np.int64)
    for p in range(len(start_small)):
        j, end_j = start_large[p], end_large[p]
        limit = keys[end_j - 1] & _LOW32 if large_truncated[p] and end_j > j else _LOW32
        for i in range(start_small[p], end_small[p]):
            x = keys[i] & _LOW32
            if x > limit:
                break
            sample[p] += 1
            while j < end_j and (keys[j] & _LOW32) < x:
                j += 1
            if j < end_j and (keys[j] & _LOW32) == x:
                held[p] += 1
    return sample, held


@njit(nogil=True, cache=True)
def segment_orders(values, starts, lens):
    """Per segment ``[starts[t], starts[t] + lens[t])`` of ``values``, the positions (within the
    segment) that sort it."""
    out = np.empty(len(values), dtype=np.int64)
    for t in range(len(starts)):
        out[starts[t] : starts[t] + lens[t]] = np.argsort(values[starts[t] : starts[t] + lens[t]])
    return out


@njit(nogil=True, cache=True)
def _cover(shingles, orders, start_i, len_i, start_j, len_j, n, covered_i, covered_j):
    """Marks the words of text i and of text j covered by an n-gram both texts have: one merge of
    their sorted n-grams (``orders``: each text's sorting positions)."""
    x, y = 0, 0
    while x < len_i and y < len_j:
        u = shingles[start_i + orders[start_i + x]]
        v = shingles[start_j + orders[start_j + y]]
        if u < v:
            x += 1
        elif v < u:
            y += 1
        else:
            while x < len_i and shingles[start_i + orders[start_i + x]] == u:
                s = orders[start_i + x]
                for offset in range(n):  # an n-gram covers its n words
                    covered_i[s + offset] = True
                x += 1
            while y < len_j and shingles[start_j + orders[start_j + y]] == u:
                s = orders[start_j + y]
                for offset in range(n):
                    covered_j[s + offset] = True
                y += 1


@njit(nogil=True, cache=True)
def _own_side(tokens, flags, start, length, covered, run_words, names):
    """One text's side of ``own_text``: its content words in runs of at least ``run_words`` uncovered
    words, its content words, and the names among its uncovered words (written into ``names``);
    returns (content words in such runs, content words, names written)."""
    in_passage, content, found, run, run_content = 0, 0, 0, 0, 0
    for w in range(length + 1):
        if w < length and not covered[w]:
            run += 1
            f = flags[start + w]
            if f & CONTENT:
                run_content += 1
                if f & NAME:
                    names[found] = tokens[start + w]
                    found += 1
        else:
            if run >= run_words:
                in_passage += run_content
            run, run_content = 0, 0
        if w < length and flags[start + w] & CONTENT:
            content += 1
    return in_passage, content, found


@njit(nogil=True, cache=True)
def _distinct(values):
    values = np.sort(values)
    k = 0
    for i in range(len(values)):
        if i == 0 or values[i] != values[i - 1]:
            values[k] = values[i]
            k += 1
    return values[:k]


@njit(nogil=True, cache=True)
def own_text(tokens, flags, starts, lens, shingles, shingle_starts, shingle_lens, orders, left, right, n, run_words):
    """Per pair (``left``/``right``: positions of the two texts), what each text says outside the
    passages both share word for word (see ``tasks.dedup.verify._own_text``): the smaller of their
    shares of content words in runs of at least ``run_words`` uncovered words, and the Jaccard of
    their distinct names (``CONTENT | NAME`` words) outside shared passages (0 when neither has one).

    A word is covered when an n-gram holding it is also an n-gram of the other text (``orders``,
    from ``segment_orders``, sorts each text's n-grams for the merge)."""
    own_share = np.zeros(len(left), dtype=np.float64)
    own_names = np.zeros(len(left), dtype=np.float64)
    for p in range(len(left)):
        i, j = left[p], right[p]
        covered_i = np.zeros(lens[i] + n, dtype=np.bool_)
        covered_j = np.zeros(lens[j] + n, dtype=np.bool_)
        _cover(shingles, orders, shingle_starts[i], shingle_lens[i], shingle_starts[j], shingle_lens[j], n, covered_i, covered_j)
        names_i = np.empty(lens[i], dtype=np.uint32)
        names_j = np.empty(lens[j], dtype=np.uint32)
        passage_i, content_i, found_i = _own_side(tokens, flags, starts[i], lens[i], covered_i, run_words, names_i)
        passage_j, content_j, found_j = _own_side(tokens, flags, starts[j], lens[j], covered_j, run_words, names_j)
        own_share[p] = min(passage_i / max(content_i, 1), passage_j / max(content_j, 1))
        a, b = _distinct(names_i[:found_i]), _distinct(names_j[:found_j])
        x, y, same = 0, 0, 0
        while x < len(a) and y < len(b):
            if a[x] == b[y]:
                same += 1
                x += 1
                y += 1
            elif a[x] < b[y]:
                x += 1
            else:
                y += 1
        union = len(a) + len(b) - same
        own_names[p] = same / union if union else 0.0
    return own_share, own_names


@njit(nogil=True, cache=True)
def signature_agreement(signatures, a, b):
    """Per pair, how many MinHash values rows ``a`` and ``b`` of ``signatures`` (rows x perms) agree on."""
    out = np.empty(len(a), dtype=np.uint16)
    perms = signatures.shape[1]
    for p in range(len(a)):
        same = 0
        for k in range(perms):
            same += signatures[a[p], k] == signatures[b[p], k]
        out[p] = same
    return out
