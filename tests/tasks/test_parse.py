import datetime as dt
import gzip
import io
import json
import re
import socket

import pytest
import trafilatura

from tasks.config import ParseConfig, ReadConfig
from tasks.parse import (
    HTML,
    JSON,
    CSV,
    JSONL,
    MARKDOWN,
    TEXT,
    WARC,
    RawDocument,
    date_languages,
    format_by_name,
    parse_datetime,
    parse_html,
    parse_json,
    parse_warc,
    sniff_format,
    without_headline,
)
from tasks.quarantine import Rejection
from tasks.read import parse_object
from tests.scrapes import FERRY, LIBRARY, ORCHARD, Response, html_page, warc_archive

URI = "/landing/2025-08-23/file"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Parsing is offline: any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("parsing tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a/page.html", HTML),
        ("a/page.HTM.gz", HTML),
        ("a/items.json", JSON),
        ("a/items.jsonl.gz", JSONL),
        ("a/items.ndjson", JSONL),
        ("a/CC-NEWS-20250823.warc.gz", WARC),
        ("a/page.txt", TEXT),
        ("a/page.md.gz", MARKDOWN),
        ("a/export.CSV", CSV),
        ("a/page.dat", None),
    ],
)
def test_format_by_name_strips_gz_first(key, expected):
    assert format_by_name(key) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"WARC/1.0\r\nWARC-Type: warcinfo", WARC),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html>", HTML),
        (b"<html lang='en'><head>", HTML),
        (b'\n {"url": "x"}', JSON),
        (b'[\n  {"url": "x"}]', JSON),
        (b"[Reuters] A text scrape that starts with a bracket", TEXT),
        (b"<b>Breaking:</b> a text scrape that starts with markup", TEXT),
        (b"Home\nNews\nAn article", TEXT),
    ],
)
def test_sniff_format_from_the_first_bytes(head, expected):
    assert sniff_format(head) == expected


def test_html_page_gives_main_text_and_the_metadata_it_states():
    doc = parse_html(URI, "", html_page(LIBRARY), 1234, ParseConfig())
    assert isinstance(doc, RawDocument)
    assert doc.text == LIBRARY.body  # no menu, headline, related links or footer
    assert (doc.title, doc.byline, doc.url) == (LIBRARY.title, LIBRARY.author, LIBRARY.url)
    assert doc.published_date == dt.date(2025, 8, 23)
    assert (doc.source_uri, doc.locator, doc.size_bytes) == (URI, "", 1234)


def _undated(page: str) -> str:
    """The page with no date in its markup or its URL."""
    undated = re.sub(r'\s*<meta property="article:published_time"[^>]*>', "", page)
    return undated.replace(LIBRARY.url, "https://news.example.org/harbour-library")


@pytest.mark.parametrize(("extensive", "found"), [(True, dt.date(2025, 3, 12)), (False, None)])
def test_extensive_date_search_finds_a_date_printed_in_the_text_only_when_on(extensive, found):
    config = ParseConfig(extensive_date_search=extensive)
    printed = _undated(html_page(LIBRARY)).replace("</article>", "<div>Posted on March 12, 2025 by Ann Lee</div></article>")
    assert parse_html(URI, "", printed, 1234, config).published_date == found
    # A date the markup states is found either way.
    assert parse_html(URI, "", html_page(LIBRARY), 1234, config).published_date == dt.date(2025, 8, 23)


@pytest.mark.parametrize("extensive", [True, False])
def test_a_footer_copyright_year_is_not_a_publication_date(extensive):
    # htmldate's text search reports the footer's "© 2025" as 2025-01-01; no date is better than a wrong one.
    config = ParseConfig(extensive_date_search=extensive)
    assert parse_html(URI, "", _undated(html_page(LIBRARY)), 1234, config).published_date is None
    # A 1 January the markup states stands.
    new_year = html_page(LIBRARY).replace(f"{LIBRARY.published}T08:00", "2025-01-01T08:00")
    new_year = new_year.replace(LIBRARY.url, "https://news.example.org/harbour-library")
    assert parse_html(URI, "", new_year, 1234, config).published_date == dt.date(2025, 1, 1)


def test_a_date_the_container_states_wins_and_the_page_text_is_not_searched_for_one(monkeypatch):
    printed = _undated(html_page(LIBRARY)).replace("</article>", "<div>Posted on March 12, 2025 by Ann Lee</div></article>")
    extract, searched = trafilatura.bare_extraction, []

    def spy(*args, date_extraction_params, **kwargs):
        searched.append(date_extraction_params["extensive_search"])
        return extract(*args, date_extraction_params=date_extraction_params, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", spy)
    stated = dt.date(2025, 3, 14)
    assert parse_html(URI, "", printed, 1234, ParseConfig(), published=stated).published_date == stated
    assert parse_html(URI, "", printed, 1234, ParseConfig()).published_date == dt.date(2025, 3, 12)
    assert searched == [False, True]


def _printed_in_italian(declared: str | None) -> str:
    """An undated page printing its date in Italian words (a date only dateparser reads), declaring ``declared``."""
    page = _undated(html_page(LIBRARY)).replace("</article>", "<div>12 marzo 2025</div></article>")
    return page.replace('<html lang="en-GB">', f'<html lang="{declared}">' if declared else "<html>")


@pytest.mark.parametrize(
    ("declared", "languages", "found"),
    [
        ("it", ("en",), dt.date(2025, 3, 12)),  # the page's declared language
        ("en-GB", ("en",), None),  # neither declared nor configured
        (None, ("en",), None),
        (None, ("en", "it"), dt.date(2025, 3, 12)),  # a configured language
        ("en-GB", (), dt.date(2025, 3, 12)),  # empty: every language dateparser knows
    ],
)
def test_a_date_printed_in_words_is_read_in_the_declared_and_configured_languages(declared, languages, found):
    config = ParseConfig(date_languages=languages)
    assert parse_html(URI, "", _printed_in_italian(declared), 1234, config).published_date == found


def test_a_date_read_for_one_pages_languages_is_not_reused_for_a_page_of_others():
    # htmldate caches a string's date by the string alone; the same text must not date a page whose languages differ.
    italian, english = _printed_in_italian("it"), _printed_in_italian("en")
    dates = [parse_html(URI, "", page, 1234, ParseConfig()).published_date for page in (italian, english, italian)]
    assert dates == [dt.date(2025, 3, 12), None, dt.date(2025, 3, 12)]


@pytest.mark.parametrize(
    ("html", "configured", "expected"),
    [
        ('<!DOCTYPE html>\n<html class="x" lang="pt-BR"><head>', ("en",), ("pt", "en")),
        (b'<html xml:lang="DE" lang="de">', ("en",), ("de", "en")),
        ('<html lang="en-US">', ("en", "fr"), ("en", "fr")),
        ("<html lang='de_DE'>", ("en",), ("de", "en")),  # the underscore form some CMSs print
        ('<html lang="tlh">', ("en",), ("en",)),  # a language dateparser does not know
        ("<html><body>", ("en",), ("en",)),
        ('<html lang="fr">', (), None),
    ],
)
def test_date_languages(html, configured, expected):
    assert date_languages(html, configured) == expected


def test_date_languages_must_be_dateparsers():
    with pytest.raises(ValueError, match="dateparser knows no language xx"):
        ParseConfig(date_languages=("en", "xx"))


def test_justext_gets_the_same_stoplist_words_once_made():
    import justext.core

    stoplist = ("The", "und", "ET", "et")
    words = justext.core.define_stoplist(stoplist)
    assert words == frozenset({"the", "und", "et"})
    assert justext.core.define_stoplist(stoplist) is words
    assert justext.core.define_stoplist(frozenset({"Le", "la"})) == frozenset({"le", "la"})
    assert justext.core.define_stoplist(stoplist) is words


def test_html_elements_get_the_classes_lxml_html_would_give():
    import htmldate.utils
    import trafilatura.utils
    from lxml.html import HtmlElement, HtmlElementClassLookup

    page = "<html><body><FORM action='/s'><Label>Q</Label><Input name=q><select><option>a</select><textarea></textarea></FORM><P>Text</P></body></html>"
    classes = HtmlElementClassLookup()._element_classes
    for tree in (trafilatura.utils.load_html(page), htmldate.utils.load_html(page)):
        elements = list(tree.iter())
        assert {type(element).__name__ for element in elements} >= {"FormElement", "InputElement", "LabelElement", "SelectElement", "TextareaElement"}
        assert all(type(element) is classes.get(element.tag.lower(), HtmlElement) for element in elements)


_BASIC_CLEAN_PAGE = """<html><body><div id="top"><aside>Side</aside><p>Story text.</p>
<div class="site-footer">F1</div><div id="footer" class="x">F2</div><div class="x" id="footer">not F3</div>
<section class="CookieBanner">C1</section><div id="onetrust-consent-sdk"><span class="cookie-notice">C2</span></div>
<div class="coo\u212aie_bar">C3</div><div class="cookies-not-set">body</div><p class="notice--cookie">C4</p>
<footer><svg><path d="M0"/></svg></footer><template>T</template><fencedframe></fencedframe>
<script>var a;</script><style>p{}</style></div></body></html>"""


@pytest.mark.parametrize("root", ["body", "html"])
def test_basic_cleaning_removes_what_trafilaturas_expression_selects(root):
    import sys

    import trafilatura.settings
    import trafilatura.utils
    from lxml import etree

    from tasks.parse import _BASIC_CLEAN_PATH, _basic_clean_targets

    # The stand-in is for this expression only: a trafilatura that changes it fails here.
    assert trafilatura.settings.BASIC_CLEAN_XPATH.path == _BASIC_CLEAN_PATH
    assert sys.modules["trafilatura.baseline"].BASIC_CLEAN_XPATH is _basic_clean_targets
    tree = trafilatura.utils.load_html(_BASIC_CLEAN_PAGE)
    tree = tree if root == "html" else tree.find("body")
    selected = _basic_clean_targets(tree)
    assert selected == trafilatura.settings.BASIC_CLEAN_XPATH(tree)
    assert [element.text for element in selected if element.tag in ("div", "section", "span", "p")] == ["F1", "F2", "C1", None, "C2", "C3", "C4"]


def test_a_page_without_main_text_is_rejected_at_parse():
    rejected = parse_html(URI, "", "<html><head><title>Video</title></head><body><video src='a.mp4'></video></body></html>", 90, ParseConfig())
    assert isinstance(rejected, Rejection)
    assert rejected.stage == "parse" and rejected.reasons[0].startswith("html_no_text")


@pytest.mark.parametrize(
    ("text", "title", "expected"),
    [
        ("Storm hits coast\nFirst paragraph.", "Storm hits coast", "First paragraph."),
        ("Storm hits the coast overnight\nFirst.", "Example News | Storm hits the coast overnight", "First."),
        ("News\nFirst paragraph.", "Storm hits coast | News", "News\nFirst paragraph."),  # a label, not the headline
        ("First paragraph.\nSecond.", "Storm hits coast", "First paragraph.\nSecond."),
        ("First paragraph.", None, "First paragraph."),
    ],
)
def test_without_headline(text, title, expected):
    assert without_headline(text, title) == expected


def jsonl(*lines: object) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


def test_jsonl_gives_one_document_per_line_and_rejects_bad_lines_alone():
    text = jsonl(
        {"url": LIBRARY.url, "title": LIBRARY.title, "text": LIBRARY.body, "published": "2025-08-23T09:30:00+02:00",
         "scraped_at": "2025-08-23T10:00:00Z", "site": "Example News", "author": ["Jane Doe", "Tom Reyes"], "lang": "en-GB"},
        '{"url": "https://news.example.org/broken", "text": "cut off',
        {"link": ORCHARD.url, "html": html_page(ORCHARD), "date": "Fri, 22 Aug 2025 07:00:00 +0000"},
    )
    outcome = parse_json(URI, text, len(text), ParseConfig(), lines=True)

    first, third = outcome.documents
    assert (first.locator, first.url, first.title, first.text) == ("line:1", LIBRARY.url, LIBRARY.title, LIBRARY.body)
    assert first.published_date == dt.date(2025, 8, 23)  # the date stated, not shifted to UTC
    assert first.fetched_at == dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)
    assert (first.byline, first.language) == ("Jane Doe, Tom Reyes", "en")
    # The html field goes through trafilatura; the record's own fields win over the page's.
    assert (third.locator, third.url, third.text, third.title) == ("line:3", ORCHARD.url, ORCHARD.body, ORCHARD.title)
    assert third.published_date == dt.date(2025, 8, 22)
    (bad,) = outcome.rejections
    assert bad.stage == "parse" and bad.reasons[0].startswith("bad_json (line:2: ")
    assert bad.excerpt.startswith('{"url": "https://news.example.org/broken"')


def test_a_record_without_a_body_field_is_rejected_not_its_file():
    text = jsonl({"url": FERRY.url, "title": FERRY.title}, {"url": LIBRARY.url, "content": LIBRARY.body})
    outcome = parse_json(URI, text, len(text), ParseConfig(), lines=True)
    assert [d.locator for d in outcome.documents] == ["line:2"]
    (missing,) = outcome.rejections
    assert missing.reasons[0].startswith("no_body_field (line:1: ") and missing.title == FERRY.title


def test_json_file_holds_one_record_or_a_list():
    one = json.dumps({"url": LIBRARY.url, "text": LIBRARY.body})
    (doc,) = parse_json(URI, one, len(one), ParseConfig(), lines=False).documents
    assert doc.locator == "" and doc.url == LIBRARY.url

    listed = json.dumps([{"text": LIBRARY.body}, "not a record", {"text": FERRY.body}], indent=2)
    outcome = parse_json(URI, listed, len(listed), ParseConfig(), lines=False)
    assert [d.locator for d in outcome.documents] == ["index:0", "index:2"]
    assert outcome.rejections[0].reasons[0].startswith("not_a_record (index:1: ")


def test_a_json_file_that_is_really_json_lines_is_read_as_lines():
    text = jsonl({"text": LIBRARY.body}, {"text": FERRY.body})
    outcome = parse_json(URI, text, len(text), ParseConfig(), lines=False)
    assert [d.locator for d in outcome.documents] == ["line:1", "line:2"]


def test_broken_pretty_printed_json_is_one_rejection():
    text = '{\n  "url": "x",\n  "text": "a"\n  "title": "b"\n}\n'
    outcome = parse_json(URI, text, len(text), ParseConfig(), lines=False)
    assert outcome.documents == []
    assert [r.reasons[0].split(" ")[0:2] for r in outcome.rejections] == [["bad_json", "(line:4:"]]


MARKDOWN_PAGE = (
    "* [Home](https://news.example.org/)\n* [Sport](https://news.example.org/sport/)\n\n"
    "![Logo](https://news.example.org/logo.png)\n\n# The ferry returns\n\n"
    "The **ferry** to the [island](https://news.example.org/island) sails again on Monday.\n\n"
    "[Share](https://social.example.com/share?u=1) [Print](/print)\n"
)
MARKDOWN_TEXT = "Home\nSport\nThe ferry returns\nThe ferry to the island sails again on Monday.\nShare Print"


@pytest.mark.parametrize("key", ["scrapes/ferry.md", "scrapes/ferry.txt"])
def test_a_markdown_scrape_is_read_as_its_visible_text(key):
    # .md by its name; a .txt by its links ([text](https://...)), which a page's visible text does not hold.
    outcome = parse_object(URI, key, MARKDOWN_PAGE.encode(), len(MARKDOWN_PAGE), ReadConfig(), ParseConfig())
    assert [doc.text for doc in outcome.documents] == [MARKDOWN_TEXT]


def test_a_records_markdown_is_read_as_its_visible_text_and_its_text_field_wins():
    text = jsonl({"url": FERRY.url, "markdown": MARKDOWN_PAGE}, {"text": FERRY.body, "markdown": MARKDOWN_PAGE})
    outcome = parse_json(URI, text, len(text), ParseConfig(), lines=True)
    assert [doc.text for doc in outcome.documents] == [MARKDOWN_TEXT, FERRY.body]


def test_a_text_with_a_few_bracketed_links_stays_as_written():
    few = "The ferry [returns](https://news.example.org/ferry) on Monday, the mayor said.\n"
    assert parse_object(URI, "ferry.txt", few.encode(), len(few), ReadConfig(), ParseConfig()).documents[0].text == few


def test_records_of_common_exporters_are_read_with_their_metadata():
    news_please = {
        "url": FERRY.url, "title": FERRY.title, "maintext": FERRY.body, "authors": ["Jane Doe"],
        "date_publish": "2025-08-22 18:30:00", "date_download": "2025-08-23 10:00:00", "language": "en",
    }
    firecrawl = {
        "markdown": MARKDOWN_PAGE,
        "metadata": {"title": LIBRARY.title, "sourceURL": LIBRARY.url, "language": "en", "publishedTime": "2025-08-21T09:00:00Z"},
    }
    text = jsonl(news_please, firecrawl)
    first, second = parse_json(URI, text, len(text), ParseConfig(), lines=True).documents
    assert (first.url, first.title, first.text, first.byline) == (FERRY.url, FERRY.title, FERRY.body, "Jane Doe")
    assert first.published_date == dt.date(2025, 8, 22)
    assert first.fetched_at == dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)
    assert (second.url, second.title, second.text, second.language) == (LIBRARY.url, LIBRARY.title, MARKDOWN_TEXT, "en")
    assert second.published_date == dt.date(2025, 8, 21)


def test_a_dotted_field_name_the_record_holds_as_a_key_is_that_key():
    text = jsonl({"og.title": "Stated as one key", "text": FERRY.body})
    (doc,) = parse_json(URI, text, len(text), ParseConfig(title_fields=("og.title",)), lines=True).documents
    assert doc.title == "Stated as one key"


@pytest.mark.parametrize(("key", "separator"), [("export.csv", ","), ("export.tsv.gz", "\t")])
def test_a_table_export_is_one_record_a_row(key, separator):
    body = FERRY.body.replace('"', "'")  # one paragraph a line, commas inside: a quoted field
    text = separator.join(["url", "title", "text", "date_publish"]) + "\n"
    text += separator.join([FERRY.url, FERRY.title, f'"{body}"', "2025-08-22"]) + "\n"
    text += separator.join([LIBRARY.url, "", "", ""]) + "\n"
    outcome = parse_object(URI, key, text.encode(), len(text), ReadConfig(), ParseConfig())
    (doc,) = outcome.documents
    assert (doc.locator, doc.url, doc.title, doc.text, doc.published_date) == (
        "row:1", FERRY.url, FERRY.title, body, dt.date(2025, 8, 22)
    )
    (missing,) = outcome.rejections
    assert missing.record_locator == "row:2" and missing.reasons[0].startswith("no_body_field (row:2: ")


def test_a_table_that_is_not_one_is_one_rejection_saying_why():
    text = "url,text\nhttps://news.example.org/a,one,two\n"
    outcome = parse_object(URI, "export.csv", text.encode(), len(text), ReadConfig(), ParseConfig())
    assert outcome.documents == []
    (bad,) = outcome.rejections
    assert bad.stage == "parse" and bad.reasons[0].startswith("bad_table (") and bad.excerpt == text


def test_the_field_mapping_is_configurable():
    text = jsonl({"permalink": FERRY.url, "story": FERRY.body, "crawl_time": "1755943200"})
    config = ParseConfig(url_fields=("permalink",), text_fields=("story",), fetched_fields=("crawl_time",))
    (doc,) = parse_json(URI, text, len(text), config, lines=True).documents
    assert (doc.url, doc.text) == (FERRY.url, FERRY.body)
    assert doc.fetched_at == dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)  # epoch seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-08-23T12:00:00+02:00", dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)),
        ("2025-08-23T10:00:00Z", dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)),
        ("2025-08-23 10:00:00", dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)),
        ("Sat, 23 Aug 2025 10:00:00 GMT", dt.datetime(2025, 8, 23, 10, 0, tzinfo=dt.UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


def library_warc(gzip: bool = True) -> bytes:
    return warc_archive(
        [
            Response(LIBRARY.url, html_page(LIBRARY).encode()),
            Response("https://news.example.org/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"),
            Response("https://news.example.org/gone", b"<html><body>Not found</body></html>", status="404 Not Found"),
        ],
        gzip=gzip,
    )


@pytest.mark.parametrize("gzipped", [True, False], ids=["warc.gz", "warc"])
def test_warc_gives_one_document_per_html_response_and_accounts_for_the_others(gzipped):
    data = library_warc(gzipped)
    outcome = parse_warc(URI, io.BytesIO(data), ParseConfig())

    (doc,) = outcome.documents
    assert doc.text == LIBRARY.body and doc.url == LIBRARY.url and doc.title == LIBRARY.title
    assert doc.fetched_at == dt.datetime(2025, 8, 23, 10, 15, tzinfo=dt.UTC)
    # The locator is the record's byte offset: reading from there gives back this very record.
    offset = int(doc.locator.removeprefix("offset:"))
    assert data[offset:].startswith(b"\x1f\x8b" if gzipped else b"WARC/1.")
    from warcio.archiveiterator import ArchiveIterator

    record = next(iter(ArchiveIterator(io.BytesIO(data[offset:]))))
    assert record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == LIBRARY.url
    # warcinfo and request records are not inputs; the two other responses are quarantined.
    reasons = sorted(r.reasons[0].split(" ")[0] for r in outcome.rejections)
    assert reasons == ["warc_http_error", "warc_not_html"]


def test_warc_payloads_are_bounded():
    outcome = parse_warc(URI, io.BytesIO(library_warc()), ParseConfig(max_warc_record_bytes=100))
    assert outcome.documents == []
    assert sorted(r.reasons[0].split(" ")[0] for r in outcome.rejections) == ["too_large", "warc_http_error", "warc_not_html"]


def test_a_corrupt_warc_keeps_the_records_before_the_damage():
    data = library_warc()
    outcome = parse_warc(URI, io.BytesIO(data + b"garbage that is no WARC record\r\n\r\n"), ParseConfig())
    assert [d.url for d in outcome.documents] == [LIBRARY.url]
    assert outcome.rejections[-1].reasons[0].startswith(f"bad_warc (offset:{len(data)}: ")


@pytest.mark.parametrize(
    ("key", "payload"),
    [
        ("page.html", html_page(LIBRARY).encode()),
        ("page.bin", html_page(LIBRARY).encode()),  # sniffed
        ("items.jsonl", jsonl({"text": LIBRARY.body}).encode()),
        ("items.dat", json.dumps({"text": LIBRARY.body}).encode()),  # sniffed
        ("crawl.dat", library_warc(gzip=False)),  # sniffed
        ("page.txt", LIBRARY.body.encode("cp1252")),
    ],
)
def test_parse_object_dispatches_by_name_then_content(key, payload):
    outcome = parse_object(URI, key, payload, len(payload), ReadConfig(), ParseConfig())
    (doc,) = outcome.documents
    assert doc.text == LIBRARY.body


def test_parse_object_rejects_undecodable_structured_inputs():
    outcome = parse_object(URI, "items.json", b"", 0, ReadConfig(), ParseConfig())
    assert outcome.documents == [] and outcome.rejections[0].reasons[0].startswith("empty_file")


def test_a_gzipped_html_page_is_parsed(tmp_path):
    from tasks.config import S3Config
    from tasks.read import read_objects
    from tasks.storage import LocalStorage

    (tmp_path / "page.html.gz").write_bytes(gzip.compress(html_page(FERRY).encode()))
    outcome = read_objects(str(tmp_path), LocalStorage(tmp_path).list(), ReadConfig(), S3Config())
    assert [d.title for d in outcome.documents] == [FERRY.title]


def test_documents_travel_as_columns_and_come_back_unchanged() -> None:
    import datetime as dt

    from tasks.parse import DOCUMENTS, RawDocument, documents_frame, raw_documents

    documents = [
        RawDocument("s3://raw/a.txt", "", "Body one.\nLine two.", 19),
        RawDocument(
            "s3://raw/b.jsonl", "line:2", "Body two.", 9, "https://news.example/b",
            dt.datetime(2025, 8, 24, 6, 30, 1, 250, tzinfo=dt.UTC), "Title", dt.date(2025, 8, 23), "A. Writer", "en", True,
        ),
    ]  # fmt: skip
    frame = documents_frame(documents)
    assert frame.schema == DOCUMENTS and raw_documents(frame) == documents
    assert raw_documents(documents_frame([])) == []
