"""A tiny random BERT and a tokenizer trained in the test from a few hundred sentences: fast model tests."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from pipeline.labels import FORCES, SENTIMENTS, TERMS
from pipeline.settings import Params, with_changes

DATA = Path(__file__).parent / "data" / "langid_comments.tsv"


def sentences() -> list[tuple[str, str]]:
    with open(DATA, encoding="utf-8") as fh:
        return [(r["lang"], r["text"]) for r in csv.DictReader(fh, delimiter="\t")]


def build_tiny_encoder(out_dir: Path) -> Path:
    texts = [t for _, t in sentences()] * 5
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        texts,
        trainers.WordPieceTrainer(
            vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        ),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    return save_tiny_bert(out_dir, fast, pad_token_id=0)


def save_tiny_bert(out_dir: Path, tokenizer, pad_token_id: int, hidden: int = 32, layers: int = 2) -> Path:
    """A random BertModel sized to `tokenizer`, saved with it as one Hugging Face folder."""
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        pad_token_id=pad_token_id,
    )
    torch.manual_seed(0)  # the same random network in every run: a test never depends on the draw
    BertModel(config, add_pooling_layer=False).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def tiny_frames(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Labelled frames whose labels follow simple cues, so that a few steps already learn something."""
    rng = random.Random(seed)
    rows = []
    for i, (lang, text) in enumerate(sentences() * 3):
        low = text.lower()
        sentiment = (
            "positive"
            if any(
                w in low
                for w in ("спасибо", "благодаря", "thanks", "happy", "доволна", "довольна", "handy", "удобно")
            )
            else "negative"
        )
        terms = [TERMS[(i + k) % len(TERMS)] for k in range(rng.choice([0, 1, 2]))]
        forces = [FORCES[(i + k) % len(FORCES)] for k in range(rng.choice([0, 1]))]
        rows.append(
            {
                "id": f"t{i}",
                "lang": lang,
                "text": text,
                "text_raw": text,
                "lemmas": low,
                "sentiment": sentiment if i % 7 else SENTIMENTS[1],
                "terms": terms,
                "forces": forces,
            }
        )
    frame = pd.DataFrame(rows).sample(frac=1, random_state=seed).reset_index(drop=True)
    frame["origin"], frame["source"] = "corpus", "corpus"
    n = len(frame)
    test = frame.iloc[int(n * 0.8) :].reset_index(drop=True)
    # a third of the test rows stand in for our labelled real text, a third for a public set's held-out part
    third = len(test) // 3
    test.loc[:third, ["origin", "source"]] = ["real", "airline_tweets_en"]
    test.loc[third : 2 * third, ["origin", "source", "terms", "forces"]] = [
        "public",
        "cinexio_bg",
        None,
        None,
    ]
    return {
        "train": frame.iloc[: int(n * 0.6)].reset_index(drop=True),
        "dev": frame.iloc[int(n * 0.6) : int(n * 0.8)].reset_index(drop=True),
        "test": test,
    }


def tiny_params(params: Params, encoder: Path, tmp: Path) -> Params:
    return with_changes(
        params,
        {
            "model.encoder": str(encoder),
            "model.max_length": 32,
            "model.prefix": "query: ",
            "train.out_dir": str(tmp / "bundle"),
            "train.epochs": 2,
            "train.batch_size": 16,
            "train.eval_batch_size": 32,
            "train.head_lr": 5e-3,
            "train.lr": 1e-3,
            "train.vocab_keep_top": 0,
            "baseline.out_dir": str(tmp / "baseline"),
            "baseline.min_df": 1,
            "evaluation.metrics": str(tmp / "metrics.json"),
            "evaluation.plots_dir": str(tmp / "plots"),
        }
        | tmp_store(tmp),
    )


def tmp_store(tmp: Path) -> dict[str, str]:
    """An MLflow store under `tmp`, as params changes: tests never write into the repository's store."""
    return {"tracking.uri": f"sqlite:///{tmp / 'mlflow.db'}", "tracking.artifacts": str(tmp / "mlartifacts")}


def logged_params(tmp: Path, stage: str) -> dict[str, str]:
    """The params of the latest run of `stage` in the store `tmp_store(tmp)` made."""
    from mlflow.tracking import MlflowClient

    store = MlflowClient(tracking_uri=tmp_store(tmp)["tracking.uri"])
    experiments = [e.experiment_id for e in store.search_experiments()]
    runs = store.search_runs(experiments, f"tags.stage = '{stage}'", order_by=["start_time DESC"])
    return runs[0].data.params


def write_params(params: Params, path: Path, changes: dict[str, Any] | None = None) -> Path:
    """A params.yaml for a `cx` command under test (point $CX_PARAMS at it)."""
    changed = with_changes(params, changes or {})
    path.write_text(yaml.safe_dump(changed.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
    return path


def build_tiny_bundle(out_dir: Path, params: Params) -> Path:
    """An untrained (random-weight) bundle: enough to exercise batch scoring mechanics in seconds."""
    import torch

    from pipeline.bundle import ENCODER_DIR, BundleMeta, ModelKind, save_cleaning_params
    from pipeline.model import MultiTaskModel

    encoder = build_tiny_encoder(out_dir.parent / f"{out_dir.name}-encoder")
    torch.manual_seed(0)
    model = MultiTaskModel.from_encoder(str(encoder), dropout=0.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(encoder).save_pretrained(out_dir / ENCODER_DIR)
    BundleMeta(
        kind=ModelKind.TRANSFORMER,
        prefix="query: ",
        max_length=32,
        info={"registered_name": "tiny", "registered_version": "0"},
    ).save(out_dir)
    save_cleaning_params(out_dir, params.cleaning, params.langid)
    return out_dir
