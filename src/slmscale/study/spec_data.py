"""The data section of a study spec: each stage's own config model (defined once, by the stage),
less the inputs the study fills in, composed into `DataSpec` (see slmscale.study.spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, create_model, model_validator

from slmscale.audio.corpus import CorpusConfig
from slmscale.config import StrictModel
from slmscale.data.interleave import InterleaveConfig
from slmscale.errors import UserError
from slmscale.eval.synth_bench import BenchConfig
from slmscale.units.encode import EncodeConfig
from slmscale.units.fit import FitConfig
from slmscale.units.pretrain_config import PretrainConfig
from slmscale.units.unigram import UnigramConfig

PHONENET_PLACEHOLDER = "<study>/data/phonenet"  # replaced by the study when it trains one
HUBERT_PLACEHOLDER = "<study>/data/hubert"  # replaced by the study when it pretrains one


def stage_view(model: type[StrictModel], name: str, filled: tuple[str, ...]) -> type[StrictModel]:
    """A stage's config model less the fields the study fills in (its inputs): the same field
    definitions, so a stage setting is declared once, by the stage."""
    fields = {k: (f.annotation, f) for k, f in model.model_fields.items() if k not in filled}
    return create_model(name, __base__=StrictModel, __doc__=f"{model.__name__} without {', '.join(filled)}",
                        **fields)


UnitsFit = stage_view(FitConfig, "UnitsFit", ("manifest", "import_kmeans", "import_sha256"))
UnitsEncode = stage_view(EncodeConfig, "UnitsEncode", ("manifest", "tokenizer", "tokenizer_fingerprint", "dedup"))
UnitsPretrain = stage_view(PretrainConfig, "UnitsPretrain", ("manifest",))
UnigramFit = stage_view(UnigramConfig, "UnigramFit", ("shards", "shards_fingerprint"))


class CorpusSpec(StrictModel):
    """Exactly one of: `path` (a corpus dir holding manifest.jsonl, or a manifest file), `synth`."""
    path: Path | None = None
    synth: CorpusConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "CorpusSpec":
        if (self.path is None) == (self.synth is None):
            raise ValueError("give exactly one of path (existing corpus/manifest) or synth")
        return self


class UnitsSpec(StrictModel):
    """Speech tokenizer and unit shards: existing unit `shards`, or a tokenizer (`path`, or `fit`
    settings to fit one on the corpus) that encodes the corpus with the `encode` settings."""
    path: Path | None = None
    shards: Path | None = None  # existing unit shards: skip encoding
    fit: UnitsFit | None = None  # type: ignore[valid-type]
    encode: UnitsEncode = Field(default_factory=UnitsEncode)  # type: ignore[valid-type]
    # The phone encoder without a checkpoint: train the phone classifier on the study's corpus first
    # (as `slmscale units fit --encoder phone` does); set for you. A labelled topline, not textless.
    phonenet: bool = False
    # The hubert encoder without a checkpoint: pretrain a HuBERT-style encoder on the study's corpus
    # first, self-supervised (`slmscale units pretrain`), with these settings (textless units).
    pretrain: UnitsPretrain | None = None  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _encoder_shorthand(cls, data: Any) -> Any:
        fit = data.get("fit") if isinstance(data, dict) else None
        if not isinstance(fit, dict):
            return data
        enc = fit.get("encoder")
        enc = {"name": enc} if isinstance(enc, str) else dict(enc or {})
        if enc.get("name") == "phone" and not enc.get("checkpoint"):
            enc["checkpoint"] = PHONENET_PLACEHOLDER
            data = {**data, "phonenet": True}
        if enc.get("name") == "hubert" and not enc.get("checkpoint"):
            enc["checkpoint"] = HUBERT_PLACEHOLDER
            data = {**data, "pretrain": data.get("pretrain") or {}}
        return {**data, "fit": {**fit, "encoder": enc}}

    @model_validator(mode="after")
    def _pretrain_feeds_hubert(self) -> "UnitsSpec":
        if self.pretrain is not None and (self.fit is None or self.fit.encoder.checkpoint != HUBERT_PLACEHOLDER):
            raise ValueError("pretrain: set only with fit.encoder hubert and no checkpoint (the study "
                             "pretrains the encoder on its corpus and fits units on its layer)")
        return self


class UnigramSpec(StrictModel):
    path: Path | None = None  # existing unigram shards
    fit: UnigramFit | None = None  # type: ignore[valid-type]


class TextSpec(StrictModel):
    """Text-arm data: byte-level BPE trained on the corpus transcripts (see study/text_data.py)."""
    shards: Path | None = None  # existing text shards
    vocab_size: int = Field(default=1000, ge=260)
    stories: int = Field(default=0, ge=0)  # extra text-only generated stories for the train split
    seed: int = 0


class BenchSpec(StrictModel):
    """Benchmarks: a root with one folder per task (`path`), or synthesise them (`synth`; the tasks
    come from the arms)."""
    path: Path | None = None
    synth: BenchConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "BenchSpec":
        if (self.path is None) == (self.synth is None):
            raise ValueError("give exactly one of path (existing benchmark root) or synth")
        if self.synth is not None and "tasks" in self.synth.model_fields_set:
            raise ValueError("synth.tasks: set by the arms' tasks; remove it")
        if self.synth is not None and self.synth.voices:
            from slmscale.audio.voices import get_voice

            for v in self.synth.voices:
                try:
                    get_voice(v)
                except UserError as err:
                    raise ValueError(str(err)) from None
        return self


class DataSpec(StrictModel):
    corpus: CorpusSpec | None = None
    # Further spoken corpora, by name, for units arms that name one (`arms[].corpus`), e.g. the
    # no-story control: encoded with the same speech tokenizer, which is fit on `corpus` only.
    corpora: dict[str, CorpusSpec] = Field(default_factory=dict)
    units: UnitsSpec = Field(default_factory=UnitsSpec)
    unigram: UnigramSpec = Field(default_factory=UnigramSpec)
    text: TextSpec = Field(default_factory=TextSpec)
    # Interleaved shards (SIMS mix), built once per study for every interleaved arm without `shards`.
    interleave: InterleaveConfig = Field(default_factory=InterleaveConfig)
    bench: BenchSpec | None = None
