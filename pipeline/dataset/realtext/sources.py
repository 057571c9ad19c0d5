"""The public real-text sets in `../shared/external/`, described once: file, language, channel and how
their own labels read. Texts are always read in place at run time; the repository stores ids only.

A source missing on a user's machine is skipped with a message, never an error: the corpus still trains.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# per-post noise that makes copies of one tweet look different (links, handles, hashtags, RT)
_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+\.(?:com|ru|bg|ly|co)/\S*|[@#]\w+|\bRT\b", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    name: str
    file: str
    lang: str
    industry: str
    channel: str
    origin: str  # where a user elsewhere can fetch it (see data/real/README.md)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "airline_tweets_en",
            "airline_tweets_en.csv",
            "en",
            "airline",
            "social",
            "Twitter US Airline Sentiment (CrowdFlower 2015)",
        ),
        Source(
            "semeval_absa_en",
            "semeval_absa_en.csv",
            "en",
            "restaurant",
            "review_site",
            "SemEval-2016 Task 5 / SemEval-2015 Task 12 ABSA",
        ),
        Source(
            "sentirueval_bank_ru",
            "sentirueval2016_bank_train_ru.csv",
            "ru",
            "banking",
            "social",
            "SentiRuEval-2016 banks, train",
        ),
        Source(
            "sentirueval_ttk_ru",
            "sentirueval2016_ttk_train_ru.csv",
            "ru",
            "telecom",
            "social",
            "SentiRuEval-2016 telecom, train",
        ),
        Source(
            "sentirueval_restaurants_ru",
            "sentirueval2015_restaurants_ru.csv",
            "ru",
            "restaurant",
            "review_site",
            "SentiRuEval-2015 restaurants",
        ),
        Source(
            "cinexio_bg",
            "cinexio_train_bg.csv",
            "bg",
            "cinema",
            "review_site",
            "Cinexio cinema reviews (Kapukaranov & Nakov 2015), bgGLUE",
        ),
    )
}


def read_source(
    source: Source, external_dir: str | Path, log: Callable[[str], None] | None = None
) -> pd.DataFrame | None:
    """The source's rows with ids as text, one row per id, or None when its file is not on this machine.

    Some files list a post twice under one id (the airline set: 107 ids); an id whose copies disagree on
    the set's own sentiment is dropped, since no label can be trusted for it.
    """
    path = Path(external_dir) / source.file
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "sentiment" in frame:
        conflicting = frame.groupby("id")["sentiment"].transform("nunique") > 1
        if conflicting.any() and log:
            log(
                f"{source.file}: {frame.loc[conflicting, 'id'].nunique()} ids with conflicting labels dropped"
            )
        frame = frame[~conflicting]
    frame = frame.drop_duplicates("id").reset_index(drop=True)
    frame["source"] = source.name
    frame["lang"] = source.lang
    return frame


def grouping_text(text: str) -> str:
    """The text near-duplicate grouping compares: links, handles, hashtags and RT removed, so that a
    reposted tweet with a new short link is recognised as the same text (the model never sees those
    tokens either: the cleaner masks them)."""
    return " ".join(_NOISE.sub(" ", text).lower().split())
