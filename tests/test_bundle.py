"""The bundle is the contract: its label order is read back, its format version checked."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from pipeline.bundle import HEADS_FILE, META_FILE, BundleError, BundleMeta
from pipeline.inference import Tagger
from tests.tiny import build_tiny_bundle

TEXTS = ["Курьер опоздал на два часа, а цена выросла.", "Great staff, thank you!", "Цената е висока."]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, params):
    out = build_tiny_bundle(tmp_path_factory.mktemp("bundle") / "bundle", params)
    meta = BundleMeta.load(out)
    meta.thresholds = {"terms": [0.3, 0.4, 0.5, 0.6, 0.7], "forces": [0.45, 0.5, 0.55, 0.5, 0.5, 0.6]}
    meta.save(out)
    return out


def test_a_bundle_written_in_another_label_order_tags_the_same(bundle, tmp_path):
    """Reorder the terms head's outputs and its stored labels and thresholds the same way: the tags must
    not change (decoding follows the bundle, not module constants)."""
    perm = [3, 0, 4, 1, 2]
    other = tmp_path / "reordered"
    shutil.copytree(bundle, other)
    heads = load_file(str(other / HEADS_FILE))
    for key in ("terms.weight", "terms.bias"):
        heads[key] = heads[key][torch.tensor(perm)].contiguous()
    save_file(heads, str(other / HEADS_FILE))
    meta = json.loads((other / META_FILE).read_text())
    meta["labels"]["terms"] = [meta["labels"]["terms"][i] for i in perm]
    meta["thresholds"]["terms"] = [meta["thresholds"]["terms"][i] for i in perm]
    (other / META_FILE).write_text(json.dumps(meta))
    first, second = Tagger(bundle).tag(TEXTS), Tagger(other).tag(TEXTS)
    assert first["terms"].tolist() == second["terms"].tolist()
    columns = [c for c in first.columns if c.startswith("p_terms_")]
    pd.testing.assert_frame_equal(first[columns].astype(float), second[columns].astype(float), atol=1e-5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 2}, "bundle format 2"),
        ({"kind": "svm"}, "unknown model kind"),
        ({"labels": {"sentiment": ["neg", "neu", "pos"]}}, "labels of head 'sentiment'"),
    ],
)
def test_an_unreadable_bundle_is_refused_with_the_reason(bundle, tmp_path, change, message):
    other = tmp_path / "other"
    shutil.copytree(bundle, other)
    meta = json.loads((other / META_FILE).read_text()) | change
    (other / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=message):
        Tagger(other)


def test_bundles_from_before_format_versions_still_load(bundle, tmp_path):
    other = tmp_path / "old"
    shutil.copytree(bundle, other)
    meta = json.loads((other / META_FILE).read_text())
    del meta["format_version"]
    (other / META_FILE).write_text(json.dumps(meta))
    assert BundleMeta.load(other).format_version == 1
