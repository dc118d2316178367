"""Parse step: the content of one raw object -> the documents it holds, with their metadata.

Formats: a plain-text scrape holds one document; an HTML page one (its main text extracted with
trafilatura, offline); a JSON file one record or a list of them; a JSONL file one record per line; a
WARC archive one document per HTML response. A record that cannot be a document (bad JSON, no body,
a non-HTML or error response) becomes a Rejection of its own, so a file's good records still count.

Every document keeps the URI of the object it came from and a locator inside it ("" for whole-file
documents, ``line:N``, ``index:N``, ``offset:N``), so each output row is traceable to its exact input.
Everything here is pure: text, bytes or a stream in, documents and rejections out; no storage I/O.
Process-wide hooks into the HTML extractors: htmldate's dateparser is given each HTML page's
languages (``_dates_read_in``). The others only make the same output cheaper: jusText finds the word
set of a stoplist it was given before by identity (``_stoplist_set``); trafilatura's and htmldate's
parsers pick each element's Python class in C (``_HTML_CLASSES``); trafilatura's basic cleaning
finds its elements in one walk of the tree (``_basic_clean_targets``); trafilatura's XPaths ask their
EXSLT regex tests only of elements holding a literal the regex needs (``_guard_trafilatura_xpaths``).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import BinaryIO

import htmldate.extractors
import htmldate.utils
import justext.core
import polars as pl
import trafilatura
import trafilatura.settings
import trafilatura.utils
from dateparser import DateDataParser
from dateparser.data.languages_info import language_order
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlElementClassLookup, HtmlEntity, HtmlProcessingInstruction
from trafilatura.settings import set_date_params
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from tasks.config import ParseConfig
from tasks.markdown import looks_like_markdown, markdown_text
from tasks.quarantine import Rejection
from tasks.xpath_guard import guarded

TEXT, MARKDOWN, HTML, JSON, JSONL, CSV, TSV, WARC = "text", "markdown", "html", "json", "jsonl", "csv", "tsv", "warc"
_EXTENSIONS = {
    ".txt": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".json": JSON,
    ".jsonl": JSONL,
    ".ndjson": JSONL,
    ".csv": CSV,
    ".tsv": TSV,
    ".warc": WARC,
}
_HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
_WORD = re.compile(r"\w+")
# An object with a key, or a list of objects: a text scrape may well start with "[Reuters]" or "{".
_JSON_START = re.compile(rb'\{\s*"|\[\s*\{')
# A shorter first line that merely occurs in the title ("News", "Sport") is a label, not the headline.
_MIN_HEADLINE_CHARS = 15
# The page's language as its <html> tag declares it (lang or xml:lang), as written: "en", "en-US", "en_US".
_DECLARED_LANGUAGE = re.compile(r"""<html\b[^>]*?\blang\s*=\s*["']?([a-z]{2,3}(?:[-_][a-z0-9]{1,8})*)""", re.IGNORECASE)
_LANGUAGE_SUBTAG_SEPARATOR = re.compile(r"[-_]")
HTML_TAG_WITHIN = 4096  # characters (or bytes) from a page's start its <html> tag is looked for in


@dataclass(frozen=True)
class RawDocument:
    source_uri: str
    locator: str  # position inside the source object ("" when the object is the document)
    text: str
    size_bytes: int
    # Metadata the source states (WARC headers, JSON fields, HTML meta tags); None when it does not.
    url: str | None = None
    fetched_at: dt.datetime | None = None  # UTC
    title: str | None = None
    published_date: dt.date | None = None
    byline: str | None = None
    language: str | None = None  # ISO 639-1
    # True when an extractor (trafilatura) already chose the main text from the page's structure.
    extracted: bool = False


# A run's documents as columns, one row per RawDocument: how they travel between the steps, so the
# flow holds a few Arrow buffers rather than an object per document.
DOCUMENTS = pl.Schema(
    {
        "source_uri": pl.String,
        "locator": pl.String,
        "text": pl.String,
        "size_bytes": pl.Int64,
        "url": pl.String,
        "fetched_at": pl.Datetime("us", "UTC"),
        "title": pl.String,
        "published_date": pl.Date,
        "byline": pl.String,
        "language": pl.String,
        "extracted": pl.Boolean,
    }
)


def documents_frame(documents: list[RawDocument]) -> pl.DataFrame:
    """``documents`` as DOCUMENTS columns, in order."""
    return pl.DataFrame({name: [getattr(doc, name) for doc in documents] for name in DOCUMENTS}, schema=DOCUMENTS)


def raw_documents(frame: pl.DataFrame) -> list[RawDocument]:
    """The RawDocuments of DOCUMENTS rows, in order (the inverse of ``documents_frame``)."""
    return [RawDocument(**row) for row in frame.select(DOCUMENTS.names()).iter_rows(named=True)]


@dataclass
class ParseOutcome:
    documents: list[RawDocument] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Inputs read with a caveat worth a look, e.g. "s3://b/k.txt: invalid_bytes_replaced (utf-8)".
    warnings: list[str] = field(default_factory=list)

    def add(self, item: RawDocument | Rejection) -> None:
        (self.documents if isinstance(item, RawDocument) else self.rejections).append(item)

    def extend(self, other: ParseOutcome) -> None:
        self.documents.extend(other.documents)
        self.rejections.extend(other.rejections)
        self.warnings.extend(other.warnings)


# --- Format detection ---------------------------------------------------------------------------


def format_by_name(key: str) -> str | None:
    """The format a file's extension names (``.gz`` stripped first), or None when it names none."""
    name = key.lower().removesuffix(".gz")
    return next((fmt for ext, fmt in _EXTENSIONS.items() if name.endswith(ext)), None)


def sniff_format(head: bytes) -> str:
    """The format of content whose name says nothing, from its first bytes."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1024]
    lowered = start.lower()
    if start.startswith(b"WARC/1."):
        return WARC
    if lowered.startswith(b"<") and (b"<!doctype html" in lowered or b"<html" in lowered):
        return HTML
    if _JSON_START.match(start):
        return JSON
    return TEXT


# --- Plain text and HTML ------------------------------------------------------------------------


def parse_text(source_uri: str, text: str, size_bytes: int, config: ParseConfig, markdown: bool = False) -> list[RawDocument]:
    """A text scrape is one document: the visible text of one page (of its Markdown, when it is Markdown)."""
    return [RawDocument(source_uri=source_uri, locator="", text=visible_text(text, config, markdown), size_bytes=size_bytes)]


def visible_text(text: str, config: ParseConfig, markdown: bool = False) -> str:
    """``text`` as the page showed it: Markdown (named so, or found to be) without its markup."""
    return markdown_text(text) if markdown or looks_like_markdown(text, config.markdown_min_links) else text


def parse_html(
    source_uri: str,
    locator: str,
    html: str | bytes,
    size_bytes: int,
    config: ParseConfig,
    url: str | None = None,
    fetched_at: dt.datetime | None = None,
    published: dt.date | None = None,
) -> RawDocument | Rejection:
    """The main text of an HTML page and the metadata its markup states, extracted by trafilatura.

    trafilatura only reads the markup given here (it fetches nothing). ``url``, ``fetched_at`` and
    ``published`` come from the container (WARC headers, JSON fields) and win over the page's own
    canonical URL and date. A stated date spares htmldate's search of the page's text, whose date
    would not be used: the costliest metadata step (dateparser tries every locale it knows on
    strings that hold no date): 22.4 -> 15.9 ms a record on the 10k bench day's pages.
    Bytes are decoded by trafilatura, which honours the page's declared charset.
    """
    search_text_for_date = config.extensive_date_search and published is None
    with _dates_read_in(date_languages(html, config.date_languages)):
        extracted = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=config.include_comments,
            include_tables=config.include_tables,
            favor_precision=config.favor_precision,
            favor_recall=config.favor_recall,
            fast=config.fast,
            date_extraction_params=set_date_params(search_text_for_date),
        )
    if extracted is None or not (extracted.text or "").strip():
        return _rejected(source_uri, locator, "html_no_text", "trafilatura found no main text", size_bytes)
    if published is None:
        published = parse_date(extracted.date)
        if published is not None and (published.month, published.day) == (1, 1) and search_text_for_date:
            published = _markup_date(html, url or extracted.url)
    return RawDocument(
        source_uri=source_uri,
        locator=locator,
        text=without_headline(extracted.text, extracted.title),
        size_bytes=size_bytes,
        url=url or extracted.url,
        fetched_at=fetched_at,
        title=extracted.title,
        published_date=published,
        byline=extracted.author,
        extracted=True,
    )


def _markup_date(html: str | bytes, url: str | None) -> dt.date | None:
    """The date the page's markup states (meta tags, JSON-LD, ``<time>``, the URL), without searching its text.

    htmldate's search of the text reports a bare year, most often the footer's copyright, as 1 January
    of that year (59 of wcxb-dev's 706 dated pages, 2 of them really published on 1 January). A
    publication date is a day, so a 1 January stands only where the markup states it; otherwise the
    markup's own date, or none.
    """
    return parse_date(find_date(html, url=url, **set_date_params(False)))


def declared_language(html: str | bytes) -> str | None:
    """The language tag the page's <html> tag declares, as written ("pt-BR"), or None."""
    head = html[:HTML_TAG_WITHIN]
    match = _DECLARED_LANGUAGE.search(head.decode("latin-1") if isinstance(head, bytes) else head)
    return match[1] if match else None


def date_languages(html: str | bytes, configured: tuple[str, ...]) -> tuple[str, ...] | None:
    """The languages a date printed in the page's text is read in: the page's declared one and ``configured``.

    None, for every language dateparser knows, when ``configured`` is empty (htmldate's own choice).
    Without a list, dateparser tries each of its ~200 locales on every string htmldate's patterns do
    not read, most of which hold no date at all (parse.date_languages has the measured cost).
    """
    if not configured:
        return None
    tag = declared_language(html)
    declared = _LANGUAGE_SUBTAG_SEPARATOR.split(tag, maxsplit=1)[0].lower() if tag else None
    if declared in language_order and declared not in configured:
        return (declared, *configured)
    return configured


# The languages of the page being extracted, read by htmldate's dateparser through _page_date_parser.
_page_date_languages: ContextVar[tuple[str, ...] | None] = ContextVar("page_date_languages", default=None)
_htmldate_date_parser = htmldate.extractors.get_external_parser
_cached_date_languages: tuple[str, ...] | None = None  # the languages htmldate's date cache holds dates of


@contextmanager
def _dates_read_in(languages: tuple[str, ...] | None) -> Iterator[None]:
    """htmldate's dateparser reads dates in ``languages`` only (all it knows for None) within the block.

    htmldate caches each string's date by the string alone, so its cache is emptied when the
    languages change: a date read for one page's languages is not reused on a page of others.
    """
    global _cached_date_languages
    if languages != _cached_date_languages:
        htmldate.extractors.try_date_expr.cache_clear()
        _cached_date_languages = languages
    token = _page_date_languages.set(languages)
    try:
        yield
    finally:
        _page_date_languages.reset(token)


def _page_date_parser() -> DateDataParser:
    """htmldate's dateparser (its settings), restricted to the page's languages when they are set."""
    languages = _page_date_languages.get()
    return _htmldate_date_parser() if languages is None else _date_parser_for(languages)


@functools.cache
def _date_parser_for(languages: tuple[str, ...]) -> DateDataParser:
    return DateDataParser(languages=list(languages), settings=_htmldate_date_parser()._settings)


# htmldate builds one dateparser for every language and offers no option to name them; it looks the
# parser up through this module-level function on every string, so it gets the page's own here.
htmldate.extractors.get_external_parser = _page_date_parser


_justext_define_stoplist = justext.core.define_stoplist
_last_stoplist: tuple[object, frozenset[str]] = ((), frozenset())  # (stoplist, its word set)


def _stoplist_set(stoplist: Iterable[str]) -> frozenset[str]:
    """jusText's lower-cased word set of ``stoplist``, kept for the immutable stoplist passed again.

    trafilatura's jusText fallback (about half the bench day's pages, 6-8 % of the dev sets') passes
    the same tuple every call, the union of all jusText's languages (154,484 words). jusText caches
    the set by the stoplist's value, so each call hashes and compares the whole tuple (a tuple's hash
    is not stored): 3-9 ms a call. A tuple or frozenset cannot change, so the same object has the
    same words; anything else goes to jusText's own cache.
    """
    global _last_stoplist
    if not isinstance(stoplist, (tuple, frozenset)):
        return _justext_define_stoplist(stoplist)
    if _last_stoplist[0] is not stoplist:
        _last_stoplist = (stoplist, _justext_define_stoplist(stoplist))
    return _last_stoplist[1]


# jusText looks this module-level function up on each classify_paragraphs call.
justext.core.define_stoplist = _stoplist_set


def _html_element_classes() -> etree.ElementNamespaceClassLookup:
    """lxml.html's choice of Python class for each node, made in C rather than by a Python method.

    lxml.html's parsers ask ``HtmlElementClassLookup.lookup`` (Python) for the class of every node
    Python touches, ~4,400 times a page (each XPath match, each attribute an EXSLT regex test reads):
    ~5 % of an HTML page's CPU. Its answer depends only on the node's kind and lower-cased tag name;
    the HTML parser lower-cases every tag name, so a C table by exact name gives the same classes.
    """
    lookup = etree.ElementNamespaceClassLookup(
        etree.ElementDefaultClassLookup(
            element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
        )
    )
    by_tag = lookup.get_namespace(None)
    for tag, element_class in HtmlElementClassLookup._default_element_classes.items():
        by_tag[tag] = element_class
    return lookup


_HTML_CLASSES = _html_element_classes()
for _parser in (trafilatura.utils.HTML_PARSER, htmldate.utils.HTML_PARSER):
    _parser.set_element_class_lookup(_HTML_CLASSES)


# The expression _basic_clean_targets evaluates, as trafilatura states it (trafilatura.settings).
_BASIC_CLEAN_PATH = (
    ".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script|.//style|.//svg|.//template"
    f"|.//*[re:test(@class, '{trafilatura.settings._COOKIE_CONSENT_RE}', 'i') or "
    f"re:test(@id, '{trafilatura.settings._COOKIE_CONSENT_RE}', 'i')]"
)
_BASIC_CLEAN_TAGS = frozenset({"aside", "fencedframe", "footer", "script", "style", "svg", "template"})
_COOKIE_CONSENT = re.compile(trafilatura.settings._COOKIE_CONSENT_RE, re.IGNORECASE)


def _basic_clean_targets(tree: HtmlElement) -> list[HtmlElement]:
    """The elements trafilatura's BASIC_CLEAN_XPATH selects under ``tree``, in document order.

    trafilatura measures a page's text with it on every page whose extraction is short (the recall
    gate; the bench day's pages nearly all), and lxml calls back into Python for each of the two
    EXSLT regex tests of every element: ~4 ms a page, one walk of the tree here ~0.5 ms.
    ``contains(@class|@id, ...)`` reads the first of the two attributes the element states.
    """
    selected = []
    for element in tree.iterdescendants(etree.Element):
        tag = element.tag
        if tag in _BASIC_CLEAN_TAGS or (tag == "div" and "footer" in _first_attribute(element, ("class", "id"))):
            selected.append(element)
            continue
        for name in ("class", "id"):
            value = element.get(name)
            if value is not None and _COOKIE_CONSENT.search(value):
                selected.append(element)
                break
    return selected


def _first_attribute(element: HtmlElement, names: tuple[str, ...]) -> str:
    """The value of the first of ``names`` the element states, in its own attribute order ("" if none)."""
    return next((value for name, value in element.items() if name in names), "")


# trafilatura's basic_cleaning looks the expression up in its module on each call; the stand-in is
# installed only for the expression it was written for.
_trafilatura_baseline = sys.modules["trafilatura.baseline"]  # the package exports a function by that name
if _trafilatura_baseline.BASIC_CLEAN_XPATH.path == _BASIC_CLEAN_PATH:
    _trafilatura_baseline.BASIC_CLEAN_XPATH = _basic_clean_targets


_EXSLT_REGEX = {"re": "http://exslt.org/regular-expressions"}  # the prefix trafilatura's XPaths bind


def _guard_trafilatura_xpaths() -> None:
    """Each of trafilatura's module-level XPaths (alone or in a list) whose regex tests can be guarded
    is replaced, in every module holding it, by the guarded expression (tasks.xpath_guard).

    Its XPaths call an EXSLT regex test for each element they reach, about half of an HTML page's CPU
    on the bench day; the guards select the same elements.
    """
    modules = [module for name, module in list(sys.modules.items()) if name.startswith("trafilatura.")]
    # id -> (the original, its replacement): the original is kept so that its id is not reused.
    replacements: dict[int, tuple[etree.XPath, etree.XPath]] = {}

    def replacement(xpath: etree.XPath) -> etree.XPath:
        if id(xpath) not in replacements:
            path = guarded(xpath.path)
            new = xpath if path == xpath.path else etree.XPath(path, namespaces=_EXSLT_REGEX)
            replacements[id(xpath)] = replacements[id(new)] = (xpath, new)  # a list seen again holds the new one
        return replacements[id(xpath)][1]

    for module in modules:
        for name, value in list(vars(module).items()):
            if isinstance(value, etree.XPath):
                setattr(module, name, replacement(value))
            elif isinstance(value, list) and any(isinstance(item, etree.XPath) for item in value):
                value[:] = [replacement(item) if isinstance(item, etree.XPath) else item for item in value]


_guard_trafilatura_xpaths()


def without_headline(text: str, title: str | None) -> str:
    """The text without its first line when that line is the headline (the title is metadata, not body).

    trafilatura keeps the page's <h1> as the text's first line on some sites; the title it reports
    is the same headline, sometimes with the site's name around it ("Site | Headline").
    """
    first, _, rest = text.partition("\n")
    headline, line = _words(title or ""), _words(first)
    if line and (line == headline or (len(line) >= _MIN_HEADLINE_CHARS and line in headline)):
        return rest
    return text


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


# --- JSON and JSON lines ------------------------------------------------------------------------


def parse_json(source_uri: str, text: str, size_bytes: int, config: ParseConfig, lines: bool) -> ParseOutcome:
    """Scraper records: a JSON object or list of them, or (``lines``) one JSON object per line.

    A ``.json`` file that is really JSON lines (a common scraper habit) is read as lines.
    """
    if lines or _looks_like_json_lines(text):
        return _parse_json_lines(source_uri, text, config)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParseOutcome(rejections=[_bad_json(source_uri, f"line:{exc.lineno}", exc, size_bytes)])
    if isinstance(value, list):
        records = [(f"index:{i}", item, len(json.dumps(item).encode())) for i, item in enumerate(value)]
    else:
        records = [("", value, size_bytes)]
    outcome = ParseOutcome()
    for locator, record, record_bytes in records:
        outcome.add(parse_record(source_uri, locator, record, record_bytes, config))
    return outcome


def _looks_like_json_lines(text: str) -> bool:
    """Several lines of which the first is a whole JSON object: JSON lines, not one pretty-printed value."""
    first, _, rest = text.strip().partition("\n")
    if not rest.strip():
        return False
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def _parse_json_lines(source_uri: str, text: str, config: ParseConfig) -> ParseOutcome:
    outcome = ParseOutcome()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        locator, line_bytes = f"line:{number}", len(line.encode())
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            outcome.add(_bad_json(source_uri, locator, exc, line_bytes, line))
            continue
        outcome.add(parse_record(source_uri, locator, record, line_bytes, config))
    return outcome


def parse_table(source_uri: str, text: str, size_bytes: int, config: ParseConfig, separator: str) -> ParseOutcome:
    """Scraper records as rows of a CSV/TSV file with a header (polars; every value read as text):
    each row is a record with the header's names as its keys, at ``row:N`` (N from 1, the header
    not counted). A file polars cannot read as a table is one rejection."""
    try:
        table = pl.read_csv(io.StringIO(text), separator=separator, infer_schema=False, raise_if_empty=True)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        detail = str(exc).strip().split("\n")[0]
        # The quarantine row keeps read.excerpt_chars of it, as of every rejection.
        return ParseOutcome(rejections=[_rejected(source_uri, "", "bad_table", detail, size_bytes, None, text)])
    outcome = ParseOutcome()
    for number, row in enumerate(table.iter_rows(named=True), start=1):
        row_bytes = sum(len(value.encode()) for value in row.values() if value)
        outcome.add(parse_record(source_uri, f"row:{number}", row, row_bytes, config))
    return outcome


def _bad_json(source_uri: str, locator: str, exc: json.JSONDecodeError, size_bytes: int, excerpt: str | None = None) -> Rejection:
    return _rejected(source_uri, locator, "bad_json", exc.msg, size_bytes, None, excerpt)


def parse_record(source_uri: str, locator: str, record: object, size_bytes: int, config: ParseConfig) -> RawDocument | Rejection:
    """One scraper record -> a document, with the metadata its fields state (mapping: ParseConfig)."""
    if not isinstance(record, dict):
        return _rejected(source_uri, locator, "not_a_record", f"a JSON {type(record).__name__}, not an object", size_bytes)
    stated = dict(
        url=_first_string(record, config.url_fields),
        fetched_at=parse_datetime(_first_string(record, config.fetched_fields)),
        title=_first_string(record, config.title_fields),
        published_date=parse_date(_first_string(record, config.published_fields)),
        byline=_first_string(record, config.author_fields),
        language=_language_code(_first_string(record, config.language_fields)),
    )
    text = _first_string(record, config.text_fields)
    markdown = _first_string(record, config.markdown_fields) if text is None else None
    html = _first_string(record, config.html_fields)
    if text is None and markdown is None and html is None:
        fields = ", ".join(config.text_fields + config.markdown_fields + config.html_fields)
        excerpt = json.dumps(record, ensure_ascii=False)
        return _rejected(source_uri, locator, "no_body_field", f"none of {fields}", size_bytes, stated["title"], excerpt)
    if text is None and markdown is None:
        extracted = parse_html(
            source_uri, locator, html, size_bytes, config, stated["url"], stated["fetched_at"], stated["published_date"]
        )
        if isinstance(extracted, Rejection):
            return extracted
        # The record's own fields win over what the page's markup says.
        stated = {name: value or getattr(extracted, name) for name, value in stated.items()}
        return RawDocument(source_uri, locator, extracted.text, size_bytes, **stated, extracted=True)
    body = visible_text(text, config) if text is not None else visible_text(markdown or "", config, markdown=True)
    return RawDocument(source_uri=source_uri, locator=locator, text=body, size_bytes=size_bytes, **stated)


def _first_string(record: dict, keys: Iterable[str]) -> str | None:
    """The first non-empty value among ``keys``; a list (several authors) is joined with commas."""
    for key in keys:
        value = _field(record, key)
        if isinstance(value, list):
            value = ", ".join(v for v in value if isinstance(v, str) and v.strip())
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # epoch timestamps
        if isinstance(value, str) and value.strip():
            return value
    return None


def _field(record: dict, key: str) -> object:
    """``record[key]``; a key with dots that the record does not hold names a path into nested objects."""
    if key in record or "." not in key:
        return record.get(key)
    value: object = record
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


# --- WARC ---------------------------------------------------------------------------------------


def parse_warc(source_uri: str, stream: BinaryIO, config: ParseConfig) -> ParseOutcome:
    """One document per HTML ``response`` record of a WARC (plain or per-record gzip), read streaming.

    Only response records are inputs: request, metadata, warcinfo and revisit records are not
    counted. A response that is not a readable HTML page is quarantined with its reason.
    """
    outcome = ParseOutcome()
    records = ArchiveIterator(stream)
    try:
        for record in records:
            if record.rec_type == "response":
                outcome.add(_parse_response(source_uri, records, record, config))
    except (ArchiveLoadFailed, zlib.error) as exc:
        # Cut or corrupt from here on: the records read so far stand, the rest is accounted as one rejection.
        outcome.add(_rejected(source_uri, f"offset:{records.offset}", "bad_warc", str(exc)))
    return outcome


def _parse_response(source_uri: str, records: ArchiveIterator, record, config: ParseConfig) -> RawDocument | Rejection:
    url = record.rec_headers.get_header("WARC-Target-URI")
    refusal = _not_a_page(record.http_headers)
    if refusal is None:
        # Bounded read: even a Content-Encoding bomb yields at most the cap (+1 byte to notice it).
        payload = record.content_stream().read(config.max_warc_record_bytes + 1)
        if len(payload) > config.max_warc_record_bytes:
            refusal = "too_large", f"payload above parse.max_warc_record_bytes={config.max_warc_record_bytes}"
    # Asked only after the payload is read: warcio finds a record's offset by reading it to its end.
    locator = f"offset:{records.get_record_offset()}"
    if refusal:
        reason, detail = refusal
        return _rejected(source_uri, locator, reason, f"{url}: {detail}", record.length)
    fetched_at = parse_datetime(record.rec_headers.get_header("WARC-Date"))
    return parse_html(source_uri, locator, payload, record.length, config, url, fetched_at)


def _not_a_page(http) -> tuple[str, str] | None:
    """Why a WARC response is not an HTML page to extract (reason, detail), or None when it is one."""
    if http is None:
        return "warc_not_html", "not an HTTP response"
    status = int(http.get_statuscode() or 0)
    if status >= 400:
        return "warc_http_error", f"HTTP status {status}"
    if not 200 <= status < 300:
        return "warc_not_html", f"HTTP status {status} carries no page"
    media_type = (http.get_header("Content-Type") or "").split(";")[0].strip().lower()
    if media_type not in _HTML_MEDIA_TYPES:
        return "warc_not_html", f"Content-Type {media_type or 'missing'}"
    return None


# --- Values -------------------------------------------------------------------------------------


def parse_datetime(value: str | None) -> dt.datetime | None:
    """A stated timestamp as an aware UTC datetime (a timestamp without offset is taken as UTC)."""
    stated = _timestamp(value)
    return None if stated is None else stated.astimezone(dt.UTC)


def parse_date(value: str | None) -> dt.date | None:
    """The calendar date a timestamp states, in its own time zone (not shifted to UTC)."""
    stated = _timestamp(value)
    return None if stated is None else stated.date()


def _timestamp(value: str | None) -> dt.datetime | None:
    """ISO 8601 (what JSON scrapers and WARC write), RFC 2822 (RSS, HTTP) or epoch seconds."""
    if value is None:
        return None
    for parse in (dt.datetime.fromisoformat, parsedate_to_datetime, _from_epoch):
        try:
            parsed = parse(value.strip())
        except (TypeError, ValueError, OverflowError, OSError):
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _from_epoch(value: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def _language_code(value: str | None) -> str | None:
    """``en-US`` / ``en_GB`` / ``EN`` -> ``en``."""
    if not value:
        return None
    return value.replace("_", "-").split("-")[0].strip().lower() or None


def _rejected(
    source_uri: str,
    locator: str,
    reason: str,
    detail: str,
    size_bytes: int | None = None,
    title: str | None = None,
    excerpt: str | None = None,
) -> Rejection:
    """A parse rejection of one record, saying where in the file it is: ``bad_json (line:3: Expecting value)``."""
    text = f"{reason} ({locator}: {detail})" if locator else f"{reason} ({detail})"
    return Rejection(source_uri, "parse", (text,), size_bytes, title, excerpt, locator or None)


