"""The generated day of bench/pipeline.py looks like the dev sets' pages where it changes read cost."""

from __future__ import annotations

import gzip

from bench.pipeline import Chrome, declared_language, page_html
from tasks.parse import date_languages


def test_a_page_declares_its_chrome_source_pages_language(tmp_path):
    source = tmp_path / "page.html.gz"
    source.write_bytes(gzip.compress(b"<!DOCTYPE html>\n<html class='no-js' lang=\"it-IT\"><head></head></html>"))
    chrome = Chrome(["Home", "Sport"], ["Contatti"], declared_language(source))

    page = page_html(chrome, "Titolo", ["Un paragrafo."])

    assert "<html lang='it-IT'>" in page
    assert date_languages(page, ("en",)) == ("it", "en")


def test_a_page_whose_source_declares_nothing_declares_nothing(tmp_path):
    source = tmp_path / "page.html.gz"
    source.write_bytes(gzip.compress(b"<html><head></head></html>"))

    assert declared_language(source) is None
    assert declared_language(tmp_path / "missing.html.gz") is None
    assert "<html>" in page_html(Chrome([], [], None), "Title", ["A paragraph."])
