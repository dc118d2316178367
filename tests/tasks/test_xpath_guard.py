import importlib.util
import re

import pytest
import trafilatura.utils
import trafilatura.xpaths
from lxml import etree

from tasks.xpath_guard import guarded, needed_literals

REGEX_NS = {"re": "http://exslt.org/regular-expressions"}


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("author|writer", {"author", "writer"}),
        ("[Aa]uthor|screenname|[Bb]yline", {"uthor", "screenname", "yline"}),
        ("^(?:[Cc]omment(?!ary)|comol|dsq-comments)", {"omment", "comol"}),  # dsq-comments holds omment
        ("mvp-post-add-(?:box|wrap)|infinite-?scroll", {"mvp-post-add-", "infinite"}),
        ("(^|\\s)bottom|bottom(\\s|$)", {"bottom"}),
        ("(?:ab)+c", {"ab"}),
        ("x?y*", None),  # matches the empty string
        ("(?i)author", None),  # inline flags: not guarded
        ("[ab]-[cd]", {"-"}),
        ("[ab][cd]", None),
    ],
)
def test_needed_literals(pattern, literals):
    assert needed_literals(pattern) == (None if literals is None else frozenset(literals))


def test_a_string_a_pattern_matches_holds_one_of_its_literals():
    patterns = ["author|writer", "^(?:[Cc]omment(?!ary)|comol)", "post[-_]?content|post-?entry", "(?:ab)+c|d{2}ef"]
    strings = ["Author", "co-writer", "Comments", "comol", "postcontent", "post_content", "post-entry", "ababc", "ddef", "def"]
    for pattern in patterns:
        for string in strings:
            if re.search(pattern, string):
                assert any(lit in string for lit in needed_literals(pattern)), (pattern, string)


def test_guarded_asks_the_regex_only_where_a_literal_is():
    path = ".//div[re:test(@id|@class, 'author|writer')]"
    assert guarded(path) == (
        ".//div[(((@id and (contains(@id, 'author') or contains(@id, 'writer'))) or "
        "(@class and (contains(@class, 'author') or contains(@class, 'writer')))) and "
        "re:test(@id|@class, 'author|writer'))]"
    )
    # Left as they are: case-insensitive tests, patterns without a needed literal, long literal lists.
    for unchanged in (".//*[re:test(@class, 'author', 'i')]", ".//*[re:test(@class, 'a?')]"):
        assert guarded(unchanged) == unchanged
    assert guarded(".//*[re:test(@class, 'a1|b2|c3')]", max_literals=2) == ".//*[re:test(@class, 'a1|b2|c3')]"


def _page_of_trafilaturas_words() -> etree._Element:
    """Elements of the tags trafilatura's XPaths look at, with class and id values made of the words
    its regexes look for: whole, inside other words, at either end, and cut short."""
    words = set()
    for xpath in (x for xpaths in _trafilatura_xpaths_as_written().values() for x in xpaths):
        for pattern in re.findall(r"re:test\([^,]+,\s*'([^']*)'", xpath.path):
            words |= needed_literals(pattern) or set()
            words |= set(re.findall(r"[A-Za-z][\w-]*", pattern))
    values = sorted(words | {f"x-{w} y" for w in words} | {w[1:] for w in words} | {w.capitalize() for w in words})
    tags = ["div", "section", "span", "p", "a", "article", "main", "aside", "ul", "li", "h1", "h2", "h3", "footer"]
    body = "".join(
        f'<{tags[i % len(tags)]} class="{value}" id="{values[(i * 7) % len(values)]}"><a href="/tag/{i}">{value} text</a></{tags[i % len(tags)]}>'
        for i, value in enumerate(values)
    )
    return trafilatura.utils.load_html(f"<html><body>{body}<div class='comments'><div class='author'>x</div></div></body></html>")


def _trafilatura_xpaths_as_written() -> dict[str, list[etree.XPath]]:
    """trafilatura.xpaths' expressions as the module states them, read afresh from its file (tasks.parse
    replaced the module's own): name -> its XPaths."""
    spec = importlib.util.spec_from_file_location("trafilatura_xpaths_as_written", trafilatura.xpaths.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: value if isinstance(value, list) else [value]
        for name, value in vars(module).items()
        if isinstance(value, etree.XPath) or (isinstance(value, list) and value and isinstance(value[0], etree.XPath))
    }


def test_trafilaturas_guarded_xpaths_select_what_its_own_select():
    import tasks.parse  # noqa: F401 - installs the guarded expressions

    tree = _page_of_trafilaturas_words()
    changed = selecting = 0
    for name, as_written in _trafilatura_xpaths_as_written().items():
        installed = getattr(trafilatura.xpaths, name)
        installed = installed if isinstance(installed, list) else [installed]
        for xpath, original in zip(installed, as_written, strict=True):
            selected = original(tree)
            assert xpath(tree) == selected, xpath.path
            changed += xpath.path != original.path
            selecting += bool(selected) and xpath.path != original.path
    assert changed >= 15  # the content, comment, discard and metadata expressions are guarded
    assert selecting >= 10  # and the page gives most of them something to select
