"""Language id for ru / bg / en, with `other` for everything else.

Three steps, cheapest first:
1. the script: a text mostly in Cyrillic can only be one of the Cyrillic candidates (ru, bg), one mostly
   in Latin letters only a Latin one (en) - this alone settles English and prevents "bit.ly" or
   "iPhone" inside a Bulgarian comment from making it English;
2. a guard: lingua over the candidates plus neighbours (uk, mk, sr, de, fr, ...) in low-accuracy
   (trigram) mode; text it confidently assigns to a non-candidate becomes `other`;
3. within the script, lingua's high-accuracy models restricted to the candidates of that script:
   this is what separates Russian from Bulgarian on short texts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

OTHER = "other"
CYRILLIC, LATIN = "cyrillic", "latin"
CYRILLIC_LANGS = {"ru", "bg", "uk", "mk", "sr", "be", "kk", "ky", "mn", "tg"}


@dataclass(frozen=True)
class LangGuess:
    lang: str
    confidence: float


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _languages(codes: Iterable[str]) -> list[Language]:
    return [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]


def script_of(text: str) -> str | None:
    """The dominant alphabet among the letters of `text` (None when it has no letters)."""
    cyrillic = sum(1 for ch in text if "\u0400" <= ch <= "\u04ff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if not cyrillic and not latin:
        return None
    return CYRILLIC if cyrillic >= latin else LATIN


class LanguageIdentifier:
    """Callable: text -> LangGuess. Build once (the models take ~1 s to load), call many times."""

    def __init__(
        self,
        candidates: Iterable[str],
        guard_languages: Iterable[str],
        other_min_confidence: float,
        min_letters: int,
    ) -> None:
        self.candidates = list(candidates)
        self.other_min_confidence = other_min_confidence
        self.min_letters = min_letters
        self._by_script = {
            CYRILLIC: [c for c in self.candidates if c in CYRILLIC_LANGS],
            LATIN: [c for c in self.candidates if c not in CYRILLIC_LANGS],
        }
        self._narrow = {
            script: LanguageDetectorBuilder.from_languages(*_languages(langs))
            .with_preloaded_language_models()
            .build()
            for script, langs in self._by_script.items()
            if len(langs) >= 2
        }
        self._guard = (
            LanguageDetectorBuilder.from_languages(*_languages(self.candidates), *_languages(guard_languages))
            .with_preloaded_language_models()
            .with_low_accuracy_mode()
            .build()
        )

    def __call__(self, text: str) -> LangGuess:
        if sum(ch.isalpha() for ch in text) < self.min_letters:
            return LangGuess(OTHER, 0.0)
        script = script_of(text)
        langs = self._by_script.get(script, []) if script else []
        guard = self._guard.compute_language_confidence_values(text)
        if not guard or not langs:
            return LangGuess(OTHER, 0.0)
        confidence = {_code(v.language): float(v.value) for v in guard}
        top = _code(guard[0].language)
        if top not in self.candidates and confidence[top] >= self.other_min_confidence:
            return LangGuess(OTHER, round(confidence[top], 4))
        if len(langs) == 1:
            return LangGuess(langs[0], round(confidence.get(langs[0], 0.0), 4))
        narrow = self._narrow[script].compute_language_confidence_values(text)
        return LangGuess(_code(narrow[0].language), round(float(narrow[0].value), 4))
