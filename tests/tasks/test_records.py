import re

import polars as pl

from tasks.records import ENGINES_DIFFER_PATTERN, article_id, content_hash, url_site, url_sites, word_count, word_counts


def test_article_id_is_stable_and_depends_on_the_locator():
    assert article_id("s3://b/k.txt") == article_id("s3://b/k.txt") != article_id("s3://b/k.txt", "line:2")
    assert len(article_id("x")) == 16


def test_content_hash_ignores_rewrapping():
    assert content_hash("a  b\nc ") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")


def test_content_hash_folds_every_unicode_space():
    # No-break, ideographic, line-separator and information-separator characters are whitespace too.
    assert content_hash("\u3000a\u00a0\u2028b\x1c\x85c\u2003") == content_hash("a b c")


def test_word_count_counts_cjk_characters_as_words():
    assert word_count("The cat—sat, on 3 mats.") == 6
    assert word_count("東京都の学校") == 6
    assert word_count("Tokyo 東京 trip") == 4


def test_the_engines_agree_on_every_character_not_set_apart_for_python():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    agreeing = pl.Series(chars).filter(~pl.Series(chars).str.contains(ENGINES_DIFFER_PATTERN))
    assert 128 < len(agreeing) < 5000  # ASCII and the punctuation, spaces and symbols beyond it
    for pattern in [r"\w", r"\d", r"\s", r"[^\W\d]", *(f"(?i){letter}" for letter in "abcdefghijklmnopqrstuvwxyz")]:
        python = [re.fullmatch(pattern, ch) is not None for ch in agreeing]
        assert agreeing.str.contains(f"^(?:{pattern})$").to_list() == python, pattern


def test_word_counts_counts_a_column_as_word_count_does():
    # Devanagari vowel signs are combining marks: Rust's \w takes them for word characters, Python's does not.
    bodies = ["The cat—sat, on 3 mats.", "東京都の学校", "plain_ascii text 42", "नमस्ते दुनिया", "café au lait", "", "a\nb"]
    assert word_counts(pl.Series(bodies)).to_list() == [word_count(body) for body in bodies]
    assert word_counts(pl.Series(bodies)).dtype == pl.Int32


URLS = {
    "https://www.Example.com/a/b?c=d": "example.com",
    "http://user:pw@news.example.org:8080/x": "news.example.org",
    "HTTPS://WWW.EXAMPLE.COM": "example.com",
    "http://[bad/story": "[bad",  # an unclosed IPv6 bracket: urllib would raise, a scrape must not
    "example.com/no-scheme": None,
    "file:///tmp/x": None,
    "": None,
    None: None,
}


def test_url_site_is_the_lower_case_host_without_www():
    assert {url: url_site(url) for url in URLS} == URLS


def test_url_sites_applies_the_same_rule_to_a_column():
    assert url_sites(pl.Series(list(URLS), dtype=pl.String)).to_list() == list(URLS.values())
