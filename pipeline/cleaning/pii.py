"""PII masking with typed placeholders, applied before anything is stored.

Order matters: e-mails before @mentions (both contain "@"), URLs before e-mails' domains, payment cards
and IBANs (checksummed, so precise) before phone numbers (fuzzy). Phones use Google's libphonenumber
(`phonenumbers`) for the formats of the markets we serve, and a number introduced by an order/ticket
cue ("заказ №", "поръчка", "order #") is left alone: CX analysts need those to follow up, and they are
not personal data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers

PLACEHOLDERS = {
    "email": "<EMAIL>",
    "url": "<URL>",
    "mention": "<MENTION>",
    "card": "<CARD>",
    "iban": "<IBAN>",
    "phone": "<PHONE>",
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
    r"|(?<![@\w.])(?:[a-z0-9-]+\.)+(?:com|net|org|ru|bg|uk|io|info|biz|eu|рф|бг|co\.uk)(?:/[^\s<>\"']*)?(?![\w])",
    re.IGNORECASE,
)
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.]{0,30}[A-Za-z0-9_]|(?<![\w@])@[A-Za-z0-9_]")
_CARD_CANDIDATE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}\b")
IBAN_MIN = 15
_DIGITS = re.compile(r"\d")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


@dataclass
class MaskResult:
    text: str
    counts: Counter[str] = field(default_factory=Counter)


class PiiMasker:
    """Replace personal data with typed placeholders; counts what it masked."""

    def __init__(
        self, phone_regions: Iterable[str], id_cues: Iterable[str], phone_min_digits: int = 7
    ) -> None:
        self.regions = list(phone_regions)
        self.min_digits = phone_min_digits
        cues = sorted((re.escape(c) for c in id_cues), key=len, reverse=True)
        # cue, then up to a few filler characters/words ("заказа номер", "order no.", "№ ") before the number
        self._id_cue = re.compile(
            rf"(?:{'|'.join(cues)})\s*(?:[:#№-]|no\.?|номер|nr\.?)?\s*(?:[:#№-]\s*)?$", re.IGNORECASE
        )

    def __call__(self, text: str) -> MaskResult:
        counts: Counter[str] = Counter()

        def sub(pattern: re.Pattern[str], kind: str, s: str, check=None) -> str:
            def repl(m: re.Match[str]) -> str:
                if check is not None and not check(m.group(0)):
                    return m.group(0)
                counts[kind] += 1
                return PLACEHOLDERS[kind]

            return pattern.sub(repl, s)

        text = sub(_URL, "url", text, check=lambda s: "@" not in s)
        text = sub(_EMAIL, "email", text)
        text = sub(_MENTION, "mention", text)
        text = _IBAN_CANDIDATE.sub(lambda m: self._iban(m.group(0), counts), text)
        text = sub(_CARD_CANDIDATE, "card", text, check=lambda s: luhn_ok(re.sub(r"\D", "", s)))
        if len(_DIGITS.findall(text)) >= self.min_digits:
            text = self._mask_phones(text, counts)
        return MaskResult(text, counts)

    @staticmethod
    def _iban(candidate: str, counts: Counter[str]) -> str:
        """The greedy candidate may run into the next word ("... 3456 78 ASAP"): mask the longest prefix
        that passes the mod-97 check and keep the rest."""
        for end in range(len(candidate), IBAN_MIN - 1, -1):
            prefix = candidate[:end]
            if prefix[-1] != " " and iban_ok(prefix):
                counts["iban"] += 1
                return PLACEHOLDERS["iban"] + candidate[end:]
        return candidate

    def _mask_phones(self, text: str, counts: Counter[str]) -> str:
        spans: list[tuple[int, int]] = []
        for region in self.regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                start, end = match.start, match.end
                international = match.raw_string.lstrip().startswith("+")  # never an order number
                if not international and self._id_cue.search(text[max(0, start - 40) : start]):
                    continue
                if any(s < end and start < e for s, e in spans):
                    continue
                spans.append((start, end))
        for start, end in sorted(spans, reverse=True):
            text = text[:start] + PLACEHOLDERS["phone"] + text[end:]
            counts["phone"] += 1
        return text
