"""Real-text noise for written comments: mentions, links, hashtags, emoji, case, typos, lost punctuation.

The corpus was written clean; customers write `@bank 3 hours on hold!!! #fail http://…` in lower case
with typos. A seeded share of the training rows gets a random mix of these edits so that the labels stop
depending on tidy writing (the behavioural suite checks the same invariances). Edits never touch the
words that carry the meaning beyond a single-letter typo, so the labels stay valid.
"""

from __future__ import annotations

import random
import re

import pandas as pd

MENTIONS = ("@support", "@help_team", "@bank_help", "@Shop24", "@airline_care", "@mts_help", "@telco_bg")
HASHTAGS = ("#fail", "#service", "#cx", "#отзыв", "#клиент", "#ревю", "#help")
EMOJI = ("😡", "🙄", "😊", "👍", "👎", "🙏", "😤", "❤️", "😂")
URLS = ("http://t.co/a1B2c3", "https://example.com/ticket/123", "bit.ly/3xYz")
_WORD = re.compile(r"\w{4,}")


def typo(text: str, rng: random.Random) -> str:
    """Swap, drop or double one letter inside one longer word."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    m = rng.choice(words)
    w = m.group()
    i = rng.randrange(1, len(w) - 1)
    kind = rng.random()
    if kind < 0.4:
        new = w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :]
    elif kind < 0.7:
        new = w[:i] + w[i + 1 :]
    else:
        new = w[:i] + w[i] + w[i:]
    return text[: m.start()] + new + text[m.end() :]


def perturb(text: str, rng: random.Random) -> str:
    edits = [
        lambda t: f"{rng.choice(MENTIONS)} {t}",
        lambda t: f"{t} {rng.choice(URLS)}",
        lambda t: f"{t} {rng.choice(HASHTAGS)}",
        lambda t: f"{t} {rng.choice(EMOJI)}",
        lambda t: t.lower(),
        lambda t: t.rstrip(".!?… "),
        lambda t: re.sub(r"[,.;:]", "", t),
        lambda t: typo(t, rng),
        lambda t: typo(typo(t, rng), rng),
    ]
    for edit in rng.sample(edits, k=rng.randint(1, 3)):
        text = edit(text)
    return text.strip() or text


def augment(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A copy with `share` of the rows' texts perturbed (the same rows and edits for the same seed)."""
    rng = random.Random(seed)
    frame = frame.copy()
    chosen = [i for i in range(len(frame)) if rng.random() < share]
    column = frame.columns.get_loc("text")
    for i in chosen:
        frame.iat[i, column] = perturb(str(frame.iat[i, column]), rng)
    return frame
