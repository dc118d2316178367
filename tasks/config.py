"""Typed configuration for every step, in one place.

Defaults live here; environment variables override them (``CLEANWIRE_`` prefix, ``__`` between a
section and its field, e.g. ``CLEANWIRE_DEDUP__THRESHOLD=0.4``) and CLI flags override both.
Each pipeline step receives only its own section, so the pure functions stay testable with a
plain ``SectionConfig()``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ReadConfig(BaseModel):
    """How raw objects are listed, read and decoded."""

    max_file_bytes: int = Field(20 * 1024 * 1024, description="Larger raw objects are quarantined as too_large unread.")
    max_decompressed_bytes: int = Field(50 * 1024 * 1024, description="Cap on a .gz input's decompressed size (gzip bombs).")
    binary_control_ratio: float = Field(0.10, description="Share of control bytes above which a file is not text.")
    excerpt_chars: int = Field(2000, description="How much of a rejected input the quarantine row keeps.")
    preferred_encodings: tuple[str, ...] = Field(
        ("cp1252",),
        description="Tie-break when charset-normalizer rates several legacy encodings equally well "
        "(windows-1252 is what browsers assume for unlabeled Western pages).",
    )


class CleanConfig(BaseModel):
    """Noise-removal rules and thresholds (see tasks/clean.py)."""

    # Line classes (jusText-style: length and stop-word density decide whether a line reads as prose).
    stopword_languages: tuple[str, ...] = Field(
        (), description="ISO 639-1 codes whose stopwordsiso lists are candidates for a page's language; empty = all."
    )
    good_min_chars: int = Field(80, description="A line at least this long with prose-like stop words is article text.")
    good_min_stop_density: float = Field(0.25, description="Share of stop words a prose line has at least.")
    bad_max_stop_density: float = Field(0.10, description="A line with a smaller share of stop words is a list or a label.")
    short_max_chars: int = Field(40, description="Lines up to this long are too short to judge by their own text.")
    cjk_char_weight: float = Field(2.5, description="Length weight of a CJK character, which carries about a word.")
    # Main-text region: the contiguous run of lines with the highest score.
    good_line_score: float = Field(1.0, description="Score per character of a line classed as article text.")
    near_good_line_score: float = Field(0.3, description="Score per character of a line that is prose-like but weak.")
    short_line_penalty: float = Field(12.0, description="Flat score of a short line inside or beside the region.")
    bad_line_penalty: float = Field(0.6, description="Score per character (negated) of a line classed as non-article.")
    noise_line_penalty: float = Field(60.0, description="Flat score (negated) of a line that matches a noise rule.")
    boilerplate_penalty: float = Field(80.0, description="Flat score (negated) of a line recurring across the batch.")
    trailer_region_ratio: float = Field(
        0.25,
        description="Text after a 'related/comments' heading is only the article when the text before it scores "
        "below this share of the best region's score.",
    )
    # Typed noise.
    teaser_min_chars: int = Field(150, description="A trailing line at least this long that stops mid-sentence is a teaser.")
    kicker_max_words: int = Field(5, description="Most words in an ALL-CAPS kicker ('LIMITS: ...') that opens a teaser.")
    navigation_min_run: int = Field(3, description="Fewest consecutive short non-sentence lines that make a menu.")
    related_headings: tuple[str, ...] = Field(
        (
            "related", "related articles", "related stories", "related posts", "related news", "related content",
            "related coverage", "recommended", "recommended for you", "recommended stories", "more stories",
            "more news", "more from", "read more", "read next", "see also", "you may also like", "you might also like",
            "most read", "most popular", "most viewed", "popular", "trending", "trending now", "top stories",
            "latest news", "latest stories", "more on this story", "also read", "don't miss", "editor's picks",
            "further reading", "what to read next", "up next",
        ),
        description="Casefolded headings that open a block of links to other stories.",
    )
    comment_headings: tuple[str, ...] = Field(
        (
            "comments", "comment", "leave a comment", "leave a reply", "post a comment", "add a comment",
            "join the conversation", "join the discussion", "discussion", "conversation", "reader comments",
            "show comments", "view comments", "no comments yet", "be the first to comment",
        ),
        description="Casefolded headings or lines that open or stand for a comment section.",
    )
    share_prompt_words: tuple[str, ...] = Field(
        (
            "share", "shares", "tweet", "follow us", "follow", "subscribe", "sign up", "newsletter", "whatsapp",
            "facebook", "twitter", "linkedin", "pinterest", "reddit", "telegram", "email", "e-mail", "print",
            "copy link", "click here", "sign in", "log in", "login", "register", "notifications", "advertisement",
            "sponsored", "rss", "flipboard", "instagram", "youtube",
        ),
        description="Words of share/follow/subscribe/newsletter prompts (matched on short lines only).",
    )
    app_prompt_words: tuple[str, ...] = Field(
        ("download", "app store", "google play", "play store", "get the app", "our app", "the app", "install"),
        description="Words of prompts to install an app (matched on short lines only).",
    )
    consent_prompt_words: tuple[str, ...] = Field(
        ("cookie", "cookies", "privacy policy", "terms of use", "terms of service", "accept", "consent"),
        description="Words of cookie and consent banners (matched on short lines only).",
    )
    disclaimer_words: tuple[str, ...] = Field(
        ("note for readers", "disclaimer", "note to readers", "notice"),
        description="Labels that open a site's standing disclaimer ('Note For Readers: ...').",
    )
    prompt_max_words: int = Field(12, description="Longest line (in words) that a prompt word can mark as a prompt.")
    credit_words: tuple[str, ...] = Field(
        ("photo", "photograph", "image", "picture", "credit", "credits", "source", "foto", "bild", "imagen", "illustration", "video", "file photo"),
        description="Words that open a caption credit line ('Photo: AFP').",
    )
    byline_words: tuple[str, ...] = Field(
        ("by", "author", "written by", "words by", "reporting by", "posted by", "von", "par", "por", "di", "door", "autor", "auteur"),
        description="Words that open a byline.",
    )
    dateline_max_words: int = Field(16, description="Longest line that is only a dateline or timestamp, in words.")
    relative_time_words: tuple[str, ...] = Field(
        ("second", "seconds", "min", "mins", "minute", "minutes", "hour", "hours", "hr", "hrs", "day", "days",
         "week", "weeks", "month", "months", "year", "years"),
        description="Units of relative timestamps ('5 hours ago').",
    )
    month_names: dict[str, int] = Field(
        {
            **{m: i + 1 for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                               "august", "september", "october", "november", "december"))},
            **{m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                               "oct", "nov", "dec"))},
            "sept": 9,
            **{m: i + 1 for i, m in enumerate(("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho",
                                               "agosto", "setembro", "outubro", "novembro", "dezembro"))},
            **{m: i + 1 for i, m in enumerate(("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
                                               "agosto", "septiembre", "octubre", "noviembre", "diciembre"))},
            **{m: i + 1 for i, m in enumerate(("janvier", "février", "mars", "avril", "mai", "juin", "juillet",
                                               "août", "septembre", "octobre", "novembre", "décembre"))},
            **{m: i + 1 for i, m in enumerate(("januar", "februar", "märz", "april", "mai", "juni", "juli",
                                               "august", "september", "oktober", "november", "dezember"))},
            **{m: i + 1 for i, m in enumerate(("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
                                               "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"))},
        },
        description="Month names (casefolded) of the languages whose written dates are read, with their numbers.",
    )
    title_min_words: int = Field(3, description="Shortest headline, in words.")
    title_max_words: int = Field(30, description="Longest headline, in words.")
    title_search_lines: int = Field(25, description="How many lines above the article the headline is looked for.")
    # Run-level boilerplate.
    boilerplate_min_pages: int = Field(2, description="A line is site chrome when it recurs on at least this many pages...")
    boilerplate_min_share: float = Field(0.01, description="...and on at least this share of the run's pages.")
    boilerplate_max_words: int = Field(
        15, description="Longer recurring lines are syndicated article text, not chrome, and are never boilerplate."
    )


class DedupConfig(BaseModel):
    """Near-duplicate detection (see tasks/dedup.py)."""


class ValidationConfig(BaseModel):
    """Data-contract enforcement with Great Expectations (see tasks/validate.py)."""

    expectations_dir: Path = Field(PROJECT_ROOT / "expectations", description="Where the reviewed GX suites live.")


class S3Config(BaseModel):
    """S3 access; credentials always come from boto3's standard chain, never from here."""

    endpoint_url: str | None = Field(None, description="Overrides AWS_ENDPOINT_URL for cleanwire only (MinIO etc.).")
    region: str | None = None
    max_attempts: int = Field(8, description="botocore retry attempts (adaptive mode: backoff with jitter).")
    multipart_threshold_bytes: int = 16 * 1024 * 1024


class Settings(BaseSettings):
    """All of cleanwire's configuration."""

    model_config = SettingsConfigDict(env_prefix="CLEANWIRE_", env_nested_delimiter="__", extra="ignore")

    read: ReadConfig = ReadConfig()
    clean: CleanConfig = CleanConfig()
    dedup: DedupConfig = DedupConfig()
    validation: ValidationConfig = ValidationConfig()
    s3: S3Config = S3Config()
