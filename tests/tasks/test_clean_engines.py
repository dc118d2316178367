"""The clean step matches some patterns over a batch of lines at once with polars' (Rust) regex
engine: these tests check that it finds exactly what Python's ``re`` finds line by line."""

from __future__ import annotations

import pytest

from tasks.clean import _noise_marked, _noise_markers, clean_documents, clean_text
from tasks.config import CleanConfig
from tasks.parse import RawDocument

P1 = (
    "The harbour authority said on Monday that the ferry to the island will run twice as often this "
    "summer, after a year in which the boats were full on most days."
)
P2 = (
    "A spokesman for the operator said that two older boats would be brought back into service and that "
    "the timetable would be published by the end of the month."
)


# Lines each marker matches or nearly matches, in ASCII and in the letters where the engines'
# case-insensitive matching differs (Python's "i" also matches the Turkish "ı" and "İ").
LINES = [
    "Share this article",
    "share via email",
    "Shared this morning",
    "Subscribe to our newsletter",
    "Download the app",
    "To read more, download the app!",
    "Get our free app today",
    "budget our app",
    "Available on the App Store and Google Play Store",
    "Related Articles",
    "Related articles:",
    "Read more",
    "#CityNews #Transport",
    "# heading",
    "Photo: Jane Doe",
    "Image credit: Jane Doe/Getty Images",
    "(Photo by Jane Doe)",
    "Jane Doe | Reuters",
    "Jane Doe / AP Photo",
    "Follow us",
    "Follow usual routes",
    "Share thıs article",
    "SHARE THİS ARTICLE",
    "Follow us ı",
    "Related storıes",
    "Photo: Jürgen Müller",
    "Foto: São Paulo",
    "Siga-nos, compartilhe",
    P1,
]


def test_batch_match_agrees_with_python_re() -> None:
    markers = _noise_markers()
    expected = {line for line in LINES if any(m.search(line) for m in markers)}
    assert _noise_marked(set(LINES)) == expected
    assert "Share this article" in expected and "Share thıs article" in expected  # the fixture is not vacuous
    assert _noise_marked(set()) == frozenset()


# Prose the typed rules keep and the suite's noise markers reject: the cleaner's last pass removes it.
PROMPTS = [
    "Readers who want news of the ferry can download our app, which the council launched this week.",
    "Readers who want news of the ferry can download our app, whıch the council launched this week.",
]


@pytest.mark.parametrize("marker", PROMPTS)
def test_a_marked_line_goes_alone_in_a_batch_as_in_one_page(marker: str) -> None:
    text = "\n".join([P1, marker, P2])
    alone = clean_text(text)
    assert alone.body == f"{P1}\n{P2}" and alone.rule_counts() == {"noise_marker": 1}
    docs = [
        RawDocument(f"/in/{n}.txt", "", body, len(body)) for n, body in enumerate([text, f"{P2}\n{P1}"] * 300)
    ]
    outcome = clean_documents(docs, CleanConfig(), boilerplate={})
    assert set(outcome.records["body"][::2]) == {alone.body}
    assert outcome.rule_counts["noise_marker"] == 300
