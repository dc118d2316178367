"""Language detection: short real-world strings, abstention, determinism, batch helper."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from tasks.language import _identifier, detect_language, detect_languages


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The government announced new measures on Tuesday.", "en"),
        ("Die Regierung hat am Dienstag neue Maßnahmen angekündigt.", "de"),
        ("政府は火曜日に新たな措置を発表した。", "ja"),
        ("সরকার মঙ্গলবার নতুন পদক্ষেপ ঘোষণা করেছে।", "bn"),
        ("Le gouvernement a annoncé mardi de nouvelles mesures.", "fr"),
    ],
)
def test_detects_short_news_sentences(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "   \n", None, "12345 !!!", "Hello world"])
def test_abstains_on_empty_non_linguistic_or_uncertain_text(text: str | None) -> None:
    assert detect_language(text) is None


def test_min_confidence_is_a_real_knob() -> None:
    text = "The government announced new measures on Tuesday."
    assert detect_language(text, min_confidence=0.0) == "en"
    assert detect_language(text, min_confidence=0.999) is None


def test_returns_only_iso_639_1_codes() -> None:
    # Cantonese is labelled "yue" by the model; ISO 639-1 only has the macrolanguage "zh".
    assert detect_language("佢哋喺度做咩呀？我哋聽日見啦，唔該晒。") == "zh"


def test_batch_helper_keeps_nulls_order_and_agrees_with_single() -> None:
    texts = ["Die Regierung hat am Dienstag neue Maßnahmen angekündigt.", None, "", "政府は火曜日に新たな措置を発表した。"]
    out = detect_languages(pl.Series(texts))
    assert out.name == "language" and out.dtype == pl.String
    assert out.to_list() == [detect_language(t) for t in texts] == ["de", None, None, "ja"]
    assert detect_languages(iter(texts)).to_list() == out.to_list()
    assert detect_languages(pl.Series([], dtype=pl.String)).to_list() == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12345 !!!",
        "HELLO WORLD",
        "The government announced new measures on Tuesday.",
        "Die Regierung hat am Dienstag neue Maßnahmen angekündigt. " * 30,
        "政府は火曜日に新たな措置を発表した。",
        "सरकार ने मंगलवार को नए उपायों की घोषणा की।",
        b"caf\xc3\xa9 au lait \xc3",
    ],
)
def test_compiled_walk_scores_like_py3langid(text: str | bytes, py3langid_identifier: LanguageIdentifier) -> None:
    assert _identifier().classify(text) == py3langid_identifier.classify(text)
    assert np.array_equal(_identifier()._decide(text), py3langid_identifier._decide(text))


@pytest.fixture(scope="module")
def py3langid_identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
