import json

import pytest

from slmscale.errors import UserError
from slmscale.units.encode_parts import part_dir
from slmscale.units.encoders import EncoderConfig
from slmscale.units.fit import fit_tokenizer, make_fit_config
from slmscale.units.fit_parts import fit_part, merge_fit


def _cfg(corpus, **kw):
    return make_fit_config(corpus, EncoderConfig(name="mfcc", frame_rate=50), k=16, max_frames=900, seed=2, **kw)


def test_sharded_features_give_the_single_process_tokenizer(corpus, tmp_path):
    cfg = _cfg(corpus)
    single = fit_tokenizer(cfg, tmp_path / "one", workers=1)
    for i in (2, 0, 1):
        fit_part(cfg, tmp_path / "many", 3, i, workers=1)
    merged = merge_fit(cfg, tmp_path / "many", 3)
    for name in ("centroids.safetensors", "config.json"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    for meta in (single, merged):
        meta.pop("created")
    assert merged == single


def test_merge_refuses_missing_or_foreign_parts(corpus, tmp_path):
    cfg = _cfg(corpus)
    fit_part(cfg, tmp_path / "t", 2, 0, workers=1)
    with pytest.raises(UserError, match="00001-of-00002: not a finished fit part"):
        merge_fit(cfg, tmp_path / "t", 2)
    other = cfg.model_copy(update={"seed": 3})
    fit_part(other, tmp_path / "t", 2, 1, workers=1)
    with pytest.raises(UserError, match="another manifest, audio or fit options"):
        merge_fit(cfg, tmp_path / "t", 2)
    assert not (tmp_path / "t" / "meta.json").exists()
    record = json.loads((part_dir(tmp_path / "t", 0, 2) / "part.json").read_text())
    assert record["items"][0] == 0 and record["num_shards"] == 2
