"""Read step: fetch each raw object, decode it and hand it to the parser its format needs.

Everything but ``read_objects`` (the storage I/O) is pure: bytes in, a value out. Encodings are
detected in order: a BOM, strict UTF-8, UTF-8 with a few stray bytes, then chardet's guess among
the web's legacy encodings, so cp1252/Latin-1/UTF-16 scrapes decode to the right characters. WARC archives are not read whole:
they are streamed from storage record by record (tasks/parse.py).
"""

from __future__ import annotations

import codecs
import functools
import gzip
import io
import operator
import re
import zlib
from dataclasses import dataclass, field

import polars as pl
from chardet import detect as detect_encoding
from chardet.enums import EncodingEra
from prefect import task

from tasks.config import ParseConfig, ReadConfig, S3Config
from tasks.parse import (
    CSV,
    HTML,
    JSON,
    JSONL,
    MARKDOWN,
    TSV,
    WARC,
    ParseOutcome,
    documents_frame,
    format_by_name,
    parse_html,
    parse_json,
    parse_table,
    parse_text,
    parse_warc,
    sniff_format,
)
from tasks.quarantine import Rejection
from tasks.storage import STORAGE_TASK_OPTIONS, StoredObject, open_storage

# Magic numbers of common binary formats a landing zone collects next to the text it should hold.
_BINARY_SIGNATURES = (
    b"%PDF-",
    b"\x89PNG",
    b"\xff\xd8\xff",  # JPEG
    b"GIF8",
    b"PK\x03\x04",  # zip, docx, xlsx
    b"\x7fELF",
    b"RIFF",  # webp, wav
    b"\x00\x00\x00",  # mp4/mov boxes and most other length-prefixed binaries
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TEXT_CONTROLS = {9, 10, 12, 13}
_CONTROL_BYTES = bytes(b for b in range(32) if b not in _TEXT_CONTROLS)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    flags: tuple[str, ...] = field(default=())  # e.g. "invalid_bytes_replaced"
    # The bytes ``text`` is the strict UTF-8 decoding of (most scrapes), else None: normalise_text
    # looks for control characters in them rather than encoding the text once more.
    utf8: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Rejected:
    reason: str  # snake_case rule name, e.g. "not_text"
    detail: str  # one human sentence


def maybe_gunzip(data: bytes, key: str, config: ReadConfig) -> bytes | Rejected:
    """Decompress ``.gz`` inputs with a cap on the output size, so a gzip bomb cannot exhaust memory."""
    if not key.lower().endswith(".gz"):
        return data
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while chunk := fh.read(1 << 20):
                out.write(chunk)
                if out.tell() > config.max_decompressed_bytes:
                    return Rejected(
                        "too_large",
                        f"decompresses to more than {config.max_decompressed_bytes} bytes (limit read.max_decompressed_bytes)",
                    )
    except (OSError, EOFError, zlib.error) as exc:
        return Rejected("bad_gzip", f"not a readable gzip stream: {exc}")
    return out.getvalue()


def _looks_binary(data: bytes, config: ReadConfig) -> bool:
    if any(data.startswith(sig) for sig in _BINARY_SIGNATURES):
        return True
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return False  # UTF-16/32 text is full of NUL bytes by design
    sample = data[:8192]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > config.binary_control_ratio


def decode(data: bytes, config: ReadConfig = ReadConfig()) -> Decoded | Rejected:
    """Decode one raw object's bytes into text, or say why it is not a text scrape."""
    if not data.strip():
        return Rejected("empty_file", "the file is empty or whitespace only")
    if _looks_binary(data, config):
        return Rejected("not_text", "the content is binary (a known file signature or mostly control bytes)")
    # UTF-32-LE's BOM starts like UTF-16-LE's: try every encoding whose BOM matches, strictly, first.
    bom_encodings = [encoding for bom, encoding in _BOMS if data.startswith(bom)]
    for encoding in bom_encodings:
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    if bom_encodings:
        return _decode_with(data, bom_encodings[0])
    try:
        return Decoded(data.decode("utf-8"), "utf-8", utf8=data)
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data, config):
        # A UTF-8 page with a few stray bytes: a legacy-encoding guess would garble all its other
        # non-ASCII characters to repair a handful.
        return _decode_with(data, "utf-8")
    return _decode_with(data, _guess_encoding(data, config))


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(data: bytes, config: ReadConfig) -> bool:
    """Has well-formed multi-byte UTF-8 sequences, and only a small share of bytes that are not UTF-8."""
    if not _UTF8_MULTIBYTE.search(data):
        return False
    invalid = data.decode("utf-8", errors="replace").count("\ufffd")
    return invalid <= config.utf8_max_invalid_share * len(data)


def _guess_encoding(data: bytes, config: ReadConfig) -> str:
    """chardet's guess among ``config.encoding_eras``' encodings, as a Python codec name."""
    eras = functools.reduce(operator.or_, (EncodingEra[era.upper()] for era in config.encoding_eras))
    return detect_encoding(data, encoding_era=eras, compat_names=False)["encoding"] or "utf-8"


def _decode_with(data: bytes, encoding: str) -> Decoded:
    try:
        return Decoded(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        return Decoded(data.decode(encoding, errors="replace"), encoding, ("invalid_bytes_replaced",))


def normalise_text(text: str, utf8: bytes | None = None) -> str:
    """Drop NULs and other C0 controls a scraper leaked; unify line endings.

    ``utf8``: the text's UTF-8 encoding when the caller has it (``Decoded.utf8``), spared encoding again.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not _has_control_bytes(text.encode("utf-8", "surrogatepass") if utf8 is None else utf8):
        return text  # nearly every page: the check costs an eighth of the scan below
    # A regex scan, not str.translate: translate looks every character up in a dict (~1 ms per 20 KB page).
    return _CONTROL_CHARS.sub("", text)


_REMOVED_CONTROLS = _CONTROL_BYTES + b"\x7f"  # C0 controls but tab, newlines and form feed; DEL
_CONTROL_CHARS = re.compile("[" + "".join(f"\\x{c:02x}" for c in _REMOVED_CONTROLS) + "]+")


def _has_control_bytes(encoded: bytes) -> bool:
    """Whether the text ``encoded`` (UTF-8) holds a character ``_CONTROL_CHARS`` removes: UTF-8 encodes
    those characters, and only them, as those single bytes, and bytes.translate deletes bytes at C
    speed. Unifying line endings removes no such byte, so the bytes before it answer for the text after."""
    return len(encoded.translate(None, _REMOVED_CONTROLS)) != len(encoded)


def parse_object(uri: str, key: str, payload: bytes, size_bytes: int, config: ReadConfig, parse: ParseConfig) -> ParseOutcome:
    """The documents in one object's (decompressed) bytes, by the format its name or content says."""
    fmt = format_by_name(key) or sniff_format(payload[:2048])
    if fmt == WARC:
        return parse_warc(uri, io.BytesIO(payload), parse)
    decoded = decode(payload, config)
    if isinstance(decoded, Rejected):
        return ParseOutcome(rejections=[_read_rejection(uri, decoded, payload, size_bytes, config)])
    text = normalise_text(decoded.text, decoded.utf8)
    if fmt == HTML:
        outcome = ParseOutcome()
        outcome.add(parse_html(uri, "", text, size_bytes, parse))
    elif fmt in (JSON, JSONL):
        outcome = parse_json(uri, text, size_bytes, parse, lines=fmt == JSONL)
    elif fmt in (CSV, TSV):
        outcome = parse_table(uri, text, size_bytes, parse, separator="," if fmt == CSV else "\t")
    else:
        outcome = ParseOutcome(documents=parse_text(uri, text, size_bytes, parse, markdown=fmt == MARKDOWN))
    outcome.warnings.extend(f"{uri}: {flag} ({decoded.encoding})" for flag in decoded.flags)
    return outcome


def _read_rejection(uri: str, rejected: Rejected, data: bytes, size_bytes: int, config: ReadConfig) -> Rejection:
    excerpt = repr(data[: config.excerpt_chars // 4])
    return Rejection(uri, "read", (f"{rejected.reason} ({rejected.detail})",), size_bytes, None, excerpt)


def read_objects(
    source: str, objects: list[StoredObject], config: ReadConfig, s3: S3Config, parse: ParseConfig = ParseConfig()
) -> ParseOutcome:
    """Fetch and parse each listed object; an object, or a record in it, whose content cannot be used
    becomes a Rejection. An object that cannot be fetched raises (a StorageError, or a
    TransientStorageError the task retries): a source that cannot be read is not bad input."""
    storage = open_storage(source, s3)
    outcome = ParseOutcome()
    for obj in objects:
        if format_by_name(obj.key) == WARC:
            # Streamed record by record, so read.max_file_bytes does not apply (parse bounds each record).
            with storage.open(obj.key) as stream:
                outcome.extend(parse_warc(obj.uri, stream, parse))
            continue
        if obj.size > config.max_file_bytes:
            detail = f"{obj.size} bytes is above read.max_file_bytes={config.max_file_bytes}; not read"
            outcome.add(Rejection(obj.uri, "read", (f"too_large ({detail})",), obj.size))
            continue
        data = storage.read(obj.key)
        payload = maybe_gunzip(data, obj.key, config)
        if isinstance(payload, Rejected):
            outcome.add(_read_rejection(obj.uri, payload, data, obj.size, config))
            continue
        outcome.extend(parse_object(obj.uri, obj.key, payload, obj.size, config, parse))
    return outcome


@dataclass(frozen=True)
class ReadBatch:
    """What the read step hands on: the documents as columns (tasks.parse.DOCUMENTS), and the
    inputs it refused."""

    documents: pl.DataFrame
    rejections: list[Rejection]
    warnings: list[str]

    @classmethod
    def of(cls, outcome: ParseOutcome) -> ReadBatch:
        return cls(documents_frame(outcome.documents), outcome.rejections, outcome.warnings)


def merge_read_batches(parts: list[ReadBatch]) -> ReadBatch:
    """The batches of consecutive chunks as one, in order."""
    return ReadBatch(
        pl.concat([part.documents for part in parts]) if parts else documents_frame([]),
        [rejection for part in parts for rejection in part.rejections],
        [warning for part in parts for warning in part.warnings],
    )


@task(name="list-inputs", **STORAGE_TASK_OPTIONS)
def list_inputs_task(source: str, s3: S3Config) -> list[StoredObject]:
    return open_storage(source, s3).list()


@task(name="read-inputs", **STORAGE_TASK_OPTIONS)
def read_inputs_task(
    source: str, objects: list[StoredObject], config: ReadConfig, s3: S3Config, parse: ParseConfig
) -> ReadBatch:
    return ReadBatch.of(read_objects(source, objects, config, s3, parse))
