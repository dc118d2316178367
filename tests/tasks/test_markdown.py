from tasks.markdown import looks_like_markdown, markdown_text

PAGE = """\
Skip to content

  * [Home](https://example.com/)
  * [World](https://example.com/world/)

[![Example News](https://example.com/logo.png)](https://example.com/)

# Storm closes the *harbour* for two days

__

The port authority said on **Monday** that the harbour would stay shut
until Wednesday, after [the storm](https://example.com/storm) damaged two cranes.

| Ship | Delay |
|---|---|
| [Aurora](https://example.com/aurora) | 2 days |

    code stays as written: [a](https://b)
"""


def test_a_markdown_page_reads_as_its_visible_text_with_the_sources_lines():
    assert markdown_text(PAGE).split("\n") == [
        "Skip to content",
        "Home",
        "World",
        "Storm closes the harbour for two days",
        "The port authority said on Monday that the harbour would stay shut",
        "until Wednesday, after the storm damaged two cranes.",
        "Ship Delay",
        "Aurora 2 days",
        "code stays as written: [a](https://b)",
    ]


def test_plain_text_is_not_taken_for_markdown():
    plain = "Home\nWorld\nThe port authority said [in a statement] that (see https://example.com) it would reopen.\n"
    assert not looks_like_markdown(plain, 1)
    assert looks_like_markdown(PAGE, 7)  # five links, an image in a link, a link in code
    assert not looks_like_markdown(PAGE, 8)
