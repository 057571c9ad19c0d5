"""The themes check set (`data/themes/`): hand-written comments about known sub-issues, placed in their
cells as a scorer would place them, themed, and compared with the truth.

Two figures, because the cells alone already separate much: the adjusted Rand index over all comments (the
issue's measure; putting every cell in one theme scores `cell_only_ari`) and the mean index inside the cells
that hold several sub-issues (what the clustering itself adds; one theme per cell scores 0 there). A
sub-issue's name passes in a language when the name of the theme holding most of its comments contains one
of the words written for it beforehand (`sub_issues.yaml`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import adjusted_rand_score

from pipeline.cleaning.cleaner import Cleaner
from pipeline.labels import join_labels
from pipeline.rollup.tables import RollupOptions, prepare
from pipeline.themes.build import THEME_KEYS, ThemeOptions, find_themes, sentence_table
from pipeline.themes.naming import content_lemmas

CHECK_DIR = Path(__file__).resolve().parents[1] / "data" / "themes"


HALVES = {"dev": range(1, 6), "test": range(6, 11)}  # comment numbers 01-05 tune the knobs, 06-10 report


def load_check_set(folder: Path = CHECK_DIR, half: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    rows = [
        json.loads(line) for f in sorted(folder.glob("checkset_*.jsonl")) for line in f.open(encoding="utf-8")
    ]
    frame = pd.DataFrame(rows)
    if half:
        frame = frame[frame["id"].str[-2:].astype(int).isin(HALVES[half])].reset_index(drop=True)
    frame["terms"] = frame["terms"].map(join_labels)
    frame["forces"] = ""
    return frame, yaml.safe_load((folder / "sub_issues.yaml").read_text(encoding="utf-8"))


def run_check(
    embed: Callable[[list[str]], np.ndarray],
    cleaner: Cleaner,
    opts: ThemeOptions,
    rollup: RollupOptions,
    folder: Path = CHECK_DIR,
    half: str | None = None,
) -> dict[str, Any]:
    """Theme the check set (cleaned, in its written cells) and score the themes against the sub-issues;
    `half`: dev or test (the comments numbered 01-05 or 06-10), or all."""
    frame, subs = load_check_set(folder, half)
    frame["text"] = [c.text for c in cleaner.batch(frame["text"].tolist())]
    prepared = prepare(frame, rollup)
    tables = find_themes(prepared, sentence_table(frame), embed, content_lemmas, opts, None)
    assigned = tables["assignments"]
    assigned = assigned[assigned["dimension"] == "terms"].drop_duplicates("id").set_index("id")
    frame["theme"] = ["|".join(map(str, assigned.loc[i, THEME_KEYS[1:]])) for i in frame["id"]]
    frame["cell"] = frame["touchpoint"] + "|" + frame["terms"]
    within = [
        adjusted_rand_score(rows["sub_issue"], rows["theme"])
        for _, rows in frame.groupby("cell")
        if rows["sub_issue"].nunique() > 1
    ]
    themes = tables["themes"]
    themes = (
        themes[themes["dimension"] == "terms"]
        .assign(key=lambda t: t["touchpoint"] + "|" + t["label"] + "|" + t["theme"].astype(str))
        .set_index("key")
    )
    words = {
        (sub, lang): set(listed)
        | {w for lemmas in content_lemmas(listed, [lang] * len(listed)) for w in lemmas}
        for sub, spec in subs.items()
        for lang, listed in spec["words"].items()
    }  # as written and as lemmatised by the naming's own lemmatiser
    names: dict[str, dict[str, Any]] = {}
    for sub, rows in frame.groupby("sub_issue"):
        key = rows["theme"].mode().iat[0]
        by_lang = json.loads(themes.at[key, "names"])
        names[sub] = {
            "theme": themes.at[key, "name"],
            "purity": float((rows["theme"] == key).mean()),
            **{
                lang: any(w in words[sub, lang] for phrase in by_lang.get(lang, []) for w in phrase.split())
                for lang in subs[sub]["words"]
            },
            "names": by_lang,
        }
    return {
        "comments": len(frame),
        "sub_issues": frame["sub_issue"].nunique(),
        "themes": int(frame["theme"].nunique()),
        "ari": float(adjusted_rand_score(frame["sub_issue"], frame["theme"])),
        "cell_only_ari": float(adjusted_rand_score(frame["sub_issue"], frame["cell"])),
        "within_cell_ari": float(np.mean(within)),
        "names": names,
    }
