"""Clean step: find the article in a scraped page's visible text and drop everything else.

A naive scraper saves every visible line of a page: menus, share buttons, captions, teasers for
other stories, comment sections, footers. This step works on plain text alone, for sites never
seen, in small passes over the lines (datatrove-style: each pass is a named function):

1. classify every line: typed noise rules first (credits, prompts, datelines, headings of link
   blocks...), then its recurrence across the batch (site chrome), then, jusText-style, its length,
   closing punctuation and stop-word density (the page's language is guessed from the stopwordsiso
   lists, and the thresholds follow the density of the page's own long lines);
2. find the main text region: the contiguous run of lines with the highest summed score (prose
   scores by its length, everything else costs a penalty, menus more), cut at comment sections and
   copyright notices, and taken below the repeated headline when the page shows one;
3. trim teasers that stop mid-sentence off the region's end, extend it over a list or table that
   closes the article, and keep its lines minus noise and the links under "Related" headings;
4. repeat 1-3 on the kept lines until nothing more goes, so that cleaning is idempotent.

Title, published date and byline are read from the lines around the region's start. Nothing is
ever rewritten: every body line is a line of the input, stripped, in input order.
"""

from __future__ import annotations

import datetime
import gc
import json
import re
import unicodedata
from bisect import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from itertools import combinations
from typing import NamedTuple

import polars as pl
import sentencex
import stopwordsiso
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.config import CleanConfig, ValidationConfig
from tasks.language import detect_language
from tasks.parse import RawDocument, raw_documents
from tasks.quarantine import Rejection
from tasks.records import ENGINES_DIFFER_PATTERN, article_id, content_hash, url_site, word_counts
from tasks.schema import RECORDS
from tasks.validate import RECORD_SUITE_FILE, load_suite

__all__ = [
    "CleanOutcome",
    "CleanedText",
    "Removal",
    "SiteChrome",
    "clean_documents",
    "clean_task",
    "clean_text",
    "find_batch_boilerplate",
    "find_site_boilerplate",
    "site_of",
]


@dataclass(frozen=True)
class Removal:
    line: int  # 1-based line number in the raw text where the removed span starts
    text: str  # the removed text, several lines joined with "\n" when a span was removed whole
    rule: str  # snake_case name of the rule that removed it


@dataclass(frozen=True)
class CleanedText:
    title: str | None
    published_date: datetime.date | None
    byline: str | None
    body: str  # article paragraphs in order, joined with "\n"
    removed: tuple[Removal, ...]

    def rule_counts(self) -> dict[str, int]:
        return dict(Counter(r.rule for r in self.removed))


# ---------------------------------------------------------------------------------------------
# Text primitives
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+")
_HAN_KANA_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Han and kana: one character carries about a word, so it weighs more in a line's length.
_HAN_KANA = re.compile(f"[{_HAN_KANA_RANGES}]")
# Those and Thai, Lao, Myanmar, Khmer: scripts written without spaces between words.
_UNSPACED = re.compile(f"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff{_HAN_KANA_RANGES}]")
_UNSPACED_SENTENCE_PUNCT = re.compile(r"[。！？，、။၊។៕]")
_CLOSERS = "\"'”’»›)]}」』】）*"
_TERMINAL = frozenset(".!?。！？:;။។៕")
# Emoji and their modifiers after the final punctuation: "See you soon! 🙂"
_TRAILING_SYMBOLS = frozenset({"So", "Sk", "Mn", "Cf"})
# A trailing ellipsis marks text cut short by the site (a teaser), not the end of a sentence.
_ELLIPSIS = ("…", "...")
# "— Jane Doe (@jane) May 2, 2019" signs a quoted post inside an article.
_ATTRIBUTION_DASHES = ("—", "–", "―")
_DIGIT_RUN = re.compile(r"\d+")
# A label's words: apostrophes are dropped ("don't" is "dont") and ASCII digits part words.
_LABEL_WORD = re.compile(r"[^\W0-9]+")


def normalise(line: str) -> str:
    """Key for comparing lines: case, digits and spacing do not distinguish chrome ("5 hours ago")."""
    folded = line.casefold()
    # Most lines hold no digit, and finding none is cheaper than a substitution that makes none.
    return " ".join((_DIGIT_RUN.sub("0", folded) if _DIGIT_RUN.search(folded) else folded).split())


def normalised_lines(text: str) -> list[str]:
    """``normalise`` of each of text's lines, casefolding and replacing digits over the whole text
    at once (neither ever makes or removes a line break)."""
    return [" ".join(line.split()) for line in _DIGIT_RUN.sub("0", text.casefold()).splitlines()]


# What makes a label's words differ from the line's tokens (``_tokens``): casefolding makes none of
# these characters, so a line without them has its tokens as its label's words.
_LABEL_NOT_TOKENS = re.compile(r"['’0-9]")


def _label_words(line: str, tokens: Sequence[str] | None = None) -> Sequence[str]:
    """The words of ``_label(line)``; ``tokens``: the line's ``_tokens``, when the caller has them."""
    if tokens is not None and not _LABEL_NOT_TOKENS.search(line):
        return tokens
    return _LABEL_WORD.findall(line.casefold().replace("'", "").replace("’", ""))


def _label(line: str) -> str:
    """A line reduced to its words, for matching it against a list of headings or prompt words."""
    return " ".join(_label_words(line))


def _ends_sentence(text: str) -> bool:
    """Whether the line ends like a sentence, looking past closing quotes, brackets and emoji."""
    last = text[-1:]
    # Most lines end in a letter, a digit or the sentence's own mark, which no closer, space or
    # emoji is: decided without looking up Unicode categories.
    if last in _TERMINAL:
        return not text.endswith(_ELLIPSIS)
    if last.isalnum():
        return False
    end = len(text)
    while end and (
        text[end - 1] in _CLOSERS or text[end - 1].isspace() or unicodedata.category(text[end - 1]) in _TRAILING_SYMBOLS
    ):
        end -= 1
    return bool(end) and text[end - 1] in _TERMINAL and not text[:end].endswith(_ELLIPSIS)


class _Phrases(NamedTuple):
    """Phrases to find in a label as whole words: a match starts at a word of the label that is
    the first word of a phrase, so a label without one (most) is not searched."""

    pattern: re.Pattern[str]
    first_words: frozenset[str]

    # ``words``: the label's words when the caller has them (a label tested against several lists).
    def search(self, label: str, words: Iterable[str] | None = None) -> re.Match[str] | None:
        if self.first_words.isdisjoint(label.split() if words is None else words):
            return None
        return self.pattern.search(label)

    def distinct(self, label: str, words: Iterable[str] | None = None) -> int:
        """How many different phrases ``label`` holds."""
        if self.first_words.isdisjoint(label.split() if words is None else words):
            return 0
        return len(set(self.pattern.findall(label)))


def _longest_first(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, escaped, longest first so a phrase wins over its own prefix."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _phrase_pattern(phrases: Sequence[str]) -> _Phrases:
    words = {_label(p) for p in phrases if _label(p)}
    if not words:
        return _Phrases(re.compile(r"(?!x)x"), frozenset())
    pattern = re.compile(r"\b(?:" + _longest_first(words) + r")\b")
    return _Phrases(pattern, frozenset(w.split()[0] for w in words))


# ---------------------------------------------------------------------------------------------
# Stop words (stopwordsiso): the page's language is the list that covers most of its tokens
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _stopword_index(languages: tuple[str, ...]) -> tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]]:
    langs = languages or tuple(sorted(stopwordsiso.langs()))
    # Some lists hold digits, which would make every table of numbers vote for their language.
    lists = {
        lang: frozenset(w.casefold() for w in stopwordsiso.stopwords(lang) if not any(ch.isdigit() for ch in w))
        for lang in langs
    }
    index: dict[str, list[str]] = {}
    for lang, words in lists.items():
        for word in words:
            index.setdefault(word, []).append(lang)
    return {w: tuple(ls) for w, ls in index.items()}, lists


class PageLanguage(NamedTuple):
    code: str  # ISO 639-1 code of the stop-word list that covers most of the page's tokens ("" if none)
    stopwords: frozenset[str]


def _tokens(text: str) -> tuple[str, ...]:
    """The casefolded words of a line."""
    return tuple(_TOKEN.findall(text.casefold()))


# A line's words serve the page-language vote and then its facts: memoised for lines of ordinary
# length while a batch is cleaned (``_memoised_per_batch``).
_cached_tokens = lru_cache(maxsize=None)(_tokens)


def _line_tokens(text: str, config: CleanConfig) -> tuple[str, ...]:
    return (_cached_tokens if len(text) <= config.segment_line_chars else _tokens)(text)


def page_language(lines: Sequence[str], config: CleanConfig) -> PageLanguage:
    """The page's language: the stop-word list that covers most of the tokens its first lines vote
    with (`language_sample_tokens` of them)."""
    index, lists = _stopword_index(tuple(config.stopword_languages))
    per_line = config.language_line_tokens
    found: list[str] = []
    sampled = 0
    for line in lines:
        # Each line votes with its first distinct tokens only: one huge or repetitive line must not
        # outvote the page. In order of first appearance, so that a tied vote goes to the language
        # whose stop word came first, in every process (a set's order follows the string-hash seed).
        sample = dict.fromkeys(_line_tokens(line, config)[:per_line])
        found.extend(filter(index.__contains__, sample))
        sampled += len(sample)
        if sampled >= config.language_sample_tokens:
            break
    votes: Counter[str] = Counter()
    for word, n in Counter(found).items():
        for lang in index[word]:
            votes[lang] += n
    if not votes:
        return PageLanguage("", frozenset())
    code = votes.most_common(1)[0][0]
    return PageLanguage(code, lists[code])


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_YEAR = re.compile(r"(?:19|20)\d\d")
# What makes a line a copyright notice rather than a line that mentions copyright.
_COPYRIGHT_MARK = re.compile(r"[©ⓒ]|\(c\)|rights\s+reserved", re.IGNORECASE)


def _date_patterns(months: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    alt = _longest_first(months)
    day = r"(?P<d>\d{1,2})(?:st|nd|rd|th|er|º)?\.?"
    return (
        re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
        re.compile(r"(?P<y>(?:19|20)\d\d)\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]"),
        re.compile(rf"\b(?P<mn>{alt})\.?\s+{day},?\s+(?P<y>(?:19|20)\d\d)\b", re.IGNORECASE),
        re.compile(rf"\b{day}\s+(?:de\s+|of\s+)?(?P<mn>{alt})\.?,?\s+(?:de\s+)?(?P<y>(?:19|20)\d\d)\b", re.IGNORECASE),
    )


def _parse_date(text: str, rules: _Rules) -> datetime.date | None:
    """The first valid calendar date written in `text` (ISO, CJK, or with a month name)."""
    if not _YEAR.search(text):
        return None
    for pattern in rules.dates:
        for m in pattern.finditer(text):
            month = rules.months.get(m["mn"].casefold(), 0) if "mn" in pattern.groupindex else int(m["m"])
            try:
                return datetime.date(int(m["y"]), month, int(m["d"]))
            except ValueError:
                continue
    return None


# ---------------------------------------------------------------------------------------------
# Line features and classes
# ---------------------------------------------------------------------------------------------


class Kind:
    """What a line is judged to be. A plain class of string constants, not an Enum: on Python 3.11
    every ``Kind.X`` read goes through ``EnumType.__getattr__`` (~5x a plain class attribute), and
    the passes read them for every line (the clean step ran ~5 % faster without it)."""

    GOOD = "good"  # reads as article prose
    NEAR_GOOD = "near_good"  # prose-like but weak: kept inside the region, little weight in finding it
    SHORT = "short"  # too short to judge alone: a heading, a label, a table row
    BAD = "bad"  # long but not prose: a list of names, a menu on one line
    NOISE = "noise"  # matched a typed noise rule
    TRAILER = "trailer"  # opens a comment section or a copyright notice: the article is above it


class Unit(NamedTuple):
    """What is judged as one line: an input line, or a run of sentences of a long input line."""

    index: int  # position in the list of input lines
    seq: int  # position among the units of that input line (0 for a line judged whole)
    start: int  # where the stripped text starts in the input line
    end: int  # and where it ends
    text: str  # stripped


def segment_lines(lines: Sequence[str], config: CleanConfig, language: str) -> list[Unit]:
    """The non-blank lines as units; a line longer than `segment_line_chars` is cut into runs of
    whole sentences (sentencex, in the page's language) of at least `segment_chars` characters, so
    that a one-line article is judged like paragraphs. A line with no sentence ends (a menu dumped
    on one line) stays one unit."""
    units: list[Unit] = []
    for i, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        start = len(line) - len(line.lstrip())
        if len(text) <= config.segment_line_chars:
            units.append(Unit(i, 0, start, start + len(text), text))
            continue
        seq = 0
        run_start = pos = start
        sentences = sentencex.segment(language or "en", text)
        for n, sentence in enumerate(sentences):
            pos += len(sentence)
            if pos - run_start >= config.segment_chars or n == len(sentences) - 1:
                piece = line[run_start:pos]
                lead = len(piece) - len(piece.lstrip())
                stripped = piece.strip()
                if stripped:
                    units.append(Unit(i, seq, run_start + lead, run_start + lead + len(stripped), stripped))
                    seq += 1
                run_start = pos
    return units


class Unwrapped(NamedTuple):
    """The input's lines with hard-wrapped prose joined (``unwrap_lines``): ``lines[n]`` is the input
    lines ``first[n]`` up to ``first[n + 1]`` (the non-blank ones stripped and joined with a space
    when there are several)."""

    lines: list[str]
    first: list[int]  # input line of each line's start, then the number of input lines
    source: Sequence[str]  # the input lines

    def input_lines(self, n: int) -> list[str]:
        """The stripped input lines line `n` was joined from (none when it is one input line)."""
        a, b = self.first[n], self.first[n + 1]
        return [line.strip() for line in self.source[a:b] if line.strip()] if b - a > 1 else []

    def text_of(self, unit: Line | Unit) -> str:
        """A unit's text as the input has it: the input lines of a joined line, one per line."""
        return "\n".join(self.input_lines(unit.index)) or unit.text


def _wraps_into(text: str, following: str, config: CleanConfig) -> bool:
    """Whether `following` goes on with the sentence `text` stops in the middle of (both stripped): the
    line is as long as a wrapped one, ends in a word or a comma, and the next opens in lower case (or
    with any word after a comma) and is as long or ends the sentence. A heading over a paragraph
    opens it in upper case; a menu's items are short and end no sentence."""
    if len(text) < config.wrap_min_chars or not following:
        return False
    if len(following) < config.wrap_min_chars and not _ends_sentence(following):
        return False
    if text[-1] == ",":
        return following[0].isalnum()
    return text[-1].isalnum() and following[0].islower()


def unwrap_lines(lines: Sequence[str], config: CleanConfig, boilerplate: frozenset[str] = frozenset()) -> Unwrapped:
    """The input lines with hard-wrapped prose (a paragraph broken mid-sentence every so many
    characters, as in plain-text and e-mail exports, with or without a blank line between its
    lines) joined into one line per run of wrapped lines, so it is judged like a paragraph rather
    than as page furniture: the inverse of ``segment_lines``. A joined line stays under
    `segment_line_chars`, and a site's chrome line is never joined."""
    out: list[str] = []
    first: list[int] = []
    stripped = [line.strip() for line in lines]  # each line is looked at up to three times
    pos = 0
    while pos < len(lines):
        first.append(pos)
        text = stripped[pos]
        parts = [text]
        size = len(text)
        while pos + 1 < len(lines):
            step = 2 if not stripped[pos + 1] and pos + 2 < len(lines) else 1  # over one blank line
            following = stripped[pos + step]
            if not (
                _wraps_into(parts[-1], following, config)
                and size + 1 + len(following) <= config.segment_line_chars
                and not (boilerplate and (normalise(parts[-1]) in boilerplate or normalise(following) in boilerplate))
            ):
                break
            parts.append(following)
            size += 1 + len(following)
            pos += step
        out.append(" ".join(parts) if len(parts) > 1 else lines[first[-1]])
        pos += 1
    return Unwrapped(out, [*first, len(lines)], lines)


def join_units(units: Sequence[Line | Unit], text: Unwrapped) -> list[str]:
    """Body lines of kept units: adjacent units of one segmented input line are joined back into one
    line with the input text between them, a line joined from wrapped input lines is those lines
    again, and every other unit is a line of its own."""
    out: list[str] = []
    prev: Line | Unit | None = None
    for unit in units:
        if prev is not None and unit.index == prev.index and unit.seq == prev.seq + 1:
            out[-1] += text.lines[unit.index][prev.end : unit.start] + unit.text
        else:
            out.extend(text.input_lines(unit.index) or [unit.text])
        prev = unit
    return out


class Line(NamedTuple):  # a tuple: built for every unit of every page, twice
    index: int  # position in the list of input lines
    seq: int  # Unit.seq
    start: int  # Unit.start
    end: int  # Unit.end
    text: str  # stripped
    key: str  # normalised, for comparing lines
    kind: str  # a Kind
    rule: str | None  # the typed rule for NOISE/TRAILER lines
    weight: float  # effective length in characters
    words: int
    ends_sentence: bool
    density: float  # share of stop words among the tokens
    list_row: bool  # a list marker or a digit in it (``_is_list_row``): a table row or list item when short
    field: str | None  # the label of a "Label: value" field it opens with (``_field_label``)


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per config (``_compile``), a cache key
class _Rules:
    """Config compiled once: the regexes behind the typed noise rules."""

    config: CleanConfig
    prompt: tuple[tuple[str, _Phrases], ...]
    prompt_noun: re.Pattern[str]  # what makes a prompt word a noun after it: "Share of households"
    related: frozenset[str]
    closing: frozenset[str]
    about_heading: re.Pattern[str]  # "About Acme Corp", "About Jane Doe": the site's or the author's box
    sections: frozenset[str]
    author_name: re.Pattern[str]
    author_intro: re.Pattern[str]  # what follows an author's name opening a bio: "(Reuters) is a ..."
    author_role: re.Pattern[str]
    author_self_intro: re.Pattern[str]  # how a box in the first person opens: "I'm the founder of ..."
    author_paragraph: re.Pattern[str]  # a paragraph opening with a person's name and what they do: "Jane Doe is ..."
    author_pronoun: re.Pattern[str]  # "she", "his": the paragraph goes on about a person
    comments: frozenset[str]
    related_prefix: re.Pattern[str]
    closing_prefix: re.Pattern[str]  # a closing heading and its text on one line: "Tags: bus, council"
    related_heading_start: re.Pattern[str]
    newsletter: _Phrases
    newsletter_pitch: _Phrases  # "... delivered to your inbox": a pitch on its own
    affiliate_disclosure: _Phrases  # "We may earn a commission from links on this page"
    ad_labels: frozenset[str]
    credit: re.Pattern[str]
    credit_tail: re.Pattern[str]
    copyright: re.Pattern[str]
    byline: re.Pattern[str]
    disclaimer: re.Pattern[str]
    kicker: re.Pattern[str]
    comment_count: re.Pattern[str]
    comment_author: re.Pattern[str]
    relative_time: re.Pattern[str]
    dates: tuple[re.Pattern[str], ...]
    dateline_label: re.Pattern[str]
    byline_end: re.Pattern[str]
    months: dict[str, int]

    @cached_property
    def phrase_first_words(self) -> frozenset[str]:
        """The first words of every phrase list: a label holding none of them holds no phrase."""
        lists = (self.newsletter, self.newsletter_pitch, self.affiliate_disclosure, *(phrases for _, phrases in self.prompt))
        return frozenset().union(*(phrases.first_words for phrases in lists))


class Lexicons(NamedTuple):
    """The reviewed word lists of tasks/lexicons/<field>.json (package data)."""

    related_headings: tuple[str, ...]
    closing_headings: tuple[str, ...]
    section_headings: tuple[str, ...]
    author_role_words: tuple[str, ...]
    author_bio_verbs: tuple[str, ...]
    author_self_intros: tuple[str, ...]
    author_pronouns: tuple[str, ...]
    about_heading_non_names: tuple[str, ...]
    comment_headings: tuple[str, ...]
    comment_count_words: tuple[str, ...]
    comment_author_verbs: tuple[str, ...]
    share_prompt_words: tuple[str, ...]
    newsletter_words: tuple[str, ...]
    newsletter_pitch_phrases: tuple[str, ...]
    ad_labels: tuple[str, ...]
    app_prompt_words: tuple[str, ...]
    action_prompt_words: tuple[str, ...]
    affiliate_disclosure_words: tuple[str, ...]
    consent_prompt_words: tuple[str, ...]
    prompt_noun_links: tuple[str, ...]
    disclaimer_words: tuple[str, ...]
    credit_words: tuple[str, ...]
    byline_words: tuple[str, ...]
    dateline_labels: tuple[str, ...]
    relative_time_words: tuple[str, ...]
    month_names: dict[str, int]  # casefolded name -> month number


@lru_cache(maxsize=1)
def lexicons() -> Lexicons:
    folder = resources.files("tasks") / "lexicons"

    def load(name: str) -> dict:
        return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))

    months = {
        name.casefold(): number
        for names in load("month_names")["months"].values()
        for number, name in enumerate(names, start=1)
    }
    lists = {name: tuple(load(name)["words"]) for name in Lexicons._fields if name != "month_names"}
    return Lexicons(**lists, month_names=months)


# What separates a related-stories heading from the story it names on one line: "More: ...",
# "Related » ...". A line without one cannot open with such a pair.
_RELATED_SEPARATOR = re.compile(r"[:：»›>|-]")

# The word that closes a relative time ("5 hours ago"); no case variant of its letters is another
# letter, so a line that does not hold it in lower case cannot match the rule.
_AGO = "ago"


@lru_cache(maxsize=8)
def _compile(config_json: str) -> _Rules:
    config = CleanConfig.model_validate_json(config_json)
    words = lexicons()
    related = frozenset(_label(h) for h in words.related_headings)
    months = words.month_names
    # What follows a person's name opening a bio: a parenthesis at most ("(@jane)"), then a verb of
    # author_bio_verbs.json ("is", "writes").
    bio_verb = r"(?:\s*\([^)]*\))?\s+(?:" + "|".join(re.escape(w) for w in words.author_bio_verbs) + r")\b"
    return _Rules(
        config=config,
        dates=_date_patterns(list(months)),
        dateline_label=re.compile(
            r"^\W*(?:" + "|".join(re.escape(w) for w in words.dateline_labels) + r")\b", re.IGNORECASE
        ),
        months=months,
        byline_end=re.compile(
            r"\s[-–—|•·]\s|[|@•·(\[\d]|\b(?:"
            + "|".join(re.escape(w) for w in (*words.dateline_labels, *months))
            + r")\b",
            re.IGNORECASE,
        ),
        prompt=(
            ("share_prompt", _phrase_pattern(words.share_prompt_words)),
            ("app_prompt", _phrase_pattern(words.app_prompt_words)),
            ("action_prompt", _phrase_pattern(words.action_prompt_words)),
            ("cookie_prompt", _phrase_pattern(words.consent_prompt_words)),
        ),
        prompt_noun=re.compile(r" (?:" + "|".join(re.escape(_label(w)) for w in words.prompt_noun_links) + r")\b"),
        related=related,
        closing=frozenset(_label(h) for h in words.closing_headings),
        # "About" and a name of one to four capitalised words ("About Acme Media").
        about_heading=re.compile(
            r"^About (?!(?:" + "|".join(re.escape(w) for w in words.about_heading_non_names) + r")\b)"
            r"[^\W\d_a-z][\w'’.&-]*(?: [^\W\d_a-z][\w'’.&-]*){0,3}$"
        ),
        sections=frozenset(_label(h) for h in words.section_headings),
        # A name of two to four capitalised words, alone on its line or before a comma or title.
        author_name=re.compile(r"^(?:about\s+(?:the\s+author:?\s*)?)?(?P<name>[^\W\d_][\w'’.-]+(?:\s[^\W\d_][\w'’.-]+){1,3})\b", re.IGNORECASE),
        author_intro=re.compile(bio_verb),
        author_self_intro=re.compile("|".join(re.escape(w) for w in words.author_self_intros) + r"\b"),
        # Two to four capitalised words, then what follows a name opening a bio. A story introduces its
        # people in apposition ("Jane Doe, a data scientist in Ohio, has spent ..."), a bio does not.
        author_paragraph=re.compile(r"^[^\W\d_a-z][\w'’.-]+(?: [^\W\d_a-z][\w'’.-]+){1,3}" + bio_verb),
        author_pronoun=re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words.author_pronouns) + r")\b", re.IGNORECASE),
        author_role=re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words.author_role_words) + r")\b", re.IGNORECASE),
        newsletter=_phrase_pattern(words.newsletter_words),
        newsletter_pitch=_phrase_pattern(words.newsletter_pitch_phrases),
        affiliate_disclosure=_phrase_pattern(words.affiliate_disclosure_words),
        ad_labels=frozenset(_label(w) for w in words.ad_labels),
        related_heading_start=re.compile(
            r"^(?:" + _longest_first(related) + r") "
        ),
        comments=frozenset(_label(h) for h in words.comment_headings),
        closing_prefix=re.compile(
            r"^(?:" + _longest_first(words.closing_headings) + r")\s*[:：]\s*\S",
            re.IGNORECASE,
        ),
        related_prefix=re.compile(
            r"^(?:" + _longest_first(related) + r")\s*" + _RELATED_SEPARATOR.pattern + r"\s*\S",
            re.IGNORECASE,
        ),
        credit=re.compile(
            r"^[(\[]?(?:"
            + "|".join(re.escape(w) for w in words.credit_words)
            + r")(?:\s+credits?)?s?\s*(?:by\b|[:：|/©])",
            re.IGNORECASE,
        ),
        credit_tail=re.compile(
            r"[(\[](?:[^()\[\]]*/[^()\[\]]*|(?:"
            + "|".join(re.escape(w) for w in words.credit_words)
            + r")\b[^()\[\]]*)[)\]]$",
            re.IGNORECASE,
        ),
        copyright=re.compile(r"(?:^(?:©|\(c\)|copyright\b)|all rights reserved|©\s*(?:19|20)\d\d)", re.IGNORECASE),
        byline=re.compile(
            r"^(?:" + "|".join(re.escape(w) for w in words.byline_words) + r")\s*(?::|\s)\s*(?P<name>.*)$",
            re.IGNORECASE,
        ),
        disclaimer=re.compile(
            r"^(?:" + "|".join(re.escape(w) for w in words.disclaimer_words) + r")\b[^:]{0,30}:", re.IGNORECASE
        ),
        # An ALL-CAPS label of a few words and a colon: "LIMITS: ...", "COMMUNIST ALIGNMENT: ..."
        kicker=re.compile(rf"^[^\W\d_a-z]{{2,}}(?:[ &'-][^\W\d_a-z]{{2,}}){{0,{config.kicker_max_words - 1}}}\s*:\s"),
        comment_count=re.compile(
            r"^\d+\s+(?:" + "|".join(re.escape(w) for w in words.comment_count_words) + r")\b", re.IGNORECASE
        ),
        comment_author=re.compile(
            r"\b(?:" + "|".join(re.escape(w) for w in words.comment_author_verbs) + r")\s*:$", re.IGNORECASE
        ),
        relative_time=re.compile(
            r"(?<!\d)\d+\s*(?:" + "|".join(re.escape(w) for w in words.relative_time_words) + rf")\s+{_AGO}\b",
            re.IGNORECASE,
        ),
    )


def _rules(config: CleanConfig) -> _Rules:
    return _compile(config.model_dump_json())


def _effective_length(text: str, config: CleanConfig) -> float:
    if text.isascii():
        return len(text)
    return len(text) + (config.cjk_char_weight - 1.0) * len(_HAN_KANA.findall(text))


def _is_unspaced(text: str) -> bool:
    return not text.isascii() and len(_UNSPACED.findall(text)) * 2 >= len(text)


def _is_unmarked_prose(text: str, config: CleanConfig) -> bool:
    """A long line in a script that marks no sentence ends (Thai, Lao): its end is a sentence end."""
    return len(text) >= config.unspaced_prose_chars and _is_unspaced(text) and not _UNSPACED_SENTENCE_PUNCT.search(text)


def _stop_density(text: str, tokens: Sequence[str], stopwords: frozenset[str], config: CleanConfig) -> float:
    if _is_unspaced(text):
        # No word boundaries to count stop words by: sentence punctuation, or the length of a line
        # in a script that has none, is the prose signal.
        prose = _UNSPACED_SENTENCE_PUNCT.search(text) or len(text) >= config.unspaced_prose_chars
        return config.good_min_stop_density if prose else 0.0
    return sum(map(stopwords.__contains__, tokens)) / len(tokens) if tokens else 0.0


def _typed_rule(text: str, tokens: Sequence[str], ends_sentence: bool, rules: _Rules, config: CleanConfig) -> str | None:
    """The typed noise rule a line matches, if any. Cheap tests first; most lines match none."""
    words = len(tokens)
    if not words:
        return "symbols"
    if text.startswith("#") and all(w.startswith("#") for w in text.split()):
        return "hashtags"
    short = words <= config.prompt_max_words
    # Built once for the heading sets and all phrase lists; a longer line is matched against none.
    label_words = _label_words(text, tokens) if words <= max(config.newsletter_max_words, config.disclosure_max_words) else ()
    label = " ".join(label_words)
    # Most labels hold no first word of any phrase list: one test rules all the lists out.
    phrases = not rules.phrase_first_words.isdisjoint(label_words)
    colon = ":" in text or "：" in text
    if short:
        if label in rules.related or (
            words <= config.related_heading_max_words and rules.related_heading_start.match(label)
        ):
            return "related_block"
        if label in rules.closing or rules.about_heading.match(text):
            return "closing_block"
        if label in rules.comments or (not ends_sentence and rules.comment_count.match(text)):
            return "comments"
        if rules.credit.match(text) or (not ends_sentence and rules.credit_tail.search(text)):
            return "photo_credit"
        if rules.copyright.search(text):
            # "© AFP" under a photo is a credit; a notice names a year or reserves rights. A line that
            # only opens with the word and carries no mark of a notice is a footer link when short
            # ("Copyright Policy") and otherwise a heading or title about copyright: article text.
            if _COPYRIGHT_MARK.search(text) or _YEAR.search(text):
                return (
                    "copyright"
                    if words > config.credit_max_words or _YEAR.search(text) or "right" in label
                    else "photo_credit"
                )
            if words <= config.credit_max_words:
                return "copyright"
        if rules.byline.match(text) and not text.endswith((".", "!", "?")):
            return "byline"
        if _RELATED_SEPARATOR.search(text) and rules.related_prefix.match(text):
            return "related_block"
    # A quoted post is article text, and so is its signature.
    if (
        words <= config.dateline_max_words
        and not text.startswith(_ATTRIBUTION_DASHES)
        and (
            (_AGO in text.lower() and rules.relative_time.search(text))
            or (_parse_date(text, rules) and (not ends_sentence or rules.dateline_label.match(text)))
        )
    ):
        return "dateline"
    if phrases:
        if words <= config.newsletter_max_words and (
            rules.newsletter.distinct(label, label_words) >= 2 or rules.newsletter_pitch.search(label, label_words)
        ):
            return "share_prompt"
        if words <= config.disclosure_max_words and rules.affiliate_disclosure.distinct(label, label_words) >= 2:
            # The site's note that it earns from the links on the page; an article about affiliate
            # marketing rarely puts two of its phrases in one sentence.
            return "affiliate_disclosure"
    if short and label in rules.ad_labels:
        return "advertisement"
    if short and phrases:
        for rule, pattern in rules.prompt:
            # A prompt opens with its word ("Share this", "Follow us on X.") or is a bare label
            # ("Compartilhe no WhatsApp"); a headline or sentence that mentions Instagram is not.
            # "Share of households" (a table's label) names a share, it does not ask for one.
            found = pattern.search(label, label_words)
            if (
                found
                and not rules.prompt_noun.match(label, found.end())
                and (found.start() == 0 or (not ends_sentence and words <= config.prompt_label_max_words))
            ):
                return rule
    if not colon:  # the rules below need one
        return None
    if rules.disclaimer.match(text):
        return "disclaimer"
    if rules.closing_prefix.match(text):
        return "closing_block"
    if not ends_sentence and len(text) >= config.teaser_min_chars and rules.kicker.match(text):
        return "truncated_teaser"
    return None


# Comment sections and copyright notices close an article; a related-stories box may sit inside it.
_END_OF_ARTICLE = frozenset({"comments", "copyright"})


class _TextFacts(NamedTuple):
    """What a line's text alone says about it, whatever page it is on."""

    key: str  # normalised
    words: int
    weight: float  # effective length
    ends_sentence: bool
    density: float  # share of stop words
    rule: str | None  # the typed noise rule it matches
    comment_author: bool  # reads like the header of a comment ("jane says:")
    list_row: bool  # Line.list_row
    field: str | None  # Line.field


def _text_facts(text: str, rules: _Rules, stopwords: frozenset[str]) -> _TextFacts:
    config = rules.config
    tokens = _line_tokens(text, config)
    words = len(tokens)
    ends = _ends_sentence(text) or _is_unmarked_prose(text, config)
    key = normalise(text)
    return _TextFacts(
        key,
        words,
        _effective_length(text, config),
        ends,
        _stop_density(text, tokens, stopwords, config),
        _typed_rule(text, tokens, ends, rules, config),
        # The rule's pattern closes with a colon at the end of the text.
        words <= config.prompt_max_words and text.endswith(":") and rules.comment_author.search(text) is not None,
        _is_list_row(text, key),
        _field_label(text),
    )


# Memoised for lines of ordinary length while a batch is cleaned (``_memoised_per_batch``): a page is
# classified again on its kept lines, and a site's chrome recurs on its pages.
_cached_text_facts = lru_cache(maxsize=None)(_text_facts)


def classify(
    units: Sequence[Unit], config: CleanConfig, rules: _Rules, boilerplate: frozenset[str], stopwords: frozenset[str]
) -> list[Line]:
    """Every unit (non-blank line or run of sentences) with its kind; blank lines carry no signal."""
    longest = config.segment_line_chars
    facts = [
        (_cached_text_facts if len(unit.text) <= longest else _text_facts)(unit.text, rules, stopwords) for unit in units
    ]
    authors = _comment_author_lines(units, facts, config)
    good_density, bad_density = _density_thresholds(units, facts, config)
    repeats = Counter(f.key for f in facts)
    texts = Counter(unit.text for unit in units)
    out = []
    for unit, (key, words, weight, ends, density, typed, _, list_row, field) in zip(units, facts, strict=True):
        i, text = unit.index, unit.text
        rule = "comments" if i in authors else typed
        if rule in _END_OF_ARTICLE:
            kind = Kind.TRAILER
        elif rule is not None:
            kind = Kind.NOISE
        elif key in boilerplate:
            kind, rule = Kind.NOISE, "batch_boilerplate"
        else:
            kind = _prose_kind(weight, density, ends, words, good_density, bad_density, config)
            # A heading or caption printed again and again on one page is page furniture; the rows of
            # a table repeat their shape with other numbers (digits compare equal in the key).
            if (
                kind == Kind.SHORT
                and not ends
                and repeats[key] >= config.page_repeat_min
                and (texts[text] >= config.page_repeat_min or not list_row)
            ):
                kind, rule = Kind.NOISE, "repeated_line"
        out.append(Line(i, unit.seq, unit.start, unit.end, text, key, kind, rule, weight, words, ends, density, list_row, field))
    return out


def _comment_author_lines(units: Sequence[Unit], facts: Sequence[_TextFacts], config: CleanConfig) -> frozenset[int]:
    """Headers of comments ("jane says:", "Bob on May 2, 2019 at 4:47 pm said:"), once the page has
    several: a single short line ending in "said:" is more likely to introduce a quote."""
    found = frozenset(unit.index for unit, f in zip(units, facts, strict=True) if f.comment_author)
    return found if len(found) >= config.comment_author_min_count else frozenset()


def _density_thresholds(units: Sequence[Unit], facts: Sequence[_TextFacts], config: CleanConfig) -> tuple[float, float]:
    """Stop-word density thresholds for this page.

    Stop-word lists differ in reach (an agglutinative language's list catches few tokens), so the
    fixed thresholds are lowered to a share of the density of the page's own long sentences.
    """
    long_lines = sorted(f.density for unit, f in zip(units, facts, strict=True) if len(unit.text) >= config.good_min_chars)
    if not long_lines:
        return config.good_min_stop_density, config.bad_max_stop_density
    reference = long_lines[int(len(long_lines) * config.reference_density_quantile)]
    return (
        min(config.good_min_stop_density, config.relative_good_density * reference),
        min(config.bad_max_stop_density, config.relative_bad_density * reference),
    )


def _prose_kind(
    weight: float, density: float, ends: bool, words: int, good_density: float, bad_density: float, config: CleanConfig
) -> str:
    if weight <= config.short_max_chars:
        # A short full sentence ("He declined to comment.") is article text; a short label is not.
        return Kind.NEAR_GOOD if ends and density >= good_density and words >= 3 else Kind.SHORT
    if not ends and words <= config.title_max_words:
        return Kind.SHORT  # headlines and link texts: sentence-length but not a sentence
    if density < bad_density and not ends:
        return Kind.BAD  # a menu or a list of names on one line; closed sentences of data ("Smith 3 goals.") stay
    if weight >= config.good_min_chars and density >= good_density and ends:
        return Kind.GOOD
    return Kind.NEAR_GOOD


# ---------------------------------------------------------------------------------------------
# Main text region
# ---------------------------------------------------------------------------------------------


def _score(line: Line, config: CleanConfig) -> float:
    match line.kind:
        case Kind.GOOD:
            return config.good_line_score * line.weight
        case Kind.NEAR_GOOD:
            return config.near_good_line_score * line.weight
        case Kind.SHORT:
            return -config.short_line_penalty
        case Kind.BAD:
            return -config.bad_line_penalty * line.weight
        case _ if line.rule == "batch_boilerplate":
            return -config.boilerplate_penalty
        case _ if line.rule == "symbols" and not line.text.isprintable():
            return 0.0  # nothing visible in it (a zero-width space): a blank line
        case _:
            return -config.noise_line_penalty


def _best_run(scores: Sequence[float], start: int, stop: int) -> tuple[float, int, int]:
    """Maximum-sum contiguous run in scores[start:stop] (Kadane): (score, first, end-exclusive)."""
    best, best_span = 0.0, (start, start)
    total, run_start = 0.0, start
    for i in range(start, stop):
        if total <= 0:
            total, run_start = 0.0, i
        total += scores[i]
        if total > best:
            best, best_span = total, (run_start, i + 1)
    return best, *best_span


def _best_region(
    scores: Sequence[float], lines: Sequence[Line], start: int, config: CleanConfig
) -> tuple[float, int, int]:
    """Best run in lines[start:], cut at end-of-article lines (comment sections, copyright notices).

    What follows those lines can hold more prose than the article (long comments, whole teaser
    articles), so the earliest part whose best run scores a fair share of the best part's wins.
    """
    bounds = [i for i in range(start, len(lines)) if lines[i].kind == Kind.TRAILER]
    parts = list(zip([start, *(b + 1 for b in bounds)], [*bounds, len(lines)], strict=True))
    runs = [_best_run(scores, a, b) for a, b in parts]
    best = max(r[0] for r in runs)
    return next(r for r in runs if r[0] >= config.trailer_region_ratio * best)


def navigation_lines(lines: Sequence[Line], config: CleanConfig) -> frozenset[int]:
    """Positions in runs of at least `navigation_min_run` consecutive short non-sentences: menus."""
    found: list[int] = []
    start = 0
    for pos in range(len(lines) + 1):
        if pos < len(lines) and lines[pos].kind == Kind.SHORT and not lines[pos].ends_sentence:
            continue
        if pos - start >= config.navigation_min_run:
            found.extend(range(start, pos))
        start = pos + 1
    return frozenset(found)


def headline_anchor(lines: Sequence[Line], config: CleanConfig) -> int | None:
    """Position of the headline above the article, found as a repeat of the page's first line.

    Scrapes start with the <title> ("Headline | Site"); the headline shows again right above the
    article, so a later line equal to the title, or to its part before a separator, marks where
    the page header ends.
    """
    if not lines:
        return None
    head = lines[0].key
    for pos in range(1, min(len(lines), config.headline_search_lines)):
        line = lines[pos]
        if line.words < config.title_min_words or line.kind not in (Kind.SHORT, Kind.NOISE):
            continue
        key = line.key
        if key == head or (head.startswith(key) and head[len(key) : len(key) + 2].strip() in _TITLE_SEPARATORS):
            return pos
    return None


_TITLE_SEPARATORS = frozenset({"|", "-", "–", "—", ":", "·", "•", "::", "»"})


def main_region(
    lines: Sequence[Line], config: CleanConfig, anchor: int | None, navigation: frozenset[int]
) -> tuple[int, int, frozenset[int]]:
    """Positions [first, end) in `lines` of the article: the best-scoring run of lines, taken below
    the repeated headline when the text there scores a fair share of the page's best, and joined to
    the article's lead above it (``_join_lead``); with the positions inside it that are not the
    article's (what stood between the lead and the rest, but for the rows of a table or list)."""
    if not lines:
        return 0, 0, frozenset()
    rows = _table_rows(lines, config) | _record_rows(lines, config)
    scores = [
        max(0.0, _score(line, config)) if pos in rows else -config.navigation_line_penalty if pos in navigation else _score(line, config)
        for pos, line in enumerate(lines)
    ]
    best, first, end = _best_region(scores, lines, 0, config)
    top = 0
    if anchor is not None and anchor + 1 < len(lines):
        below = _best_region(scores, lines, anchor + 1, config)
        if below[0] > 0 and below[0] >= config.headline_region_ratio * best:
            (best, first, end), top = below, anchor + 1
    if best <= 0:
        return 0, 0, frozenset()
    first, gaps = _join_lead(scores, lines, top, first, end, config, below_headline=top > 0)
    # A table or the article's own list between the lead and the rest (its rows cost the region
    # nothing) is the article's, unlike a product box or a table of contents.
    return first, end, gaps - rows


def _join_lead(
    scores: Sequence[float],
    lines: Sequence[Line],
    top: int,
    first: int,
    end: int,
    config: CleanConfig,
    below_headline: bool,
) -> tuple[int, frozenset[int]]:
    """Where the region starts once it takes in the article's lead, and the positions it skips: the
    best run above it (below the repeated headline and any end-of-article line) that scores at least
    `lead_join_ratio` of the region and holds `lead_join_min_paragraphs` paragraphs in a row is
    joined from the first of those paragraphs on (what the run takes in above them, an author's box,
    a disclosure, is not the lead; it joins only as a lead of its own), and what stands between
    them is not. A product box, a table of contents or an ad between the opening
    paragraphs and the rest costs more than the lead scores, so the best run alone starts below it;
    its short lines would cost the article's precision more than its prose adds. A run that opens
    right under the repeated headline (`lead_headline_max_lines`: past a byline, a date, a share bar)
    is the lead whatever its share: that is where an article starts. Only upwards: below an article
    stands the prose that is not its text (comments, teasers of other stories, bios), above it the
    page's header, which holds little prose of its own."""
    opening = top
    top = max([top, *(pos + 1 for pos in range(top, first) if lines[pos].kind == Kind.TRAILER)])
    region = sum(scores[first:end])
    gaps: list[int] = []
    while True:
        lead, start, stop = _best_run(scores, top, first)
        under_headline = below_headline and start - opening <= config.lead_headline_max_lines
        share = lead >= config.lead_join_ratio * region
        opens = _first_paragraphs_in_a_row(lines, start, stop, config.lead_join_min_paragraphs)
        if opens is None or not (share or under_headline):
            return first, frozenset(gaps)
        gaps.extend(range(stop, first))
        first = opens


def _first_paragraphs_in_a_row(lines: Sequence[Line], start: int, stop: int, count: int) -> int | None:
    """Position in lines[start:stop] where the first `count` paragraphs (GOOD lines) in a row begin,
    with no other line between them. An article's lead is paragraphs in a row; a menu's blurbs each
    stand under their item's name."""
    run = 0
    for pos in range(start, stop):
        run = run + 1 if lines[pos].kind == Kind.GOOD else 0
        if run == count:
            return pos - count + 1
    return None


def _end_at_closing_block(lines: Sequence[Line], first: int, end: int, config: CleanConfig, rules: _Rules) -> int:
    """Where the article ends: at the first block that closes it below which the region holds
    little text of its own: a heading of links to other stories ("Related articles", "Latest
    posts"; a headline under it, past any noise line: an ad label, a "Visit" button), an
    author's box, a closing heading ("About the author", "Article sources"). The teasers, bios
    and notes under them read like prose, and the region runs on over them; a related heading
    followed by text is a section of the article. A prompt of the site's
    own (``_is_site_prompt``: "Join my newsletter", a share bar, "Book a demo") ends it when yet
    less follows (`prompt_tail_ratio`): what stands under it is the site's box (a pitch, a sign-up
    form), and sign-up boxes and share bars also stand inside articles, between paragraphs."""
    weights = [line.weight if line.kind in (Kind.GOOD, Kind.NEAR_GOOD) else 0.0 for line in lines[first:end]]
    repeats = Counter(line.key for line in lines)
    total, above = sum(weights), 0.0
    for pos, weight in zip(range(first, end), weights, strict=True):
        line = lines[pos]
        tail = total - above
        if tail <= config.prompt_tail_ratio * above and _is_site_prompt(line, repeats, rules):
            return pos
        if tail <= config.link_block_tail_ratio * above and (
            line.rule in ("author_bio", "closing_block")
            or _is_author_paragraph(line, rules)
            or _names_its_author(lines, pos, rules)
            or (
                line.rule == "related_block"
                and _label(line.text) in rules.related
                and next((other.kind for other in lines[pos + 1 :] if other.kind != Kind.NOISE), None) == Kind.SHORT
            )
        ):
            return pos
        above += weight
    return end


def _is_site_prompt(line: Line, repeats: Counter[str], rules: _Rules) -> bool:
    """A prompt of the site's own: a newsletter's sign-up anywhere in the line, a share bar (share
    words only: "Share Tweet LinkedIn", "Facebook"; often printed above the text too), or a call to
    action or app prompt printed once on the page that opens the line ("Book a demo", "Download
    now"). A button under each item of a list ("Check price on Amazon") is the list's, and a heading
    or list item that opens with a network's name ("Reddit & Trustpilot feedback", "Email/SMS
    campaigns") is the article's."""
    label = _label(line.text)
    if line.rule == "share_prompt" and rules.newsletter.search(label) is not None:
        return True
    for rule, phrases in rules.prompt:
        if rule == line.rule and (found := phrases.search(label)) is not None and found.start() == 0:
            if rule == "share_prompt":
                return not phrases.pattern.sub("", label).strip()
            return repeats[line.key] == 1
    return False


def _is_author_paragraph(line: Line, rules: _Rules) -> bool:
    """A paragraph about an author with no name line above it: it opens with a person's name and what
    they do ("Jane Doe is a staff writer at ..."; a role word in its first sentence) and goes on about
    that person ("She has covered ..."). Inside an article such a paragraph introduces someone the
    story is about, so it only ends the article, like an author's box, when little prose follows."""
    return (
        line.kind in (Kind.GOOD, Kind.NEAR_GOOD)
        and rules.author_paragraph.match(line.text) is not None
        and rules.author_role.search(line.text.split(". ", 1)[0]) is not None
        and rules.author_pronoun.search(line.text) is not None
    )


_LIST_MARKERS = "-–•*·▪►✓"
_LIST_ITEM = re.compile(rf"[{_LIST_MARKERS}]\s|\(?\d{{1,3}}[.)]\s")
_LIST_MARKER_CHARS = tuple(_LIST_MARKERS)


def _is_list_row(text: str, key: str) -> bool:
    """Whether a line opens with a list marker or holds a digit (a numbered item's number is one):
    a table row or list item when short. `key` is ``normalise(text)``, which holds a 0 exactly when
    the text holds a digit (every run of digits is a 0 there, and casefolding makes and removes
    none): a substring test rather than another digit search over the text."""
    return text.startswith(_LIST_MARKER_CHARS) or "0" in key


def _is_data_row(line: Line) -> bool:
    """A table row or list item: a short line with a number or a list marker."""
    return line.list_row and line.kind in (Kind.SHORT, Kind.NEAR_GOOD)


_TABLE_CELLS = re.compile(r"\d\D+\d")


def _table_rows(lines: Sequence[Line], config: CleanConfig) -> frozenset[int]:
    """Positions in runs of at least `list_min_rows` table rows (short lines with two numbers or
    more, not list items): a table inside the article costs the main-text region nothing, so the
    text on both sides stays one article."""
    rows = (
        pos
        for pos, line in enumerate(lines)
        if _is_data_row(line) and _TABLE_CELLS.search(line.text) and not _LIST_ITEM.match(line.text)
    )
    return frozenset(pos for run in _runs(rows) if len(run) >= config.list_min_rows for pos in run)


# "Price: $568", "Best for: beginners": a label of a few words, a colon, a value.
_FIELD = re.compile(r"(?P<label>[^\W\d_][^:：]{0,40}?)\s*[:：]\s+\S")


def _field_label(text: str) -> str | None:
    """The label of the "Label: value" field a line opens with (``_FIELD``), as ``_label``. Most
    lines hold no colon, and looking for one is cheaper than trying the pattern."""
    field = _FIELD.match(text) if ":" in text or "：" in text else None
    return _label(field["label"]) if field else None


def _record_rows(lines: Sequence[Line], config: CleanConfig) -> frozenset[int]:
    """Positions of the rows of the article's own lists: the fields of records it repeats (a review's
    "Price:", "Duration:", "Best for:" under each item, the label printed at least `page_repeat_min`
    times on the page), and the short lines listed right under a line that ends in a colon ("Pros:",
    "Here are the key factors:"), at least `list_min_items` of them, line under line. Like a table's
    rows they cost the main-text region nothing, so the sections of a listicle stay one article; a
    menu has neither its labels nor a colon above it."""
    labels = [line.field if line.rule in (None, "repeated_line") else None for line in lines]
    repeats = Counter(label for label in labels if label is not None)
    rows = {pos for pos, label in enumerate(labels) if label is not None and repeats[label] >= config.page_repeat_min}
    for pos, line in enumerate(lines):
        if line.rule is not None or not line.text.endswith((":", "：")):
            continue
        end, last = pos + 1, line.index
        # The first item may stand after a blank line; the rest follow line under line.
        while (
            end < len(lines)
            and lines[end].kind in (Kind.SHORT, Kind.NEAR_GOOD)
            and lines[end].rule is None
            and lines[end].index - last <= (2 if end == pos + 1 else 1)
        ):
            last = lines[end].index
            end += 1
        if end - pos - 1 >= config.list_min_items:
            rows.update(range(pos + 1, end))
    return frozenset(rows)


def _extend_over_list(lines: Sequence[Line], end: int, config: CleanConfig) -> int:
    """Grow the region over a list or table that closes the article (tour dates, standings, items).

    Its rows are short and would each cost a penalty, but rows with numbers or list markers, many in
    a row, read as data belonging to the text above them rather than as a menu of links. One heading
    line may stand between the text and the rows.
    """
    start = end + 1 if end < len(lines) and lines[end].kind == Kind.SHORT and not _is_data_row(lines[end]) else end
    stop = start
    while stop < len(lines) and _is_data_row(lines[stop]):
        stop += 1
    return stop if stop - start >= config.list_min_rows else end


def _table_region(lines: Sequence[Line], anchor: int | None, config: CleanConfig) -> tuple[int, int]:
    """The article of a page without prose: the table under its repeated headline (a few short
    lines, datelines and prompts between them), or the whole text when it is a table."""
    if _is_table(lines, config):
        return 0, len(lines)
    if anchor is None:
        return 0, 0
    first = anchor + 1
    while first < len(lines) and first - anchor <= config.table_max_lead_lines and not _is_data_row(lines[first]):
        first += 1
    end = first
    while end < len(lines) and _is_data_row(lines[end]):
        end += 1
    return (first, end) if end - first >= config.list_min_rows else (0, 0)


def _is_table(lines: Sequence[Line], config: CleanConfig) -> bool:
    """Mostly rows with numbers or list markers, at least `list_min_rows` of them: a table or a list
    (standings, tour dates), an article of data rather than a page of links."""
    rows = sum(map(_is_data_row, lines))
    return rows >= config.list_min_rows and 2 * rows > len(lines)


def _is_teaser(line: Line, config: CleanConfig) -> bool:
    """A long line that stops mid-sentence, or at an ellipsis: the cut-off preview of another story."""
    return (
        line.weight >= config.teaser_min_chars
        and not line.ends_sentence
        and (line.text[-1:].isalnum() or line.text.endswith(_ELLIPSIS))
    )


# ---------------------------------------------------------------------------------------------
# Selection and metadata
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    kept: list[Line]
    dropped: list[tuple[Line, str]]
    region: tuple[int, int]  # positions in the classified lines
    classified: list[Line]
    anchor: int | None  # position of the repeated headline
    navigation: frozenset[int]  # positions of lines in menu-like runs

    def chrome_lines(self, config: CleanConfig) -> int:
        """Lines that only a page's chrome has: noise-rule matches (except those article text also
        shows), a caption or headline printed again and again, a menu above the first or below the
        last paragraph (``menu_lines``), and the page's title repeated as the headline. A menu below
        the text counts only beside other chrome: a clean article that closes with a checklist, a
        list of resources or code reads like a footer menu there, and a scrape's footer comes with
        its copyright notice, prompts or the site's recurring lines."""
        # Only a line a rule matched can be chrome (``is_chrome``).
        typed = sum(self.is_chrome(pos, config) for pos, line in enumerate(self.classified) if line.rule is not None)
        menus = self.menu_lines(config, below=bool(typed) or self.anchor is not None)
        return (self.anchor is not None) + typed + len(menus)

    def is_chrome(self, pos: int, config: CleanConfig) -> bool:
        """Whether the line at `pos` is chrome (``_is_chrome``). A line that recurs on the site's
        pages but stands alone between the article's lines is a heading the articles share when it
        is a label of a word or two ("Services", "Budget", a code block's "javascript") or heads
        the article's repeated sections (alone each of the several times the page shows it): the
        site's chrome comes in blocks (menus, footers), or as its own phrase (a pitch)."""
        line = self.classified[pos]
        if line.rule == "batch_boilerplate" and self._alone(pos):
            if line.words <= config.shared_label_max_words:
                return False
            found = [at for at, other in enumerate(self.classified) if other.key == line.key]
            return len(found) < 2 or not all(map(self._alone, found))
        return _is_chrome(line, config)

    def _alone(self, pos: int) -> bool:
        lines = self.classified
        return 0 < pos < len(lines) - 1 and "batch_boilerplate" not in (lines[pos - 1].rule, lines[pos + 1].rule)

    def menu_lines(self, config: CleanConfig, below: bool = True) -> list[Line]:
        """The lines of menus above the first or (``below``) below the last paragraph: runs of short
        lines that are not a list or a table (noise lines and teasers skipped)."""
        rest = [
            line for line in self.classified if line.kind not in (Kind.NOISE, Kind.TRAILER) and not _is_teaser(line, config)
        ]
        prose = [pos for pos, line in enumerate(rest) if line.kind == Kind.GOOD]
        first, last = (prose[0], prose[-1] if below else len(rest)) if prose else (len(rest), -1)
        return [
            rest[pos]
            for run in _runs(navigation_lines(rest, config))
            # A run of short lines that is mostly rows with numbers or list markers is a table or a list.
            if 2 * sum(_is_data_row(rest[pos]) for pos in run) < len(run)
            for pos in run
            # The heading of a list or table stands right above its first row.
            if not first <= pos <= last and not _is_data_row(rest[pos])
            and not (pos + 1 < len(rest) and _is_data_row(rest[pos + 1]))
        ]


def _runs(positions: Iterable[int]) -> list[list[int]]:
    """Positions grouped into runs of consecutive ones."""
    runs: list[list[int]] = []
    for pos in sorted(positions):
        if runs and runs[-1][-1] == pos - 1:
            runs[-1].append(pos)
        else:
            runs.append([pos])
    return runs


def _is_chrome(line: Line, config: CleanConfig) -> bool:
    """Whether a noise rule matched the line that article text does not set off."""
    if line.rule == "repeated_line":
        # A caption or headline printed again and again; rows of a table or list repeat their labels.
        return line.words >= config.title_min_words and not line.list_row
    # A list item of the article that reads like a prompt or a credit is not chrome either.
    return line.rule is not None and line.rule not in ARTICLE_TEXT_RULES and not _LIST_ITEM.match(line.text)


def _section_headings(lines: list[Line], rules: _Rules) -> list[Line]:
    """A recurring line that reads as a section heading many articles share ("Conclusion", "Key
    takeaways", "Pros") is the articles' structure, not the site's chrome: it is judged by its text
    again (a heading is short)."""
    shared = [pos for pos, line in enumerate(lines) if line.rule == "batch_boilerplate" and _label(line.text) in rules.sections]
    if not shared:
        return lines
    out = list(lines)
    for pos in shared:
        out[pos] = lines[pos]._replace(kind=Kind.SHORT, rule=None)
    return out


def _author_boxes(lines: list[Line], rules: _Rules) -> list[Line]:
    """An author's box: a short line naming a person ("Jane Doe", "About Jane Doe", "Written by Jane
    Doe"; a line the page may print again and again, in its bylines), at most one short line under
    it (what they do: "Contributing Writer"), then a paragraph about them that opens with the
    name, its first word or "I'm", and says what they do ("Jane Doe is a staff writer at ..."), or
    that opens with the person introducing themselves ("Hi, I'm Jane!").
    It is not the article's text (rule ``author_bio``), though article text can look like it, so
    it does not count as chrome. More than `author_box_max_count` of them on a page are the items
    of a list the article makes ("Acme Movers" / "Acme Movers is a team of ...")."""
    found: list[list[int]] = []
    for pos in range(len(lines) - 1):
        if not _may_name_author(lines[pos]):
            continue
        role = pos + 1 if lines[pos + 1].kind == Kind.SHORT and pos + 2 < len(lines) else None
        about = lines[pos + 1 if role is None else pos + 2]
        name = _author_name(lines[pos].text, rules) if about.kind in (Kind.GOOD, Kind.NEAR_GOOD) else None
        if name is not None and _opens_author_bio(
            about.text, name, role is not None and rules.author_role.search(lines[role].text) is not None, rules
        ):
            found.append(list(range(pos, pos + (2 if role is None else 3))))
    if not found or len(found) > rules.config.author_box_max_count:
        return lines
    out = list(lines)
    for pos in (pos for box in found for pos in box):
        out[pos] = lines[pos]._replace(kind=Kind.NOISE, rule="author_bio")
    return out


def _may_name_author(line: Line) -> bool:
    """Whether a line can be the name line over an author's box: a short line, a byline, or a line
    the page prints again and again (the name in every byline)."""
    return line.kind == Kind.SHORT or line.rule in ("repeated_line", "byline")


def _opens_author_bio(text: str, name: str, role_above: bool, rules: _Rules) -> bool:
    """Whether a paragraph under a line naming a person opens about that person: with the name or its
    first word and a verb of a bio, or "I'm", and says what they do (a role word in it or on the
    line above it); or with the person introducing themselves by name ("Hi, I'm Jane!")."""
    first = name.split()[0]
    intro = rules.author_self_intro.match(text)
    if intro and re.match(rf"\s*{re.escape(first)}(?!\w)", text[intro.end() :]):
        return True
    opens = intro or any(text.startswith(lead) and rules.author_intro.match(text, len(lead)) for lead in (name, first))
    return bool(opens) and (role_above or rules.author_role.search(text) is not None)


def _names_its_author(lines: Sequence[Line], pos: int, rules: _Rules) -> bool:
    """Whether the line at `pos` is a person's name alone on its line, over a paragraph that names
    them in its first sentence ("With seven years at Acme News, Jane has ..."; "(Editor) – Jane
    comes from ..."), says what they do and goes on about them ("her", "his"). A story's list of
    people looks the same, so such a box only ends the article when little prose follows."""
    if pos + 1 >= len(lines) or not _may_name_author(lines[pos]):
        return False
    about = lines[pos + 1]
    name = _author_name(lines[pos].text, rules) if about.kind in (Kind.GOOD, Kind.NEAR_GOOD) else None
    return (
        name is not None
        and lines[pos].text.endswith(name)
        and re.search(rf"(?<!\w){re.escape(name.split()[0])}(?!\w)", about.text.split(". ", 1)[0]) is not None
        and rules.author_role.search(about.text) is not None
        and rules.author_pronoun.search(about.text) is not None
    )


def _testimonials(lines: list[Line], config: CleanConfig) -> list[Line]:
    """A block of testimonials: at least `testimonial_min_count` paragraphs in a row, each signed by
    a reviewer on the line under it (``_is_signed``). Sites print their customers' praise beside an
    article; it is not the article's text (rule ``testimonial``), though a clean copy may carry it,
    so it does not count as chrome. A story quotes its people inside its sentences, and a list's
    headings stand above their paragraphs, not under them."""
    signatures = [pos for pos in range(1, len(lines)) if _is_signed(lines[pos - 1], lines[pos], config)]
    blocks: list[list[int]] = []
    for pos in signatures:
        if blocks and blocks[-1][-1] == pos - 2:
            blocks[-1].append(pos)
        else:
            blocks.append([pos])
    out = list(lines)
    for block in blocks:
        if len(block) >= config.testimonial_min_count:
            for pos in (at for signature in block for at in (signature - 1, signature)):
                out[pos] = lines[pos]._replace(kind=Kind.NOISE, rule="testimonial")
    return out


def _is_signed(paragraph: Line, signature: Line, config: CleanConfig) -> bool:
    """Whether a paragraph is signed by a reviewer on the short line under it: capitalised names and
    a surname's initial with its full stop ("Lora D.", "A. Rae V. B."). A heading under a paragraph
    ("Plan B") has no full stop, and a page of reviews the article collects signs them otherwise
    ("– Ali***")."""
    if paragraph.kind not in (Kind.GOOD, Kind.NEAR_GOOD) or signature.kind != Kind.SHORT or signature.rule is not None:
        return False
    *names, initial = signature.text.split()
    return (
        bool(names)
        and signature.words <= config.testimonial_signature_max_words
        and len(initial) == 2
        and initial.endswith(".")
        and all(word[0].isupper() for word in (*names, initial))
    )


def _author_name(text: str, rules: _Rules) -> str | None:
    """The person a line names: two to four capitalised words, after a byline's word if any."""
    byline = rules.byline.match(text)
    name = rules.author_name.match(byline["name"] if byline else text)
    if name is None or not all(word[0].isupper() for word in name["name"].split()):
        return None
    return name["name"]


def select(
    units: Sequence[Unit], config: CleanConfig, rules: _Rules, boilerplate: frozenset[str], stopwords: frozenset[str]
) -> _Selection:
    classified = _testimonials(
        _author_boxes(_section_headings(classify(units, config, rules, boilerplate, stopwords), rules), rules), config
    )
    anchor = headline_anchor(classified, config)
    navigation = navigation_lines(classified, config)
    first, end, gaps = main_region(classified, config, anchor, navigation)
    end = _end_at_closing_block(classified, first, end, config, rules)
    while end > first and _is_teaser(classified[end - 1], config):
        end -= 1
    if end > first:
        end = _extend_over_list(classified, end, config)
    else:
        (first, end), gaps = _table_region(classified, anchor, config), frozenset()
    kept, dropped = [], []
    in_link_block = False  # the headlines (and teasers) listed under a "Related"/"Read more" heading
    for pos, line in enumerate(classified):
        in_link_block = line.rule == "related_block" or (
            in_link_block and (line.kind == Kind.SHORT or _is_teaser(line, config))
        )
        if in_link_block and line.rule is None:
            dropped.append((line, "related_block"))
        elif not first <= pos < end or pos in gaps:
            if pos >= end and _is_teaser(line, config):
                outside = "truncated_teaser"
            else:
                outside = "navigation" if pos in navigation else "outside_main_text"
            dropped.append((line, line.rule or outside))
        elif line.kind in (Kind.NOISE, Kind.TRAILER):
            dropped.append((line, line.rule or "noise"))
        else:
            kept.append(line)
    again = _printed_again(kept, config)
    if again:
        dropped += [(kept[at], "repeated_paragraph") for at in sorted(again)]
        kept = [line for at, line in enumerate(kept) if at not in again]
    return _Selection(kept, dropped, (first, end), classified, anchor, navigation)


def _printed_again(kept: Sequence[Line], config: CleanConfig) -> frozenset[int]:
    """Positions in `kept` of the lines of a block printed a second time: at least
    `repeated_block_min_paragraphs` paragraphs in a row (other lines between them aside), each the
    same text as a paragraph above, and every line from the first to the last of them, or next to
    them, that repeats a line above the block (the copy's headings and list items). Pages print
    their article, its summary or its FAQ twice (a mobile and a desktop layout, a schema block);
    the second copy is no new text. A paragraph the article restates on its own (a key figure in
    the summary and again in the text) stands alone."""
    seen: set[str] = set()
    runs: list[list[int]] = []
    run: list[int] = []
    for at, line in enumerate([*kept, None]):
        if line is not None and line.kind != Kind.GOOD:
            continue
        if line is not None and line.text in seen:
            run.append(at)
            continue
        if len(run) >= config.repeated_block_min_paragraphs:
            runs.append(run)
        run = []
        if line is not None:
            seen.add(line.text)
    opened: dict[str, int] = {}  # where each text is first printed
    for at, line in enumerate(kept):
        opened.setdefault(line.text, at)
    found: set[int] = set()
    for run in runs:
        first, last = run[0], run[-1]
        while first > 0 and opened[kept[first - 1].text] < first - 1:
            first -= 1
        while last + 1 < len(kept) and opened[kept[last + 1].text] < first:
            last += 1
        found.update(at for at in range(first, last + 1) if opened[kept[at].text] < first)
    return frozenset(found)


def _find_title(sel: _Selection, config: CleanConfig) -> str | None:
    """The headline: a heading-like line above the article.

    Scrapes carry the headline twice, in the <title> on the first line and above the text, so the
    repeated headline wins, then the heading most like the first line, then one the page repeats,
    then the nearest heading of headline length.
    """
    first = sel.region[0]
    if first == sel.region[1]:
        return None
    if sel.anchor is not None and sel.anchor < first:
        return sel.classified[sel.anchor].text
    candidates = [
        line
        for line in reversed(sel.classified[max(0, first - config.title_search_lines) : first])
        if line.kind == Kind.SHORT
        and config.title_min_words <= line.words <= config.title_max_words
        and not line.text.endswith(".")
        and sum(ch.isdigit() for ch in line.text) * 4 < len(line.text)
    ]
    if not candidates:
        return None
    head = set(_TOKEN.findall(sel.classified[0].key))
    overlap = [len(head.intersection(_TOKEN.findall(line.key))) / line.words for line in candidates]
    best = max(range(len(candidates)), key=overlap.__getitem__)
    if overlap[best] >= config.title_min_overlap:
        return candidates[best].text
    page = Counter(line.key for line in sel.classified[:first])
    repeated = [line for line in candidates if page[line.key] >= 2]
    return (repeated or candidates)[0].text


def _metadata_lines(sel: _Selection, config: CleanConfig) -> list[Line]:
    """Lines that may carry the article's metadata: those above it and its opening lines."""
    first, end = sel.region
    return sel.classified[: min(first + config.metadata_opening_lines, end)]


def _find_byline(sel: _Selection, config: CleanConfig, rules: _Rules) -> str | None:
    """The name in the byline nearest the article's start ("By Jane Smith" -> "Jane Smith")."""
    for line in reversed(_metadata_lines(sel, config)):
        found = rules.byline.match(line.text) if line.rule == "byline" else None
        # Bylines run on into a handle, a date or a timestamp: "Tess Bonn - 11/19/19 06:56 AM".
        name = rules.byline_end.split(found["name"], maxsplit=1)[0].strip(" :,-|") if found else ""
        if name:
            return name
    return None


def _find_date(sel: _Selection, config: CleanConfig, rules: _Rules) -> datetime.date | None:
    """The publication date: the date nearest the article's start in a dateline or short line above
    it or in its opening ("Tokyo, August 23, 2025 – ..."), else in any dateline on the page
    ("First published on ...")."""
    first = sel.region[0]
    near = [
        line
        for pos, line in enumerate(_metadata_lines(sel, config))
        if pos >= first or line.rule == "dateline" or line.words <= config.dateline_max_words
    ]
    elsewhere = [line for line in sel.classified if line.rule == "dateline"]
    for line in (*reversed(near), *elsewhere):
        found = _parse_date(line.text, rules)
        if found:
            return found
    return None


def _group(dropped: Sequence[tuple[Line, str]], kept: Sequence[Line], text: Unwrapped) -> tuple[Removal, ...]:
    """Removed lines of one rule with no kept line between them become one Removal."""
    kept_indices = [line.index for line in kept]
    spans: list[tuple[int, str, list[str]]] = []
    prev_index = -1
    for line, rule in sorted(dropped, key=lambda lr: lr[0].index):
        if spans and spans[-1][1] == rule and bisect(kept_indices, prev_index) == bisect(kept_indices, line.index):
            spans[-1][2].append(text.text_of(line))
        else:
            spans.append((line.index, rule, [text.text_of(line)]))
        prev_index = line.index
    return tuple(Removal(text.first[index] + 1, "\n".join(texts), rule) for index, rule, texts in spans)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def site_of(doc: RawDocument) -> str:
    """The site a document comes from, for telling its chrome: the host of the URL the source
    states, else the folder or prefix holding the raw object."""
    return url_site(doc.url) or doc.source_uri.rsplit("/", 1)[0]


class SiteChrome:
    """The recurring lines of each site over a run, fed chunk by chunk (``add``), so that a run
    need not hold all its pages' text at once: each page is kept as fingerprints of its lines."""

    def __init__(self, config: CleanConfig = CleanConfig()) -> None:
        self.config = config
        self.sites: dict[str, _SitePages] = {}

    def add(self, documents: Iterable[RawDocument]) -> SiteChrome:
        for doc in documents:
            self.sites.setdefault(site_of(doc), _SitePages(self.config)).add(doc.text)
        return self

    def lines(self) -> dict[str, frozenset[str]]:
        """Each site's chrome lines (normalised), for the sites that have any."""
        return {site: found for site, pages in self.sites.items() if (found := pages.chrome())}


def find_site_boilerplate(documents: Iterable[RawDocument], config: CleanConfig = CleanConfig()) -> dict[str, frozenset[str]]:
    """Each site's recurring lines (``find_batch_boilerplate`` over its documents), by ``site_of``."""
    return SiteChrome(config).add(documents).lines()


def find_batch_boilerplate(texts: Iterable[str], config: CleanConfig = CleanConfig()) -> frozenset[str]:
    """Normalised lines that recur on many pages of one site (site chrome: menus, footers, prompts).

    One story on several pages (scraped twice, a wire copy beside its scrape, syndicated) is one
    story, not several pages: pages that share long lines making up at least
    `syndication_min_share` of either one's prose are grouped first, and a line counts once per
    group. It is chrome when it is on at least `boilerplate_min_pages` groups and at least
    `boilerplate_min_share` of them, and some group carrying it has prose of its own (a recurring
    line carried only by copies of one story is that story). Very long lines are never chrome.
    """
    pages = _SitePages(config)
    for text in texts:
        pages.add(text)
    return pages.chrome()


class _Page(NamedTuple):
    """A page as fingerprints (``hash``: one run is one process) of its distinct normalised lines."""

    keys: frozenset[int]
    chars: int  # their summed length
    long: dict[int, int]  # fingerprint -> length, of its lines of at least good_min_chars
    sentences: frozenset[int]  # those long lines that end like a sentence


class _SitePages:
    """The distinct pages of one site, as line fingerprints. A line's text is kept from the page
    that shows it a second time (a line on one page is never chrome), if it is short enough to be."""

    def __init__(self, config: CleanConfig) -> None:
        self.config = config
        self.texts: set[int] = set()  # fingerprints of the pages' whole text: a page scraped twice counts once
        self.pages: list[_Page] = []
        self.seen: set[int] = set()
        self.recurring: dict[int, str] = {}

    def add(self, text: str) -> None:
        config = self.config
        digest = hash(text)
        if digest in self.texts:
            return
        self.texts.add(digest)
        found = {hash(key): key for key in normalised_lines(text) if key}
        long = {h: len(key) for h, key in found.items() if len(key) >= config.good_min_chars}
        self.pages.append(
            _Page(frozenset(found), sum(map(len, found.values())), long, frozenset(h for h in long if _ends_sentence(found[h])))
        )
        shown_before = found.keys() if config.boilerplate_min_pages <= 1 else found.keys() & self.seen
        # A membership test per line: `set - dict_keys` would walk every recurring line of the site
        # on each page, quadratic over a day.
        for h in shown_before:
            if h not in self.recurring and len(found[h].split()) <= config.boilerplate_max_words:
                self.recurring[h] = found[h]
        self.seen.update(found)

    def chrome(self) -> frozenset[str]:
        config = self.config
        if len(self.pages) < config.boilerplate_min_pages:
            return frozenset()  # too few pages for any line to recur on enough of them
        groups: dict[int, set[int]] = {}
        for page, group in zip(self.pages, _story_groups(self.pages, config), strict=True):
            groups.setdefault(group, set()).update(page.keys)
        carriers = Counter(h for keys in groups.values() for h in keys)
        lengths = {h: n for page in self.pages for h, n in page.long.items()}
        threshold = max(config.boilerplate_min_pages, config.boilerplate_min_share * len(groups))
        # A page with no line of its own (a clean copy beside its scrape that the story grouping
        # missed: a table, short lines) repeats another page's text, not the site's chrome: it does
        # not count as carrying its lines.
        counted = Counter(h for keys in groups.values() if any(carriers[h] == 1 for h in keys) for h in keys)
        chrome: set[str] = set()
        for keys in groups.values():
            own_prose = sum(lengths.get(h, 0) for h in keys if carriers[h] == 1)
            if own_prose >= config.boilerplate_own_prose_chars:
                chrome.update(self.recurring[h] for h in keys if counted[h] >= threshold and h in self.recurring)
        return frozenset(chrome)


def _story_groups(pages: Sequence[_Page], config: CleanConfig) -> list[int]:
    """A group number per page: pages whose shared prose lines (long, ending like a sentence) are
    the bulk of either one's text are copies of one story and share a number (connected components)."""
    carriers: dict[int, list[int]] = {}
    for n, page in enumerate(pages):
        for h in page.sentences:
            carriers.setdefault(h, []).append(n)
    lengths = {h: n for page in pages for h, n in page.long.items()}
    shared: Counter[tuple[int, int]] = Counter()
    for h, carrying in carriers.items():
        # A line on many pages is the site's, not a story's; it does not make pages copies.
        if 2 <= len(carrying) <= config.syndication_max_pages:
            for a, b in combinations(carrying, 2):
                shared[a, b] += lengths[h]
    parent = list(range(len(pages)))

    def root(page: int) -> int:
        while parent[page] != page:
            parent[page] = parent[parent[page]]
            page = parent[page]
        return page

    for (a, b), chars in shared.items():
        if chars >= config.syndication_min_share * min(pages[a].chars, pages[b].chars):
            parent[root(a)] = root(b)
    return [root(page) for page in range(len(pages))]


# Rules that also fire on article text (a list's labels printed several times, a row of asterisks, a
# "Disclaimer" heading, the affiliate note a clean copy of a review ships with, its testimonials): a
# page on which only these fire shows no chrome (a repeated line of headline length does count).
ARTICLE_TEXT_RULES = frozenset(
    {"repeated_line", "symbols", "author_bio", "testimonial", "closing_block", "affiliate_disclosure"}
)

# Rules that locate the article by the shape of the whole page. Text an HTML extractor has already
# cut from the page's structure is not a page dump, and these rules only cost it recall there.
PAGE_STRUCTURE_RULES = frozenset({"outside_main_text", "navigation", "repeated_line", "repeated_title"})


def clean_text(
    raw: str, config: CleanConfig = CleanConfig(), boilerplate: frozenset[str] = frozenset(), extracted: bool = False
) -> CleanedText:
    """The article in `raw`, with its title, date and byline, and what was removed and why.

    A page with no chrome (no line a noise rule matches, no menu, no repeated headline) is already
    an article and comes out whole; one with a single stray noise line loses just that line. Any
    other page is cut down to its main text. ``extracted`` says `raw` is an extractor's main text
    rather than a page's visible text: then only the typed noise rules (credits, prompts, teasers,
    related blocks...) remove lines.
    """
    with _memoised_per_batch():
        return next(_clean_pages([(raw, boilerplate, extracted)], config))


# Pages whose drafts (every classified line) are held at once while their noise markers are matched
# together: enough to make the vectorised match's per-call cost negligible, few enough to hold.
_MARKER_BATCH_PAGES = 256


def _clean_pages(pages: Sequence[tuple[str, frozenset[str], bool]], config: CleanConfig) -> Iterator[CleanedText]:
    """``clean_text`` of each (raw, boilerplate, extracted), in order: the record suite's noise
    markers are matched once over the kept lines of a batch of pages."""
    for start in range(0, len(pages), _MARKER_BATCH_PAGES):
        drafts = [_draft(raw, config, boilerplate, extracted) for raw, boilerplate, extracted in pages[start : start + _MARKER_BATCH_PAGES]]
        marked = _noise_marked({draft.text.text_of(line) for draft in drafts for line in draft.kept})
        yield from (_finish(draft, marked) for draft in drafts)


class _Draft(NamedTuple):
    """A page cleaned up to the record suite's noise markers."""

    text: Unwrapped  # the raw text's lines, hard-wrapped ones joined
    title: str | None
    published: datetime.date | None
    byline: str | None
    kept: list[Line]
    dropped: list[tuple[Line, str]]


def _draft(raw: str, config: CleanConfig, boilerplate: frozenset[str], extracted: bool) -> _Draft:
    text = unwrap_lines(raw.splitlines(), config, boilerplate)
    lines = text.lines
    rules = _rules(config)
    language = page_language(lines, config)
    sel = select(segment_lines(lines, config, language.code), config, rules, boilerplate, language.stopwords)
    title = _find_title(sel, config)
    published = _find_date(sel, config, rules)
    byline = _find_byline(sel, config, rules)
    chrome = sel.chrome_lines(config)
    if not chrome and (
        any(
            line.kind == Kind.GOOD or (line.kind == Kind.NEAR_GOOD and line.density >= config.good_min_stop_density)
            for line in sel.classified
        )
        or _is_table(sel.classified, config)
    ):
        # No chrome on a page of prose, or on a table: it is already an article and comes out whole.
        kept, dropped = list(sel.classified), []
    elif (
        (
            chrome <= config.article_max_noise_lines
            or (title is None and chrome <= config.untitled_article_max_noise_lines and not sel.menu_lines(config))
        )
        and any(line.kind == Kind.GOOD for line in sel.classified)
        and not (sel.anchor is not None or any(line.kind == Kind.TRAILER for line in sel.classified))
    ):
        # An article with a stray prompt or credit left in (a few when no headline stands above its
        # text and no menu around it): those lines go, the rest comes out whole. A page that marks
        # where its article starts or ends (a headline, a comment section, a copyright notice) is a
        # page, not this.
        # Links listed under a "Related" heading and teasers cut off after the text go with it.
        also = {
            (line.index, line.seq): rule
            for line, rule in sel.dropped
            if chrome and rule in ("related_block", "truncated_teaser")
        }
        gone = [sel.is_chrome(pos, config) or (line.index, line.seq) in also for pos, line in enumerate(sel.classified)]
        kept = [line for line, g in zip(sel.classified, gone, strict=True) if not g]
        dropped = [
            (line, line.rule or also[line.index, line.seq]) for line, g in zip(sel.classified, gone, strict=True) if g
        ]
        if headline_anchor(kept, config) is not None:
            # The stray line hid a repeated headline: without it, this is a page after all.
            kept, dropped = _main_text(sel, config, rules, language, extracted)
    else:
        kept, dropped = _main_text(sel, config, rules, language, extracted)
    return _Draft(text, title, published, byline, kept, dropped)


def _finish(draft: _Draft, marked: frozenset[str]) -> CleanedText:
    kept, dropped = _without_noise_markers(draft.kept, draft.dropped, marked, draft.text)
    return CleanedText(
        title=draft.title,
        published_date=draft.published,
        byline=draft.byline,
        body="\n".join(join_units(kept, draft.text)),
        removed=_group(dropped, kept, draft.text),
    )


def _main_text(
    sel: _Selection, config: CleanConfig, rules: _Rules, language: PageLanguage, extracted: bool
) -> tuple[list[Line], list[tuple[Line, str]]]:
    """The kept and dropped lines of a page: its selected region minus the repeated headline, trimmed
    to a fixed point (only typed noise rules remove lines from an extractor's text)."""
    title = _find_title(sel, config)
    title_key = normalise(title) if title is not None else None
    # The headline recurs as captions and in link lists; inside the article it is never a paragraph.
    dropped = [(line, "repeated_title" if line.key == title_key else rule) for line, rule in sel.dropped]
    dropped += [(line, "repeated_title") for line in sel.kept if line.key == title_key]
    kept = [line for line in sel.kept if line.key != title_key]
    # A line dropped on a second pass over the kept lines would be dropped when the body is cleaned
    # again; trimming to a fixed point makes clean_text idempotent on its own output.
    while kept:
        again = select(
            [Unit(pos, 0, 0, len(line.text), line.text) for pos, line in enumerate(kept)],
            config, rules, frozenset(), language.stopwords,
        )
        if len(again.kept) == len(kept):
            break
        dropped += [(kept[line.index], rule) for line, rule in again.dropped]
        kept = [kept[line.index] for line in again.kept]
    if extracted:
        kept = sorted(kept + [line for line, rule in dropped if rule in PAGE_STRUCTURE_RULES], key=lambda line: (line.index, line.seq))
        dropped = [(line, rule) for line, rule in dropped if rule not in PAGE_STRUCTURE_RULES]
    return kept, dropped


@lru_cache(maxsize=1)
def _noise_markers() -> tuple[re.Pattern[str], ...]:
    """The record suite's noise-marker regexes: a body with a line matching one is quarantined."""
    suite = load_suite(ValidationConfig().expectations_dir / RECORD_SUITE_FILE)
    return tuple(
        re.compile(pattern)
        for expectation in suite.json["expectations"]
        if expectation["type"] == "expect_column_values_to_not_match_regex_list"
        for pattern in expectation["kwargs"]["regex_list"]
    )


@lru_cache(maxsize=1)
def _noise_marker_pattern() -> str:
    """The record suite's noise markers as one pattern of polars' (Rust) regex engine: each
    pattern's leading inline flags scoped to it, and its end of text (``\\Z``) spelt ``\\z``."""
    parts = []
    for marker in _noise_markers():
        flags = re.match(r"\(\?([a-zA-Z]+)\)", marker.pattern)
        body = marker.pattern[flags.end() :] if flags else marker.pattern
        body = re.sub(r"\\(.)", lambda escape: r"\z" if escape[1] == "Z" else escape[0], body)
        parts.append(f"(?{flags[1]}:{body})" if flags else f"(?:{body})")
    return "|".join(parts)


def _noise_marked(texts: set[str]) -> frozenset[str]:
    """The texts (body lines, or the lines of a joined line) a noise marker of the record suite
    matches: in one vectorised pass, except the texts where the engines may disagree
    (``ENGINES_DIFFER_PATTERN``), which go through Python's re."""
    if not texts:
        return frozenset()
    column = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String}).with_columns(
        marked=pl.col("text").str.contains(_noise_marker_pattern()),
        python=pl.col("text").str.contains(ENGINES_DIFFER_PATTERN),
    )
    markers = _noise_markers()
    return frozenset(column.filter(~pl.col("python") & pl.col("marked"))["text"]) | {
        text for text in column.filter("python")["text"] if any(m.search(text) for m in markers)
    }


def _without_noise_markers(
    kept: list[Line], dropped: list[tuple[Line, str]], marked_texts: frozenset[str], text: Unwrapped
) -> tuple[list[Line], list[tuple[Line, str]]]:
    """A kept line the record suite would reject the whole article for is the cleaner's miss: it
    goes (rule ``noise_marker``) and the article stays. The suite's patterns are line-local (they
    close at "\\n" or the end): a body matches one when one of its lines does, so a line joined from
    wrapped input lines is matched as those lines."""
    marked = [text.text_of(line) in marked_texts for line in kept]
    if not any(marked):
        return kept, dropped
    return (
        [line for line, m in zip(kept, marked, strict=True) if not m],
        dropped + [(line, "noise_marker") for line, m in zip(kept, marked, strict=True) if m],
    )


# --- The clean step over a batch, and its Prefect task ------------------------------------------------


@dataclass(frozen=True)
class CleanOutcome:
    records: pl.DataFrame  # tasks.schema.RECORDS
    rejections: list[Rejection]
    rule_counts: dict[str, int]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while (as it was after). Cleaning a batch makes
    millions of small objects (a ``Line`` per unit and pass) and no reference cycles (reference
    counting frees all of it), and each collection their allocation sets off walks the batch's live
    lines again: ~15 % of the step's CPU for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# What is memoised per distinct text while a batch is cleaned.
_PER_TEXT_CACHES = (_cached_tokens, _cached_text_facts)


@contextmanager
def _memoised_per_batch() -> Iterator[None]:
    """A line's tokens and facts computed once per distinct text of the batch, then freed. Unbounded
    within the batch, because a site's chrome recurs on pages far apart in it (a bounded cache of 32k
    texts computes a 2,000-page bench-day chunk's 75k distinct texts 117k times); freed after it, so
    what it holds lives as long as the batch's pages do and not in the worker after them."""
    try:
        yield
    finally:
        for cache in _PER_TEXT_CACHES:
            cache.cache_clear()


def clean_documents(
    documents: list[RawDocument], config: CleanConfig = CleanConfig(), boilerplate: dict[str, frozenset[str]] | None = None
) -> CleanOutcome:
    """Clean documents; one with no article text left is rejected, not dropped.

    ``boilerplate`` is the run's recurring lines per site (``find_site_boilerplate`` over all its
    documents); when None, ``documents`` are taken to be the whole run. Passing it lets a run clean
    in chunks.
    """
    with _cyclic_gc_paused(), _memoised_per_batch():
        return _clean_documents(documents, config, boilerplate)


def _clean_documents(
    documents: list[RawDocument], config: CleanConfig, boilerplate: dict[str, frozenset[str]] | None
) -> CleanOutcome:
    if boilerplate is None:
        boilerplate = find_site_boilerplate(documents, config)
    rows: list[dict] = []
    rejections: list[Rejection] = []
    rule_counts: Counter[str] = Counter()
    pages = [(doc.text, boilerplate.get(site_of(doc), frozenset()), doc.extracted) for doc in documents]
    for doc, cleaned in zip(documents, _clean_pages(pages, config), strict=True):
        rule_counts.update(cleaned.rule_counts())
        if not cleaned.body.strip():
            rejections.append(
                Rejection(
                    doc.source_uri, "clean", ("no_article_text",), doc.size_bytes, cleaned.title, doc.text, doc.locator or None
                )
            )
            continue
        rows.append(
            {
                "article_id": article_id(doc.source_uri, doc.locator),
                "source_uri": doc.source_uri,
                "record_locator": doc.locator or None,
                "url": doc.url,
                "fetched_at": doc.fetched_at,
                # What the source states (HTML meta, JSON fields) wins over what the cleaner guesses.
                "title": doc.title or cleaned.title,
                "published_date": doc.published_date or cleaned.published_date,
                "byline": doc.byline or cleaned.byline,
                # The model walks every byte in Python; an article's opening tells its language.
                "language": detect_language(cleaned.body[: config.body_language_chars]) or doc.language,
                "body": cleaned.body,
                "content_hash": content_hash(cleaned.body),
                "raw_chars": len(doc.text),
                "removed_chars": len(doc.text) - len(cleaned.body),
                "size_bytes": doc.size_bytes,
            }
        )
    records = pl.DataFrame(rows, schema=RECORDS)
    records = records.with_columns(word_counts(records["body"]))
    return CleanOutcome(records, rejections, dict(sorted(rule_counts.items())))


def merge_outcomes(parts: list[CleanOutcome]) -> CleanOutcome:
    """The outcome of cleaning all documents of ``parts``, in their order."""
    rule_counts: Counter[str] = Counter()
    for part in parts:
        rule_counts.update(part.rule_counts)
    return CleanOutcome(
        pl.concat([part.records for part in parts]) if parts else pl.DataFrame(schema=RECORDS),
        [rejection for part in parts for rejection in part.rejections],
        dict(sorted(rule_counts.items())),
    )


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(documents: pl.DataFrame, config: CleanConfig, boilerplate: dict[str, frozenset[str]]) -> CleanOutcome:
    """``documents``: a chunk of the run's tasks.parse.DOCUMENTS rows."""
    return clean_documents(raw_documents(documents), config, boilerplate)
