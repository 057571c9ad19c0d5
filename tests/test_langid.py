from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "langid_comments.tsv"


def _rows() -> list[dict[str, str]]:
    with open(DATA, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_set_is_big_enough_and_short():
    rows = _rows()
    per_lang = Counter(r["lang"] for r in rows)
    assert all(per_lang[lang] >= 20 for lang in ("ru", "bg", "en")), per_lang
    assert all(3 <= len(r["text"].split()) <= 15 for r in rows)


def test_ru_bg_en_accuracy_at_least_95_percent(cleaner):
    rows = _rows()
    predicted = [cleaner.identify(r["text"]).lang for r in rows]
    wrong = [(r["lang"], p, r["text"]) for r, p in zip(rows, predicted, strict=True) if p != r["lang"]]
    accuracy = 1 - len(wrong) / len(rows)
    assert accuracy >= 0.95, wrong


@pytest.mark.parametrize(
    "text",
    [
        "Das Essen war wirklich sehr gut und der Kellner freundlich",
        "Доставка прийшла вчасно, дякую за швидку роботу",  # Ukrainian
        "El pedido llegó tarde y nadie contestó el teléfono",
        "👍👍👍",
        "12345 678",
    ],
)
def test_other_languages_and_no_letters_are_other(cleaner, text):
    assert cleaner.identify(text).lang == "other"
