"""The generated day of bench/pipeline.py looks like the dev sets' pages where it changes read cost."""

from __future__ import annotations

import gzip

from bench.pipeline import Chrome, page_html, page_template, source_page_language
from tasks.parse import date_languages


def test_a_page_declares_its_chrome_source_pages_language(tmp_path):
    source = tmp_path / "page.html.gz"
    source.write_bytes(gzip.compress(b"<!DOCTYPE html>\n<html class='no-js' lang=\"it-IT\"><head></head></html>"))
    chrome = Chrome(["Home", "Sport"], ["Contatti"], source_page_language(source))

    page = page_html(chrome, "Titolo", ["Un paragrafo."])

    assert "<html lang='it-IT'>" in page
    assert date_languages(page, ("en",)) == ("it", "en")


def test_a_page_whose_source_declares_nothing_declares_nothing(tmp_path):
    source = tmp_path / "page.html.gz"
    source.write_bytes(gzip.compress(b"<html><head></head></html>"))

    assert source_page_language(source) is None
    assert source_page_language(tmp_path / "missing.html.gz") is None
    assert "<html>" in page_html(Chrome([], [], None), "Title", ["A paragraph."])


def test_a_page_is_its_chrome_source_page_with_the_new_article_in_place_of_the_old(tmp_path):
    gold = [
        "The council approved the budget after a long debate on Tuesday night.",
        "- Schools get a larger share of the money than they did last year.",
    ]
    source = tmp_path / "page.html.gz"
    source.write_bytes(
        gzip.compress(
            b"<html lang='en'><head><script>var tracker = 1;</script></head><body><nav>Home | Sport</nav>"
            b"<div class='entry'><p>The council <b>approved</b> the budget after a long debate on Tuesday night.</p>"
            b"<ul><li>Schools get a larger share of the money than they did last year.</li></ul></div>"
            b"<footer>Contact us</footer></body></html>"
        )
    )

    template = page_template(source, set(gold))
    assert template is not None
    page = page_html(Chrome(["Home | Sport"], ["Contact us"], "en", template), "New title", ["A new paragraph."])

    assert "var tracker = 1;" in page and "Home | Sport" in page and "Contact us" in page
    assert "<div class=\"entry\"><h1>New title</h1><p>A new paragraph.</p></div>" in page
    assert "council" not in page


def test_a_source_page_whose_article_is_in_no_element_is_no_template(tmp_path):
    source = tmp_path / "page.html.gz"
    source.write_bytes(gzip.compress(b"<html><body><p>Something else entirely, a page about gardening.</p></body></html>"))

    assert page_template(source, {"The council approved the budget after a long debate on Tuesday night."}) is None
    assert page_template(tmp_path / "missing.html.gz", {"Any paragraph of the article."}) is None
