"""Builders of small scraper outputs in every input format: a text scrape, an HTML page, a WARC archive."""

from __future__ import annotations

import io
from dataclasses import dataclass

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass(frozen=True)
class Article:
    url: str
    title: str
    published: str  # ISO date
    author: str
    paragraphs: tuple[str, ...]

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


LIBRARY = Article(
    url="https://news.example.org/2025/08/23/harbour-library",
    title="Harbour town opens its first public library in a century",
    published="2025-08-23",
    author="Jane Doe",
    paragraphs=(
        "The small harbour town of Westmere opened its first public library in more than a hundred years on "
        "Saturday, after a decade of fundraising by residents who wanted a place where their children could read.",
        "The building, a former fish market on the quay, now holds about twelve thousand books, a reading room "
        "that looks over the water and a workshop where older residents teach younger ones to mend nets.",
        "Mayor Ana Ribeiro said the town had raised most of the money itself, through bake sales, concerts and a "
        "yearly swim across the bay, and that the regional government had paid for the new roof and the heating.",
        "Librarians expect the busiest hours to be after school, and they plan to open on Sunday mornings as well, "
        "when the fishing boats are in port and whole families walk along the quay.",
    ),
)

ORCHARD = Article(
    url="https://news.example.org/2025/08/23/orchard-harvest",
    title="Growers expect a record apple harvest after a mild spring",
    published="2025-08-22",
    author="Tom Reyes",
    paragraphs=(
        "Fruit growers in the northern valleys expect their largest apple harvest in twenty years, because a mild "
        "spring spared the blossom from frost and the summer rain came at exactly the right weeks for the trees.",
        "The growers' association said packing houses would hire more seasonal workers than usual and that several "
        "farms were building new cold stores, so that the fruit can be sold slowly over the winter months.",
        "Prices for the early varieties have already fallen in the local markets, which shoppers welcomed, although "
        "some farmers worry that a glut could leave part of the crop unsold if the export orders do not arrive.",
    ),
)

FERRY = Article(
    url="https://news.example.org/2025/08/23/night-ferry",
    title="Island council votes to restore the night ferry for workers",
    published="2025-08-21",
    author="Mei Lin",
    paragraphs=(
        "The island council voted on Thursday to restore the night ferry to the mainland, which was cancelled three "
        "years ago, after nurses and hotel workers said they could not get home after their late shifts.",
        "The council will pay for the first year of the service from its tourism tax, and the ferry company said "
        "it would run two crossings each night, one shortly before midnight and one in the early morning.",
        "Workers who had moved to the mainland because of the missing connection said they might now come back, "
        "and the hospital expects to fill several of the nursing posts that have been vacant since the winter.",
    ),
)


def html_page(article: Article) -> str:
    """A news page as a site serves it: metadata in the head, the article between menus and footers."""
    paragraphs = "\n".join(f"      <p>{p}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
  <head>
    <meta charset="utf-8">
    <title>{article.title} | Example News</title>
    <meta property="og:title" content="{article.title}">
    <meta property="og:site_name" content="Example News">
    <meta name="author" content="{article.author}">
    <meta property="article:published_time" content="{article.published}T08:00:00+00:00">
    <link rel="canonical" href="{article.url}">
  </head>
  <body>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
    <article>
      <h1>{article.title}</h1>
{paragraphs}
    </article>
    <aside><h2>Related stories</h2><ul><li><a href="/a">Council approves new bus routes</a></li></ul></aside>
    <footer><p>© 2025 Example News. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
  </body>
</html>
"""


def text_scrape(article: Article) -> str:
    """The same page as a naive scraper saves its visible text: menus, the article, share prompts, footer."""
    return "\n".join(
        ["Home", "News", "Sport", article.title, f"By {article.author}", f"Published: {article.published}"]
        + list(article.paragraphs)
        + ["Share this article", "Related stories", "Council approves new bus routes", "© 2025 Example News. All rights reserved."]
    )


@dataclass(frozen=True)
class Response:
    url: str
    body: bytes
    status: str = "200 OK"
    content_type: str = "text/html; charset=utf-8"
    date: str = "2025-08-23T10:15:00Z"


def warc_archive(responses: list[Response], gzip: bool = True) -> bytes:
    """A WARC as a crawler writes it: a warcinfo record, then a request and a response per fetch."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip)
    writer.write_record(writer.create_warcinfo_record("test.warc.gz", {"software": "cleanwire tests"}))
    for response in responses:
        request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "news.example.org")], is_http_request=True)
        writer.write_record(writer.create_warc_record(response.url, "request", http_headers=request))
        headers = StatusAndHeaders(response.status, [("Content-Type", response.content_type)], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                response.url,
                "response",
                payload=io.BytesIO(response.body),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": response.date},
            )
        )
    return buffer.getvalue()
