"""Surface normalisation applied before PII masking and tokenisation.

Customers paste HTML from e-mail clients, stretch words ("оооочень", "sooo") and hammer punctuation.
We tame these so the same complaint looks the same to the models, while keeping the signal: emphasis
survives as a doubled letter or three marks, and emoji stay as separate tokens because they carry
sentiment.
"""

from __future__ import annotations

import html
import re
import unicodedata

_NUMERO = "\u2116"
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_BREAK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li)\s*/?>", re.IGNORECASE)
# zero-width and bidi marks render as nothing but split words for the tokenizer
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
# Pictographs, dingbats, symbols and flags; a modifier/ZWJ sequence counts as one emoji.
EMOJI = re.compile(
    "(?:[\U0001f1e6-\U0001f1ff]{2}"
    "|[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2764](?:[\ufe0f\U0001f3fb-\U0001f3ff]"
    "|\u200d[\U0001f300-\U0001faff\u2600-\u27bf\u2764]\ufe0f?)*)"
)


def _repeat_re(char_class: str, limit: int) -> re.Pattern[str]:
    return re.compile(rf"({char_class})\1{{{limit},}}")


class Normalizer:
    """Callable normaliser; compiled once with the limits from params."""

    def __init__(self, max_repeat_letters: int = 2, max_repeat_punct: int = 3) -> None:
        self.max_letters = max_repeat_letters
        self.max_punct = max_repeat_punct
        self._letters = _repeat_re(r"[^\W\d_]", max_repeat_letters)
        self._punct = _repeat_re(r"[!?.,;:)(*\-=~]", max_repeat_punct)

    def __call__(self, text: str) -> str:
        text = html.unescape(html.unescape(text))  # "&amp;quot;" arrives double-escaped from some CRMs
        text = _BREAK_TAG.sub("\n", text)
        text = _TAG.sub(" ", text)
        # NFKC, except that "№" must not become "No" (ru/bg order and ticket numbers use it)
        text = _NUMERO.join(unicodedata.normalize("NFKC", part) for part in text.split(_NUMERO))
        text = _INVISIBLE.sub("", text)
        text = _CONTROL.sub(" ", text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = self._letters.sub(lambda m: m.group(1) * self.max_letters, text)
        text = self._punct.sub(lambda m: m.group(1) * self.max_punct, text)
        text = EMOJI.sub(lambda m: f" {m.group(0)} ", text)
        text = _SPACES.sub(" ", text)
        text = _NEWLINES.sub("\n", text)
        return text.strip()
