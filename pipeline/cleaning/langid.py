"""Language id for ru / bg / en, with `other` for everything else.

Russian and Bulgarian share an alphabet and much vocabulary, so a general detector confuses them on
short texts; lingua's n-gram models restricted to our candidates separate them well. A second, wider
lingua model guards the door: text that is confidently Ukrainian, German, ... becomes `other` instead of
being forced into the nearest candidate. The guard runs in lingua's low-accuracy (trigram) mode: it only
has to recognise clearly foreign text, and that keeps cleaning above 2,000 comments/s on one core.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

OTHER = "other"


@dataclass(frozen=True)
class LangGuess:
    lang: str
    confidence: float


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _languages(codes: Iterable[str]) -> list[Language]:
    return [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]


class LanguageIdentifier:
    """Callable: text -> LangGuess. Build once (the models take ~1 s to load), call many times."""

    def __init__(
        self,
        candidates: Iterable[str],
        guard_languages: Iterable[str],
        other_min_confidence: float,
        min_letters: int,
        trust_wide_confidence: float,
    ) -> None:
        self.candidates = list(candidates)
        self.other_min_confidence = other_min_confidence
        self.trust_wide_confidence = trust_wide_confidence
        self.min_letters = min_letters
        cand = _languages(self.candidates)
        self._narrow = LanguageDetectorBuilder.from_languages(*cand).with_preloaded_language_models().build()
        self._wide = (
            LanguageDetectorBuilder.from_languages(*cand, *_languages(guard_languages))
            .with_preloaded_language_models()
            .with_low_accuracy_mode()
            .build()
        )

    def __call__(self, text: str) -> LangGuess:
        if sum(ch.isalpha() for ch in text) < self.min_letters:
            return LangGuess(OTHER, 0.0)
        # The wide model answers most texts alone; the narrow one settles ru/bg/en when it is unsure.
        wide = self._wide.compute_language_confidence_values(text)
        if wide:
            top_code, top_value = _code(wide[0].language), float(wide[0].value)
            if top_code not in self.candidates and top_value >= self.other_min_confidence:
                return LangGuess(OTHER, round(top_value, 4))
            if top_code in self.candidates and top_value >= self.trust_wide_confidence:
                return LangGuess(top_code, round(top_value, 4))
        narrow = self._narrow.compute_language_confidence_values(text)
        if not narrow:
            return LangGuess(OTHER, 0.0)
        return LangGuess(_code(narrow[0].language), round(float(narrow[0].value), 4))

    def batch(self, texts: list[str]) -> list[LangGuess]:
        return [self(t) for t in texts]
