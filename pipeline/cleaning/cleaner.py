"""Clean comments: normalise -> mask PII -> language id -> spaCy sentences (and lemmas).

Every input gets a :class:`CleanResult`; bad input (None, non-text, empty, undecodable) gets an
``error`` code instead of raising, so one broken row never takes a batch down and the batch layer
can route the row to a quarantine file with its reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.cleaning.langid import OTHER, LanguageIdentifier
from pipeline.cleaning.nlp import get_nlp
from pipeline.cleaning.normalize import Normalizer
from pipeline.cleaning.pii import PiiMasker
from pipeline.config import load_params
from pipeline.settings import Cleaning, LangId
from pipeline.tables import printable, text_value

# Error codes (stable strings: they end up in quarantine files and dashboards).
MISSING = "missing"
NOT_TEXT = "not_text"
EMPTY = "empty"
INVALID_UTF8 = "invalid_utf8"
PROCESSING_FAILED = "processing_failed"


@dataclass
class CleanResult:
    text: str
    lang: str = OTHER
    lang_confidence: float = 0.0
    sentences: list[str] = field(default_factory=list)
    lemmas: list[str] | None = None
    pii: dict[str, int] = field(default_factory=dict)
    truncated: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(value: Any) -> tuple[str | None, str | None]:
    """Return (text, error): decode bytes strictly, refuse non-text, catch lone surrogates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, MISSING
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8"), None
        except UnicodeDecodeError:
            return None, INVALID_UTF8
    if not isinstance(value, str):
        return None, NOT_TEXT
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None, INVALID_UTF8
    return value, None


class Cleaner:
    """Holds the compiled normaliser, PII masker and language models (expensive to build)."""

    def __init__(self, cleaning: Cleaning | None = None, langid: LangId | None = None) -> None:
        """Defaults: the sections of the params.yaml in use (a bundle passes the ones it was trained with)."""
        cfg, lid = cleaning or load_params().cleaning, langid or load_params().langid
        self.max_chars = int(cfg.max_chars)
        self.batch_size = int(cfg.batch_size)
        self.normalize = Normalizer(cfg.max_repeat_letters, cfg.max_repeat_punct)
        pii = cfg.pii
        self.mask = PiiMasker(pii.phone_regions, pii.id_cues, pii.phone_min_digits)
        self.identify = LanguageIdentifier(
            lid.candidates,
            lid.guard_languages,
            lid.other_min_confidence,
            lid.min_letters,
        )

    def prepare(self, value: Any) -> CleanResult:
        """Everything but spaCy: cheap per-text work, also used on its own by batch scoring."""
        raw, error = _coerce(value)
        if error:
            return CleanResult(text="", error=error)
        truncated = len(raw) > self.max_chars
        text = self.normalize(raw[: self.max_chars])
        if not text:
            return CleanResult(text="", error=EMPTY, truncated=truncated)
        masked = self.mask(text)
        guess = self.identify(masked.text)
        return CleanResult(
            text=masked.text,
            lang=guess.lang,
            lang_confidence=guess.confidence,
            pii=dict(masked.counts),
            truncated=truncated,
        )

    def mask_raw(self, value: Any) -> Any:
        """A rejected cell made safe to store: undecodable bytes escaped, PII masked all the same."""
        if isinstance(value, str | bytes):
            return self.mask(printable(value)).text
        return text_value(value)  # a number or a list refused as not_text is stored as its text

    def __call__(self, value: Any, lemmas: bool = False) -> CleanResult:
        return self.batch([value], lemmas=lemmas)[0]

    def batch(self, values: Iterable[Any], lemmas: bool = False) -> list[CleanResult]:
        results = [self.prepare(v) for v in values]
        self.annotate(results, lemmas)
        return results

    def annotate(self, results: Sequence[CleanResult], lemmas: bool = False) -> None:
        """spaCy's part alone (sentences, lemmas) on results already normalised, masked and identified,
        each in its `lang`: a comment's sentences are lemmatised this way, in their comment's language,
        because cleaning them again would turn a sentence that is only `<PHONE>` into nothing."""
        by_lang: dict[str, list[CleanResult]] = defaultdict(list)
        for res in results:
            if res.ok:
                by_lang[res.lang].append(res)
        for lang, group in by_lang.items():
            self._annotate(lang, group, lemmas)

    def _annotate(self, lang: str, results: Sequence[CleanResult], lemmas: bool) -> None:
        nlp = get_nlp(lang, lemmas)
        try:
            docs = list(nlp.pipe((r.text for r in results), batch_size=self.batch_size))
        except Exception:  # one pathological text must not lose the others: retry one by one
            docs = []
            for r in results:
                try:
                    docs.append(nlp(r.text))
                except Exception as exc:
                    r.error = f"{PROCESSING_FAILED}: {type(exc).__name__}"
                    docs.append(None)
        for res, doc in zip(results, docs, strict=True):
            if doc is None:
                continue
            res.sentences = [s.text for s in doc.sents]
            if lemmas:
                res.lemmas = [t.lemma_.lower() or t.lower_ for t in doc if not t.is_space and not t.is_punct]
