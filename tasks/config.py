"""Typed configuration for every step, in one place.

Defaults live here; environment variables override them (``CLEANWIRE_`` prefix, ``__`` between a
section and its field, e.g. ``CLEANWIRE_DEDUP__NEAR_COPY_THRESHOLD=0.8``) and CLI flags override both.
An unknown name, from any of these or from a deployment's ``overrides``, is an error naming the valid
names (``load_settings``): a typo must never leave a setting silently at its default.
Each pipeline step receives only its own section, so the pure functions stay testable with a
plain ``SectionConfig()``.
"""

from __future__ import annotations

import json
import os
from importlib.resources import files
from pathlib import Path
from typing import Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.errors import UsageError

ENV_PREFIX = "CLEANWIRE_"
ENV_NESTED_DELIMITER = "__"


def packaged_suites_dir() -> Path:
    """The GX suites shipped in the ``expectations`` package (the source tree's folder in a checkout)."""
    return Path(str(files("expectations")))


class Section(BaseModel):
    """A settings section: unknown field names are rejected, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ReadConfig(Section):
    """How raw objects are listed, read and decoded."""

    max_file_bytes: int = Field(20 * 1024 * 1024, description="Larger raw objects are quarantined as too_large unread.")
    max_decompressed_bytes: int = Field(50 * 1024 * 1024, description="Cap on a .gz input's decompressed size (gzip bombs).")
    binary_control_ratio: float = Field(0.10, description="Share of control bytes above which a file is not text.")
    excerpt_chars: int = Field(2000, description="How much of a rejected input the quarantine row keeps.")
    utf8_max_invalid_share: float = Field(
        0.01,
        description="A file with well-formed UTF-8 sequences and at most this share of invalid bytes is UTF-8 "
        "(decoded with replacement characters and flagged), not a legacy encoding.",
    )
    encoding_eras: tuple[Literal["modern_web", "legacy_iso", "legacy_mac", "legacy_regional", "dos", "mainframe"], ...] = Field(
        ("modern_web", "legacy_iso"),
        min_length=1,
        description="The families of encodings chardet may guess for a file that is not Unicode: the web's "
        "(Windows code pages, KOI8, the CJK ones) and ISO-8859. DOS, Mac and mainframe code pages are not how "
        "web pages are saved, and short pages with a (R) or a dash matched them (bench/encoding.py).",
    )


class ParseConfig(Section):
    """How structured inputs (HTML pages, JSON/JSONL records, WARC archives) become documents (see tasks/parse.py).

    Each ``*_fields`` tuple lists the JSON keys a scraper may use for one value; the first present,
    non-empty key wins. A dotted key reads inside nested objects ("metadata.title", as Firecrawl and
    Apify exports nest a page's metadata). The defaults cover common exporters: news-please
    (``maintext``, ``date_publish``, ``date_download``), newspaper and trafilatura's JSON, Firecrawl
    and Apify's crawlers (``markdown``, ``metadata.*``).
    """

    url_fields: tuple[str, ...] = Field(
        ("url", "link", "canonical_url", "source_url", "metadata.sourceURL", "metadata.url"), description="Keys of a record's page URL."
    )
    title_fields: tuple[str, ...] = Field(("title", "headline", "metadata.title"), description="Keys of a record's headline.")
    text_fields: tuple[str, ...] = Field(
        ("text", "content", "body", "article", "maintext"), description="Keys of a record's visible text (cleaned as a plain scrape)."
    )
    markdown_fields: tuple[str, ...] = Field(
        ("markdown",), description="Keys of a record's page as Markdown (its visible text is cleaned), used when no text key is present."
    )
    markdown_min_links: int = Field(
        5,
        description="A text scrape or a record's text with this many Markdown links or images with a URL target "
        "([text](https://...)) is Markdown and is read without its markup (a .md file always is).",
    )
    html_fields: tuple[str, ...] = Field(
        ("html", "raw_html"), description="Keys of a record's page HTML (extracted with trafilatura), used when no text or Markdown key is present."
    )
    published_fields: tuple[str, ...] = Field(
        ("published", "date", "published_at", "publish_date", "date_publish", "metadata.publishedTime"),
        description="Keys of a record's publication date.",
    )
    fetched_fields: tuple[str, ...] = Field(
        ("fetched_at", "scraped_at", "crawled_at", "date_download"), description="Keys of a record's fetch time."
    )
    author_fields: tuple[str, ...] = Field(("author", "byline", "authors", "metadata.author"), description="Keys of a record's author(s).")
    language_fields: tuple[str, ...] = Field(
        ("language", "lang", "metadata.language", "metadata.languageCode"), description="Keys of a record's language code."
    )
    # trafilatura options: chosen on the aeb-dev pages for the general case, never per site (bench/html.py).
    include_comments: bool = Field(False, description="Keep reader comments below the article (they are not the article).")
    include_tables: bool = Field(True, description="Keep tables inside the article body.")
    favor_precision: bool = Field(False, description="trafilatura: prefer leaving out doubtful blocks.")
    favor_recall: bool = Field(False, description="trafilatura: prefer keeping doubtful blocks.")
    fast: bool = Field(
        False,
        description="trafilatura: skip its fallback extractors (readability, jusText): ~1.4x pages per second, "
        "same F1 on aeb-dev, 0.014 less on wcxb-dev.",
    )
    extensive_date_search: bool = Field(
        True,
        description="htmldate: when a page's markup states no date, search its text for one (a printed date; a "
        "1 January it finds is a bare year such as the footer's copyright, and stands only where the markup states "
        "it); off, only the markup's date (meta tags, JSON-LD, <time>, the URL) counts: ~1.3x HTML pages per "
        "second, no date for 6 % more of wcxb-dev's pages.",
    )
    date_languages: tuple[str, ...] = Field(
        ("en",),
        description="dateparser (htmldate's search of a page's text for a date no pattern reads): the languages, "
        "besides the one the page declares (<html lang>), a printed date is read in; empty = every language "
        "dateparser knows (htmldate's default): the same dates on the 1,805 dev-set and bench-day pages measured, "
        "but 1.07x (wcxb-dev) to 1.2x (bench day) more CPU per HTML page and ~1.7 CPU-s more start-up per worker.",
    )
    max_warc_record_bytes: int = Field(
        10 * 1024 * 1024, description="Larger WARC response payloads are quarantined as too_large (WARC files themselves are streamed)."
    )

    @field_validator("date_languages")
    @classmethod
    def _dateparser_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from dateparser.data.languages_info import language_order  # only when set: 0.1 s to import

        unknown = [code for code in value if code not in language_order]
        if unknown:
            raise ValueError(f"dateparser knows no language {', '.join(unknown)} (codes such as 'en', 'de', 'pt')")
        return value


class CleanConfig(Section):
    """Noise-removal thresholds (see tasks/clean.py). The word lists the rules match (headings,
    prompts, credits, month names...) are reviewed data files in tasks/lexicons/, not settings."""

    # Line classes (jusText-style: length and stop-word density decide whether a line reads as prose).
    stopword_languages: tuple[str, ...] = Field(
        (), description="ISO 639-1 codes whose stopwordsiso lists are candidates for a page's language; empty = all."
    )
    language_sample_tokens: int = Field(3000, description="How many of a page's tokens vote on its language.")
    language_line_tokens: int = Field(60, description="How many of one line's tokens vote on the page's language.")
    body_language_chars: int = Field(
        2000, description="How many leading characters of a cleaned body its language is identified from (py3langid)."
    )
    good_min_chars: int = Field(
        80, description="A line at least this long with prose-like stop words is article text."
    )
    good_min_stop_density: float = Field(0.25, description="Share of stop words a prose line has at least.")
    bad_max_stop_density: float = Field(
        0.10, description="A line with a smaller share of stop words is a list or a label."
    )
    reference_density_quantile: float = Field(
        0.75, description="Which quantile of the page's long lines' stop-word density is its prose reference."
    )
    relative_good_density: float = Field(
        0.5, description="Prose needs this share of the reference density (when that is the lower threshold)."
    )
    relative_bad_density: float = Field(
        0.2, description="Below this share of the reference density a line is not prose."
    )
    short_max_chars: int = Field(40, description="Lines up to this long are too short to judge by their own text.")
    cjk_char_weight: float = Field(2.5, description="Length weight of a Han or kana character (about a word).")
    unspaced_prose_chars: int = Field(
        100, description="A line this long in a script without spaces or sentence marks (Thai) counts as prose."
    )
    segment_line_chars: int = Field(
        1000, description="A longer line is cut into runs of sentences before it is judged (one-line articles)."
    )
    segment_chars: int = Field(300, description="Shortest run of sentences a long line is cut into.")
    shared_label_max_words: int = Field(
        2,
        description="A line recurring on a site's pages that stands alone between the article's lines and has at "
        "most this many words is a label articles share (a heading), not counted as the page's chrome.",
    )
    wrap_min_chars: int = Field(
        30,
        description="A line at least this long that stops mid-sentence, followed (directly or after one blank line) "
        "by a line that goes on with it (a lower-case start, or any word after a comma) and is as long or ends a "
        "sentence, is hard-wrapped prose: the two are judged as one line.",
    )
    article_max_noise_lines: int = Field(
        1,
        description="A page with at most this many lines matching a noise rule (and no recurring chrome) is already "
        "an article: only those lines are removed, the main-text region is not looked for.",
    )
    untitled_article_max_noise_lines: int = Field(
        5,
        description="The same for a page with no headline above its text and no menu around it (a body from a feed "
        "or an API, with a few lines a noise rule matches). Scraped pages show more: 99 % of the dev sets' raw pages "
        "have 6 or more chrome lines.",
    )
    # Main-text region: the contiguous run of lines with the highest score.
    good_line_score: float = Field(1.0, description="Score per character of a line classed as article text.")
    near_good_line_score: float = Field(0.3, description="Score per character of a line that is prose-like but weak.")
    short_line_penalty: float = Field(12.0, description="Flat score (negated) of a short line: heading, label, link.")
    bad_line_penalty: float = Field(
        0.6, description="Score per character (negated) of a line classed as non-article."
    )
    navigation_line_penalty: float = Field(20.0, description="Flat score (negated) of a line in a menu-like run.")
    noise_line_penalty: float = Field(60.0, description="Flat score (negated) of a line that matches a noise rule.")
    boilerplate_penalty: float = Field(80.0, description="Flat score (negated) of a line recurring across the batch.")
    trailer_region_ratio: float = Field(
        0.25,
        description="Text above a comment section or copyright notice is the article when it scores at least this "
        "share of the page's best region (what follows can hold more prose: long comments, whole teasers).",
    )
    headline_region_ratio: float = Field(
        0.1,
        description="The text below the repeated headline is the article when it scores at least this share of "
        "the page's best region (the header above it holds teasers for other stories).",
    )
    lead_join_ratio: float = Field(
        0.06,
        description="A run of paragraphs above the main-text region that scores at least this share of the region "
        "is the article's lead, joined to it; what stands between them (a product box, a table of contents, an ad) is "
        "dropped, but for the rows of a table or of the article's own list.",
    )
    lead_join_min_paragraphs: int = Field(
        2,
        description="Fewest paragraphs in a row (no other line between them) that make a run above the main-text "
        "region the article's lead, which then starts at the first of them (a menu's blurbs each stand under their "
        "item's name; an author's box, a disclosure or a table of contents stands above the lead).",
    )
    lead_headline_max_lines: int = Field(
        15,
        description="A run of paragraphs above the main-text region that opens at most this many lines under the "
        "repeated headline (a byline, a date, a share bar between them) is the article's lead whatever its share.",
    )
    link_block_tail_ratio: float = Field(
        0.25,
        description="A heading of a block of links to other stories ends the article when the region's text below "
        "it is at most this share of the text above it (the block's teasers read like prose).",
    )
    prompt_tail_ratio: float = Field(
        0.1,
        description="A prompt of the site's own (a newsletter's sign-up, a share bar, a call to action printed once) "
        "ends the article when the region's text below it is at most this share of the text above it (sign-up "
        "boxes and share bars also stand between an article's paragraphs).",
    )
    headline_search_lines: int = Field(400, description="How many lines down the repeated headline is looked for.")
    list_min_rows: int = Field(
        3, description="Fewest numbered or bulleted rows after the text that extend the article."
    )
    list_min_items: int = Field(
        2, description="Fewest short lines under a line ending in a colon that make a list of the article."
    )
    table_max_lead_lines: int = Field(
        4,
        description="On a page without prose, most lines (a heading, a dateline, a prompt) between the repeated "
        "headline and the table that is the article.",
    )
    # Typed noise.
    teaser_min_chars: int = Field(
        150, description="A trailing line at least this long that stops mid-sentence is a teaser."
    )
    kicker_max_words: int = Field(
        5, description="Most words in an ALL-CAPS kicker ('LIMITS: ...') that opens a teaser."
    )
    navigation_min_run: int = Field(3, description="Fewest consecutive short non-sentence lines that make a menu.")
    related_heading_max_words: int = Field(
        4, description="Longest line that opens with a related heading and still is one ('More from UK')."
    )
    comment_author_min_count: int = Field(3, description="Fewest comment headers that make a comment section.")
    newsletter_max_words: int = Field(30, description="Longest sentence that two newsletter words mark as a pitch.")
    disclosure_max_words: int = Field(
        80, description="Longest line (in words) that two affiliate-disclosure words mark as the site's disclosure."
    )
    prompt_max_words: int = Field(12, description="Longest line (in words) that a prompt word can mark as a prompt.")
    prompt_label_max_words: int = Field(
        5, description="Longest bare label (no sentence) in which a prompt word anywhere marks a prompt."
    )
    credit_max_words: int = Field(
        4, description="Longest '© Agency' line that is a photo credit, not a copyright notice."
    )
    dateline_max_words: int = Field(16, description="Longest line that is only a dateline or timestamp, in words.")
    metadata_opening_lines: int = Field(
        2, description="How many of the article's first lines may hold its byline or date."
    )
    title_min_words: int = Field(4, description="Shortest headline, in words.")
    title_min_overlap: float = Field(
        0.6,
        description="Share of a heading's words found in the page's first line (its <title>) that makes it "
        "the headline.",
    )
    title_max_words: int = Field(30, description="Longest headline, in words.")
    title_search_lines: int = Field(25, description="How many lines above the article the headline is looked for.")
    author_box_max_count: int = Field(
        3, description="Most author boxes on one page (co-authors); more of that shape are the items of a list."
    )
    testimonial_min_count: int = Field(
        2, description="Fewest paragraphs in a row, each signed by a reviewer on the line under it, that are a block "
        "of testimonials."
    )
    testimonial_signature_max_words: int = Field(4, description="Longest reviewer's signature under a testimonial, in words.")
    repeated_block_min_paragraphs: int = Field(
        4,
        description="Fewest paragraphs in a row, each repeating one above, that make a block printed twice "
        "(dropped); a lone paragraph printed again is the article restating it.",
    )
    page_repeat_min: int = Field(
        3, description="A short non-sentence line printed this often on one page is furniture."
    )
    # Run-level boilerplate.
    boilerplate_min_pages: int = Field(
        2, description="A line is site chrome when it recurs on at least this many distinct pages..."
    )
    boilerplate_min_share: float = Field(0.01, description="...and on at least this share of the run's pages.")
    boilerplate_own_prose_chars: int = Field(
        200,
        description="A recurring line is chrome only if some page carrying it has this much prose (lines of at least "
        "good_min_chars) found on no other page; pages without are copies of one story.",
    )
    syndication_min_share: float = Field(
        0.5,
        description="Two pages whose shared prose lines are at least this share of either one's text are copies of "
        "one story (syndicated, or a wire copy beside its scrape): their shared lines are not chrome.",
    )
    syndication_max_pages: int = Field(
        5, description="A long line on more of a site's pages than this is the site's, and does not make them copies."
    )
    boilerplate_max_words: int = Field(
        80, description="Longer recurring lines are syndicated article text, not chrome, and are never boilerplate."
    )


class DedupConfig(Section):
    """Near-duplicate detection (see tasks/dedup/)."""

    tiers: tuple[str, ...] = Field(
        ("near_copy", "rewrite"), min_length=1, description='Feature tiers that can make a pair: "near_copy", "rewrite" (defined below).'
    )
    # MinHash: datasketch's default "affine32" permutation scheme, so signatures equal
    # datasketch.MinHash(num_perm, seed, hashfunc=tasks.dedup.feature_hash).
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations (signature length) of the near-copy tier.")
    seed: int = Field(1, description="Seed of datasketch's permutation generator; index rows are only comparable at the same seed.")
    lsh_false_positive_weight: float = Field(0.5, description="datasketch _optimal_param weight of false candidates.")
    lsh_false_negative_weight: float = Field(0.5, description="datasketch _optimal_param weight of missed pairs.")
    # Tier "near_copy": the same text, lightly edited or wrapped in other boilerplate.
    near_copy_ngram: int = Field(3, ge=1, description="Word n-gram (shingle) size of the near-copy tier.")
    near_copy_threshold: float = Field(0.7, gt=0, le=1, description="Verified shingle Jaccard at which two articles are near-copies.")
    near_copy_containment: float = Field(
        0.9, gt=0, le=1,
        description="Shingle containment |A∩B|/min(|A|,|B|) that also verifies a near-copy candidate (a copy inside boilerplate).",
    )
    near_copy_lsh_threshold: float = Field(
        0.5, gt=0, le=1, description="Jaccard the near-copy LSH banding is tuned for; below near_copy_threshold for recall."
    )
    # Tier "rewrite": the same story retold; only the content vocabulary survives a rewrite.
    rewrite_threshold: float = Field(
        0.27, gt=0, le=1,
        description="Verified content-word Jaccard at which two articles are rewrites. Seeds: the rewrite pair 001/004 "
        "scores 0.31-0.34 (raw / cleaned), the 9 unrelated same-topic pairs 0.13-0.22.",
    )
    rewrite_weighted_threshold: float = Field(
        0.27, gt=0, le=1,
        description="Rarity-weighted content-word Jaccard a rewrite also needs: each word weighs log((N + "
        "rewrite_idf_prior_docs) / (df + 1)), df = in how many of the batch's N articles it occurs, so the day's "
        "common words (a topic's vocabulary, two long listicles' shared terms) count little.",
    )
    rewrite_idf_prior_docs: int = Field(
        1000, ge=1, description="Documents assumed beside the batch when weighting words by rarity: a small batch "
        "says little about which words are common, so its weights stay near uniform.",
    )
    rewrite_name_threshold: float = Field(
        0.35, gt=0, le=1,
        description="Jaccard of the names and numbers (content words written with a capital or a digit first) a "
        "rewrite also needs: a retold story keeps its people, places and figures; two stories on one topic do not.",
    )
    rewrite_max_days_apart: int = Field(
        7, ge=0, description="Two articles whose published dates are both known and further apart than this are "
        "never rewrites of each other (a retelling follows its story within days).",
    )
    rewrite_own_run_words: int = Field(
        12, ge=1, description="Words outside the passages two texts share (word for word) that make a passage of a "
        "text's own: shorter runs are edits, not text of its own.",
    )
    rewrite_copy_own_share: float = Field(
        0.1, ge=0, le=1,
        description="A rewrite pair where one text has less than this share of its content words in passages of its "
        "own is an edited copy and needs no own-names match (bench copies with heavy edits: median 0.0, p90 0.03; "
        "pages of one site linked by chrome: 0.14 and up; same-story rewrites: 0.28 and up).",
    )
    rewrite_own_name_threshold: float = Field(
        0.18, ge=0, le=1,
        description="Jaccard of the names and numbers each text has outside the passages both share word for word, "
        "that a rewrite needs unless it is an edited copy (texts of the batch; index rows have no text). Pages of one "
        "site match on names only inside shared chrome or templates (dev sets: at most 0.14); retellings name the "
        "story's people in their own sentences (0.22-0.46).",
    )
    rewrite_max_verbatim: float = Field(
        0.25, gt=0, le=1,
        description="Against an index row (no text to find passages in), the shingle containment below which a pair "
        "can be a retelling (same-story rewrites of the dev sets: 0.06-0.18); pages that share more without being "
        "copies share a site's chrome or template (cleaned scrapes of the dev sets: 0.52-0.58, uncleaned 0.30-0.81).",
    )
    rewrite_index_copy_containment: float = Field(
        0.6, gt=0, le=1,
        description="Against an index row, the shingle containment (estimated from the sketches) at and above which a "
        "pair that passes the content-word tests is an edited copy (bench copies with heavy edits: ~0.65-0.75). "
        "Between rewrite_max_verbatim and this, nothing is merged.",
    )
    rewrite_within_site: bool = Field(
        False, description="Whether two pages of one site (same URL host, www. aside, both URLs known) can be "
        "rewrites of each other. A site does not retell its own story; its pages share chrome and topics. "
        "Near-copies (the same page under two URLs) count either way.",
    )
    rewrite_lsh_threshold: float = Field(
        0.15, gt=0, le=1,
        description="Jaccard of rare content words (common ones left out, see rewrite_common_share) the rewrite LSH "
        "banding is tuned for (b=51, r=2 at 256 perms: a pair at 0.25 is a candidate with probability 0.96), and the "
        "MinHash prefilter's threshold. Same-story pairs of the dev sets score 0.25-0.49 on rare words, random "
        "pairs median 0.007, p99 0.045.",
    )
    rewrite_common_share: float = Field(
        0.01, gt=0, le=1,
        description="Words in more than this share of the batch's articles (and more than rewrite_common_min_docs) "
        "are common: the rewrite tier's candidates come from the other words, so a section's or a template's "
        "vocabulary does not pair every long article with every other (candidates stay linear in the batch).",
    )
    rewrite_common_min_docs: int = Field(
        50, ge=1, description="A word in at most this many articles of the batch is never common (small batches "
        "say little about which words are).",
    )
    rewrite_num_perm: int = Field(
        256, ge=8, le=1024,
        description="MinHash permutations of the rewrite tier: the LSH bands use 51x2 of them, and all of them "
        "estimate a candidate's rare-word Jaccard for the prefilter (standard error sqrt(J(1-J)/num_perm)).",
    )
    rewrite_candidates_per_article: int = Field(
        16, ge=1,
        description="Rewrite candidates (within the batch) kept per article: a pair stays when it is among the "
        "this-many best MinHash estimates of one of its two articles. An article of a crowded topic meets hundreds "
        "of same-topic candidates through words under the rarity cut; its retellings rank first (bench corpora: "
        "every verified rewrite pair within an article's best 9), so candidates stay linear in the batch.",
    )
    prefilter_sigmas: float = Field(
        1.5, ge=0, description="Rewrite candidates whose MinHash estimate (on rare words) is this many standard errors "
        "below rewrite_lsh_threshold skip exact verification (1.5: a floor of 0.117; ~7% of pairs exactly at 0.15 lost, "
        "~0.05% at 0.2, none measurable from 0.25 up, where same-story pairs of the dev sets are; every verified "
        "rewrite of the 50k and 100k bench corpora kept).",
    )
    rewrite_min_words: int = Field(
        20, ge=1, description="Articles with fewer distinct content words skip the rewrite tier (low thresholds on tiny sets are noise)."
    )
    stopword_language: str = Field("en", description="stopwordsiso language whose list defines non-content words.")
    min_content_word_chars: int = Field(2, ge=1, description="Shorter words are not content words.")
    # Scale.
    exhaustive_max_pairs: int = Field(
        20_000, ge=0,
        description="When the batch (plus index) has at most this many pairs, every pair is verified instead of LSH candidates.",
    )
    lsh_bucket_window: int = Field(
        32, ge=1,
        description="In an LSH bucket sorted by row, each row is paired with the next this-many rows: all pairs in buckets "
        "up to window+1 rows, linear work in larger ones (mass copies stay connected through the chain).",
    )
    lsh_max_bucket_rows: int = Field(
        48, ge=2,
        description="An LSH bucket of more rows is a key many documents share (a template, the day's commonest words, "
        "mass copies): near-copies chain its rows, rewrites ignore it, so candidates stay linear in the batch.",
    )
    chunk_docs: int = Field(4096, ge=1, description="Documents per work unit of the signature pass (small: cache-friendly, bounds memory).")
    workers: int = Field(2, ge=1, description="Threads computing signature chunks (numpy and polars release the GIL).")
    # Across runs.
    index_days: int = Field(
        30, ge=0, description="A run matches its batch against the articles published on this many earlier ingest dates."
    )
    # Index rows store bottom-k sketches (the k smallest feature hashes of each set), not the sets: a
    # batch-index pair is verified on estimates whose standard error is about sqrt(J(1-J)/k).
    index_shingle_sketch: int = Field(32, ge=1, description="Shingles per index row (near-copy Jaccard, containment, verbatim share).")
    index_word_sketch: int = Field(112, ge=1, description="Content words per index row (rewrite Jaccard and its rarity-weighted form).")
    index_name_sketch: int = Field(48, ge=1, description="Names and numbers per index row (the rewrite names test).")
    index_estimate_sigmas: float = Field(
        1.0, ge=0, description="Standard errors of a sketch estimate added to a threshold when a pair is verified "
        "against an index row: at 1, a pair whose exact value is at the threshold merges ~16% of the time instead of "
        "50%, and pairs just below it (the seed's unrelated same-event article at 0.17 content Jaccard) rarely.",
    )


class ValidationConfig(Section):
    """Data-contract enforcement with Great Expectations (see tasks/validate.py).

    Every threshold of the suites lives here and only here: the suites in ``expectations_dir`` refer
    to these fields by name as ``{"$PARAMETER": "<field>"}`` and validate.py fills them in.
    """

    expectations_dir: Path = Field(default_factory=packaged_suites_dir, description="Where the reviewed GX suites live.")

    # Record suite (expectations/records.json): a failing row is quarantined.
    min_word_count: int = Field(30, description="Shorter bodies are teasers, captions or failed extractions.")
    max_word_count: int = Field(20_000, description="Longer bodies are whole pages or concatenated feeds.")
    min_title_chars: int = Field(5, description="Shortest accepted title; a missing (null) title is allowed.")
    max_title_chars: int = Field(300, description="Longer titles are usually a body paragraph scraped as title.")
    min_published_year: int = Field(1990, description="published_date before 1 January of this year is a parse error.")
    published_date_slack_days: int = Field(
        1, description="published_date may be this many days after the run date: it is in the publisher's timezone."
    )
    min_letter_ratio: float = Field(
        0.5, description="Least share of letters (incl. combining marks) among a body's non-space characters."
    )
    max_noise_ratio: float = Field(
        0.98,
        description="Most of the raw text that cleaning may remove (removed/raw chars). Real pages are mostly chrome: "
        "on the aeb-dev news pages the true article is under 20% of the visible text for one page in five.",
    )
    languages: list[str] = Field(
        # Permissive by default (a multilingual news pipeline) but a real rule: unlisted codes, which
        # for these sources are mostly misdetections of boilerplate, are rejected. Undetected
        # language (null) is not rejected.
        [
            "en", "de", "fr", "es", "pt", "it", "nl", "sv", "da", "no", "nb", "nn", "fi", "is", "pl", "cs",
            "sk", "sl", "hr", "sr", "bs", "hu", "ro", "bg", "el", "et", "lv", "lt", "ga", "cy", "ca", "eu",
            "gl", "mt", "sq", "mk", "uk", "be", "ru", "tr", "az", "ka", "hy", "kk", "uz", "ar", "he", "fa",
            "ur", "hi", "bn", "pa", "gu", "mr", "ne", "ta", "te", "kn", "ml", "si", "zh", "ja", "ko", "vi",
            "th", "id", "ms", "tl", "km", "lo", "my", "mn", "sw", "am", "ha", "yo", "ig", "zu", "af", "so",
        ],  # fmt: skip
        description="ISO 639-1 codes a detected body language must be one of.",
    )

    # Batch suite (expectations/batch.json): a failure stops the partition's publish.
    min_articles: int = Field(1, description="Fewest published rows for a run whose source had files.")
    max_quarantine_share: float = Field(0.5, description="Most of a run's inputs that may be quarantined.")
    min_duplicate_share: float = Field(0.0, description="Fewest of a run's inputs that must be duplicates.")
    max_duplicate_share: float = Field(0.9, description="Most of a run's inputs that may be duplicates.")


class S3Config(Section):
    """S3 access; credentials always come from boto3's standard chain, never from here."""

    endpoint_url: str | None = Field(None, description="Overrides AWS_ENDPOINT_URL for cleanwire only (MinIO etc.).")
    region: str | None = None
    max_attempts: int = Field(8, description="botocore retry attempts (adaptive mode: backoff with jitter).")
    multipart_threshold_bytes: int = 16 * 1024 * 1024


class PublishConfig(Section):
    """Committing partitions (see tasks/publish.py)."""

    lock_stale_after_hours: float = Field(
        6.0, gt=0, description="A date's publish lock older than this belongs to a run that died, and is broken."
    )
    min_rerun_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A rerun of a published date with fewer than this share of the published partition's inputs "
        "is refused (a shrunken or wrong source), unless forced (run --force, backfill --allow-shrink).",
    )
    reports_keep_days: int = Field(
        30, ge=1, description="Data Docs of runs older than this many days are deleted by the run that publishes."
    )


class OpsConfig(Section):
    """Running the flows: schedule time zone, result cache, fan-out unit (see docs/operations.md)."""

    timezone: str = Field(
        "UTC", description="IANA time zone of the daily schedule; a scheduled run without --date processes its local date."
    )
    cache_reads: bool = Field(True, description="Reuse the read step's results when a rerun sees the same source objects.")
    cache_dir: Path = Field(
        Path("~/.cache/cleanwire/results"),
        description="Where cached task results are kept; must be shared by all Dask workers of a multi-host cluster.",
    )
    read_chunk_files: int = Field(
        1000,
        ge=1,
        description=(
            "Source objects per read task: the unit fanned out to workers, and of the read cache. A task on a worker "
            "process costs ~0.2-0.9 s of Prefect bookkeeping, so a chunk should hold seconds of work."
        ),
    )
    clean_chunk_docs: int = Field(
        2000,
        ge=1,
        description=(
            "Most documents per clean task: the unit fanned out to workers. On worker processes a day of more "
            "is split into equal chunks, as many as a multiple of the workers, so they finish together."
        ),
    )
    validate_chunk_rows: int = Field(
        20_000, ge=1, description="Records per record-validation task: the unit fanned out to workers."
    )
    fan_out: Literal["auto", "processes", "threads"] = Field(
        "auto",
        description=(
            "Where the local runner runs the read, clean and record-validation chunks: 'processes' (a pool of "
            "worker processes, so parsing and cleaning use every core), 'threads' (the flow's process), or "
            "'auto' (processes on a machine with more than one core). --runner dask sends them to Dask instead."
        ),
    )
    fan_out_workers: int = Field(0, ge=0, description="Worker processes of the 'processes' fan-out; 0: one per core.")
    spill_reads: bool = Field(
        True,
        description=(
            "Write each read chunk's documents to an Arrow file in a work folder as it arrives and map it, so the "
            "flow process holds the day's raw text as file pages the kernel can drop, not on its heap."
        ),
    )
    work_dir: Path | None = Field(
        None, description="Where a run's work folder (spilled documents, removed at the end of the run) goes; default: the system's temp folder."
    )
    embedded_server_start_s: float = Field(
        120.0,
        gt=0,
        description=(
            "How long a run without PREFECT_API_URL waits for Prefect's temporary API server to answer. Its start "
            "takes ~10 s on an idle 2-core machine and over 20 s (Prefect's own default) on a busy one."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name (e.g. 'Europe/London')") from None
        return value


class Settings(BaseSettings):
    """All of cleanwire's configuration."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED_DELIMITER, extra="forbid")

    read: ReadConfig = ReadConfig()
    parse: ParseConfig = ParseConfig()
    clean: CleanConfig = CleanConfig()
    dedup: DedupConfig = DedupConfig()
    validation: ValidationConfig = ValidationConfig()
    s3: S3Config = S3Config()
    publish: PublishConfig = PublishConfig()
    ops: OpsConfig = OpsConfig()

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_environment_names(cls, data: object) -> object:
        """pydantic-settings only reads variables of known sections; one naming no section is a typo."""
        for name in os.environ:
            if name.startswith(ENV_PREFIX):
                section = name[len(ENV_PREFIX) :].split(ENV_NESTED_DELIMITER)[0].lower()
                if section not in cls.model_fields:
                    raise ValueError(f"environment variable {name} names no settings section")
        return data


def load_settings(overrides: dict | None = None) -> Settings:
    """Settings from the defaults, the ``CLEANWIRE_*`` environment and ``overrides`` (a partial
    Settings dict: ``--set`` flags, a deployment's parameters); any bad or unknown name is a
    UsageError whose message lists the valid names."""
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise UsageError(describe_settings_error(exc)) from None


def setting_from_text(name: str, text: str) -> object:
    """What ``--set SECTION.FIELD=TEXT`` sets: the text, which pydantic types like any other input,
    except for a list setting, whose text is a JSON array (as in a ``CLEANWIRE_*`` variable:
    ``["en", "it"]``) or comma-separated items (``en,it``; empty for none)."""
    section_name, _, field_name = name.partition(".")
    section = Settings.model_fields.get(section_name)
    field = section.annotation.model_fields.get(field_name) if section else None
    if field is None or not _is_collection(field.annotation):
        return text
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--set {name}: {text!r} is not a JSON array ({exc}); or give comma-separated items") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _is_collection(annotation: object) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_is_collection(arg) for arg in get_args(annotation) if arg is not type(None))


def describe_settings_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc)
        if error["type"] == "extra_forbidden":
            section = Settings.model_fields.get(loc[0]) if len(loc) == 2 else None
            valid = sorted(section.annotation.model_fields) if section else sorted(Settings.model_fields)
            where = f"section {loc[0]!r}" if section else "sections"
            problems.append(f"unknown setting {name!r}; valid {where}: {', '.join(valid)}")
        elif error["type"] == "value_error" and not loc:
            problems.append(f"{error['msg'].removeprefix('Value error, ')}; valid sections: {', '.join(sorted(Settings.model_fields))}")
        else:
            problems.append(f"{name or 'settings'}: {error['msg']} (got {error.get('input')!r})")
    return "invalid configuration: " + "; ".join(problems) + (
        f". Settings come from --set SECTION.FIELD=VALUE, {ENV_PREFIX}SECTION{ENV_NESTED_DELIMITER}FIELD variables "
        "and a deployment's overrides parameter; every name is listed in tasks/config.py."
    )
