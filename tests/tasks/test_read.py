import codecs
import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.config import ReadConfig, S3Config
from tasks.read import Decoded, Rejected, decode, maybe_gunzip, normalise_text, read_objects
from tasks.storage import LocalStorage

TEXT = "Le café “Zinc” — ouvert à Noël. " * 10


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # BOM + little-endian
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom"],
)
def test_decode_recovers_the_text_in_common_encodings(data):
    result = decode(data)
    assert isinstance(result, Decoded)
    assert result.text.lstrip("\ufeff") == TEXT


# One-line pages in the legacy encodings their languages are saved in (charset-normalizer, the read
# step's detector before chardet, read the first four as cp1250, cp1250, cp775, cp1250).
LEGACY_PAGES = [
    ("Le café de la gare a fermé ses portes après trente ans.", "cp1252"),
    ("« C’est une décision historique », a déclaré le ministre lors d’une conférence de presse.", "cp1252"),
    ("São Paulo: ações da Petrobras sobem após anúncio do governo.", "latin-1"),
    ("El niño y la señora comieron en el café de la esquina.", "latin-1"),
    ("Café owners in München protest new rules.", "latin-1"),
    ("The company’s “new” plan — explained, says the CEO.", "cp1252"),
    ("Introducing the Acme® Widget® Pro, now with TurboCharge® and SmartSync®.", "cp1252"),
    ("Rząd przyjął budżet; posłowie głosowali późnym wieczorem w środę.", "iso8859-2"),
    ("Vláda schválila rozpočet, řekl ministr financí v úterý večer.", "cp1250"),
    ("Правительство объявило новые меры поддержки экономики.", "cp1251"),
    ("Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία.", "iso8859-7"),
    ("Hükümet yeni ekonomik önlemleri açıkladı, dedi bakan.", "cp1254"),
]


@pytest.mark.parametrize(("text", "encoding"), LEGACY_PAGES, ids=[f"{e}-{t[:12]}" for t, e in LEGACY_PAGES])
def test_a_short_page_in_a_legacy_encoding_decodes_to_its_text(text, encoding):
    result = decode(f"{text}\n".encode(encoding))
    assert isinstance(result, Decoded) and result.text == f"{text}\n"


@pytest.mark.parametrize("data", [b"", b"   \n\t  \n"])
def test_empty_and_whitespace_files_are_rejected(data):
    assert decode(data) == Rejected("empty_file", "the file is empty or whitespace only")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(256)) * 4],
    ids=["pdf", "png", "random-bytes"],
)
def test_binary_content_is_not_text(data):
    result = decode(data)
    assert isinstance(result, Rejected) and result.reason == "not_text"


def test_gzip_inputs_are_read_and_bombs_refused():
    payload = gzip.compress(b"hello world\n" * 10)
    assert maybe_gunzip(payload, "a/b.txt.gz", ReadConfig()) == b"hello world\n" * 10
    assert maybe_gunzip(payload, "a/b.txt", ReadConfig()) == payload
    bomb = gzip.compress(b"\0" * (2 << 20))
    rejected = maybe_gunzip(bomb, "bomb.gz", ReadConfig(max_decompressed_bytes=1 << 20))
    assert isinstance(rejected, Rejected) and rejected.reason == "too_large"
    broken = maybe_gunzip(b"not gzip at all", "x.gz", ReadConfig())
    assert isinstance(broken, Rejected) and broken.reason == "bad_gzip"


def test_normalise_text_drops_controls_and_unifies_newlines():
    assert normalise_text("a\r\nb\rc\x00d\x07e\tf") == "a\nb\ncde\tf"


@pytest.mark.parametrize("control", [chr(c) for c in (*range(9), 11, *range(14, 32), 127)])
def test_normalise_text_drops_each_control_wherever_it_is(control):
    assert normalise_text(f"{control}café{control}\ud800ok{control}") == "café\ud800ok"


def test_normalise_text_keeps_text_without_controls_as_it_is():
    # Layout controls, C1 controls (what cp1252 bytes 0x80-0x9f become in Latin-1), CJK and a lone surrogate.
    text = "tab\tform\x0cfeed\n\x85\x9f 東京 \ud800 “quoted” é"
    assert normalise_text(text) == text


@pytest.mark.parametrize("line", ["a leaked\x00 NUL and\x7f DEL\r\n", "plain text, café 東京\n", "tab\tform\x0cfeed\r"])
def test_normalise_text_reads_a_strict_utf8_pages_bytes_as_its_text(line):
    text = line * 20
    data = text.encode("utf-8")
    decoded = decode(data)
    assert decoded.utf8 is data
    assert normalise_text(decoded.text, decoded.utf8) == normalise_text(text)


def test_only_a_strict_utf8_decoding_keeps_its_bytes():
    assert decode(TEXT.encode("cp1252")).utf8 is None
    assert decode(codecs.BOM_UTF8 + b"text").utf8 is None
    assert decode(b"caf\xc3\xa9 and a stray \xff byte" * 20).utf8 is None


def test_read_objects_accounts_for_every_object(tmp_path):
    (tmp_path / "good.txt").write_text("A real article sentence that is long enough to keep.\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "big.txt").write_bytes(b"x" * 100)
    storage = LocalStorage(tmp_path)
    outcome = read_objects(str(tmp_path), storage.list(), ReadConfig(max_file_bytes=99), S3Config())
    assert [d.source_uri.rsplit("/", 1)[-1] for d in outcome.documents] == ["good.txt"]
    reasons = {r.source_uri.rsplit("/", 1)[-1]: r.reasons[0].split(" ")[0] for r in outcome.rejections}
    assert reasons == {"empty.txt": "empty_file", "big.txt": "too_large"}


def test_utf8_with_a_few_stray_bytes_stays_utf8_and_is_flagged():
    data = ("The keeper’s cottage — “open” on Sundays. " * 20).encode("utf-8").replace(b"Sundays", b"Sun\xffdays", 1)
    result = decode(data)
    assert isinstance(result, Decoded) and result.encoding == "utf-8"
    assert "keeper’s cottage — “open”" in result.text and result.text.count("\ufffd") == 1
    assert result.flags == ("invalid_bytes_replaced",)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=4096), name=st.sampled_from(["a.txt", "a.txt.gz", "a.html", "a.jsonl", "a"]))
def test_reading_never_raises_on_arbitrary_bytes(data, name):
    payload = maybe_gunzip(data, name, ReadConfig())
    if isinstance(payload, Rejected):
        return
    result = decode(payload)
    if isinstance(result, Decoded):
        text = normalise_text(result.text)
        assert "\x00" not in text and "\r" not in text
    else:
        assert result.reason in {"empty_file", "not_text"}


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=2000))
def test_any_unicode_text_in_utf8_or_utf16_decodes_back(text):
    for encoded in (text.encode("utf-8"), text.encode("utf-16")):
        result = decode(encoded)
        if isinstance(result, Decoded):
            assert normalise_text(result.text.lstrip("\ufeff")) == normalise_text(text)
