"""How often the read step decodes a legacy-encoded scrape to its own text, against charset-normalizer.

A text scrape that is not Unicode carries no label: its encoding is guessed from its bytes. Each case
is a text encoded in a legacy encoding; it counts as right when ``tasks.read.decode`` gives the text
back exactly. The baseline is charset-normalizer's best guess with windows-1252 winning its exact ties
(the read step's method before chardet). Groups:

- ``en-page`` / ``west-page`` / ``cjk-page``: the dev sets' raw pages and gold bodies (first 300 and
  2,000 characters, and whole) by the language py3langid gives them, in the encoding that language's
  pages were saved in (windows-1252; EUC-KR, Shift JIS). Pages that encoding cannot hold, and pure
  ASCII, are left out;
- ``<encoding>-words``: the dev sets are nearly all English, so other languages' legacy encodings
  are tried on word-list text: sentences of 6-16 words drawn (fixed seed) from jusText's stop-word
  list of each language. Real words with their real letters, not real prose.

    python -m bench.encoding [--bench-dir DIR ...]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import justext
from charset_normalizer import from_bytes

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.noise import BENCHMARKS, load_pages  # noqa: E402
from tasks.language import detect_language  # noqa: E402
from tasks.read import Decoded, decode  # noqa: E402

DEFAULT_BENCH_DIRS = [BENCHMARKS / "aeb-dev", BENCHMARKS / "wcxb-dev"]
PAGE_ENCODINGS = {"en": "cp1252", "fr": "cp1252", "de": "cp1252", "es": "cp1252", "pt": "cp1252", "it": "cp1252", "ko": "euc-kr", "ja": "shift_jis"}
PREFIX_CHARS = (300, 2000, None)
WORD_LIST_ENCODINGS = {
    "cp1252": ["French", "German", "Spanish", "Portuguese", "Italian", "Dutch", "Swedish", "Danish", "Finnish"],
    "cp1250": ["Czech", "Polish", "Hungarian", "Slovak", "Croatian", "Slovenian", "Romanian"],
    "iso8859-2": ["Czech", "Polish", "Hungarian", "Slovak"],
    "cp1251": ["Russian", "Ukrainian", "Bulgarian", "Serbian"],
    "koi8-r": ["Russian"],
    "iso8859-5": ["Russian", "Bulgarian"],
    "cp1253": ["Greek"],
    "iso8859-7": ["Greek"],
    "cp1254": ["Turkish"],
    "cp1257": ["Lithuanian", "Latvian", "Estonian"],
    "iso8859-15": ["French", "Finnish"],
}
WORD_LIST_TEXTS = 5  # per language, encoding and length
WORD_LIST_CHARS = (300, 2000)


def page_cases(bench_dirs: list[Path]) -> Iterator[tuple[str, str, str]]:
    """(group, encoding, text) for the dev sets' raw pages and gold bodies."""
    for bench in bench_dirs:
        for text in (text for page in load_pages(bench) for text in (page.raw, page.gold)):
            language = detect_language(text[:3000])
            if language not in PAGE_ENCODINGS:
                continue
            group = "en-page" if language == "en" else "cjk-page" if language in ("ko", "ja") else "west-page"
            for chars in PREFIX_CHARS:
                yield group, PAGE_ENCODINGS[language], text[:chars]


def word_list_cases() -> Iterator[tuple[str, str, str]]:
    """(group, encoding, text): sentences of stop words of each language, a fixed seed."""
    rng = random.Random(7)
    for encoding, languages in WORD_LIST_ENCODINGS.items():
        for language in languages:
            words = sorted(justext.get_stoplist(language))
            for chars in WORD_LIST_CHARS:
                for _ in range(WORD_LIST_TEXTS):
                    sentences: list[str] = []
                    while sum(map(len, sentences)) < chars:
                        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(6, 16)))
                        sentences.append(f"{sentence[0].upper()}{sentence[1:]}. ")
                    yield f"{encoding}-words", encoding, "".join(sentences)


def read_step(data: bytes) -> str | None:
    decoded = decode(data)
    return decoded.text if isinstance(decoded, Decoded) else None


def charset_normalizer_guess(data: bytes) -> str | None:
    """The read step's decoding before chardet: BOM-less UTF-8 first, then charset-normalizer's
    best match, windows-1252 winning an exact tie of chaos and coherence."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    tied = {m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    return data.decode("cp1252" if "cp1252" in tied else best.encoding, errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", type=Path, action="append", help="a dev set (default: aeb-dev and wcxb-dev)")
    args = parser.parse_args(argv)
    decoders: dict[str, Callable[[bytes], str | None]] = {"read step (chardet)": read_step, "charset-normalizer": charset_normalizer_guess}
    right: Counter[tuple[str, str]] = Counter()
    cases: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    for group, encoding, text in [*page_cases(args.bench_dir or DEFAULT_BENCH_DIRS), *word_list_cases()]:
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        if data.isascii():
            continue
        cases[group] += 1
        for name, decoder in decoders.items():
            started = time.process_time()
            right[name, group] += decoder(data) == text
            seconds[name] += time.process_time() - started
    names = list(decoders)
    print(f"| group | cases | {' | '.join(names)} |")
    print(f"|---|---|{'---|' * len(names)}")
    for group in sorted(cases):
        print(f"| {group} | {cases[group]} | " + " | ".join(f"{right[name, group] / cases[group]:.3f}" for name in names) + " |")
    total = sum(cases.values())
    print(f"| all | {total} | " + " | ".join(f"{sum(right[name, g] for g in cases) / total:.3f}" for name in names) + " |")
    print(f"| ms a case | | " + " | ".join(f"{seconds[name] / total * 1000:.2f}" for name in names) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
