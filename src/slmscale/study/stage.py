"""Data stages of a study, run through their Python APIs: `python -m slmscale.study.stage NAME
CONFIG.json` runs any one of them in its own process (crash isolation; the study's executor starts
it, locally or as a submitit job).

CONFIG.json holds the stage's parameters: `config`, the stage's own config model dumped (validated
again here by that model), and the paths the study fills in (`out`, `manifest`, ...). Every stage
API keeps its own cache (meta.json fingerprints), so re-running a finished stage is cheap.
Stages: corpus, phonenet, pretrain, units-fit, units-encode (whole, or -part jobs + -merge), unigram,
text, interleave-tokenizer, interleave,
bench. Exit codes: 0 done, 2 bad input (one `error:` line), 1 a bug.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from slmscale.errors import UserError, run_explained


def _corpus(p: dict[str, Any]) -> None:
    from slmscale.audio.corpus import CorpusConfig, build_corpus
    from slmscale.config import validate

    build_corpus(validate(CorpusConfig, p["config"], "data.corpus.synth"), p["out"])


def _phonenet(p: dict[str, Any]) -> None:
    from slmscale.units.phonenet import train_phonenet

    train_phonenet(p["manifest"], p["out"])


def _pretrain(p: dict[str, Any]) -> None:
    from slmscale.config import validate
    from slmscale.units.pretrain import pretrain_encoder
    from slmscale.units.pretrain_config import PretrainConfig

    pretrain_encoder(validate(PretrainConfig, {**p["config"], "manifest": p["manifest"]}, "data.units.pretrain"),
                     p["out"])


def _units_fit(p: dict[str, Any]) -> None:
    from slmscale.config import validate
    from slmscale.units.fit import FitConfig, fit_tokenizer, make_fit_config

    cfg = validate(FitConfig, {**p["config"], "manifest": p["manifest"]}, "data.units.fit")
    made = make_fit_config(cfg.manifest, cfg.encoder, cfg.k, max_frames=cfg.max_frames, seed=cfg.seed,
                           import_path=cfg.import_kmeans, max_iter=cfg.max_iter)
    # The study's settings, with what make_fit_config resolves (paths, checkpoint and file hashes):
    # every other option in the spec reaches the tokenizer as written.
    resolved = ("manifest", "encoder", "import_kmeans", "import_sha256")
    fit_tokenizer(cfg.model_copy(update={f: getattr(made, f) for f in resolved}), p["out"])


def _units_encode(p: dict[str, Any]) -> None:
    from slmscale.units.encode import encode_manifest

    c = p["config"]
    encode_manifest(p["tokenizer"], p["manifest"], p["out"], valid_fraction=c["valid_fraction"],
                    valid_voices=c["valid_voices"], seed=c["seed"])


def _units_encode_part(p: dict[str, Any]) -> None:
    from slmscale.units.encode_parts import encode_part

    c = p["config"]
    encode_part(p["tokenizer"], p["manifest"], p["out"], int(p["num_shards"]), int(p["shard_index"]),
                valid_fraction=c["valid_fraction"], valid_voices=c["valid_voices"], seed=c["seed"])


def _units_encode_merge(p: dict[str, Any]) -> None:
    from slmscale.units.encode_parts import merge_parts

    merge_parts(p["out"], num_shards=int(p["num_shards"]))


def _unigram(p: dict[str, Any]) -> None:
    from slmscale.units.unigram import build_unigram

    c = p["config"]
    build_unigram(p["shards"], c["vocab_size"], p["out"], seed=c["seed"], max_train_units=c["max_train_units"])


def _text(p: dict[str, Any]) -> None:
    from slmscale.study.text_data import build_text_shards

    c = p["config"]
    build_text_shards(p["manifest"], p["out"], c["vocab_size"], c["stories"], c["seed"])


def _interleave_tokenizer(p: dict[str, Any]) -> None:
    from slmscale.text.interleaved_vocab import extend_tokenizer

    extend_tokenizer(p["tokenizer"], p["out"], int(p["k"]))


def _interleave(p: dict[str, Any]) -> None:
    from slmscale.config import validate
    from slmscale.data.interleave import InterleaveConfig, build_interleaved_shards

    cfg = validate(InterleaveConfig, p["config"], "data.interleave")
    build_interleaved_shards(p["manifest"], p["units"], p["tokenizer"], p["out"], cfg)


def _bench(p: dict[str, Any]) -> None:
    from slmscale.config import validate
    from slmscale.eval.synth_bench import BenchConfig, build_bench

    build_bench(validate(BenchConfig, p["config"], "data.bench.synth"), p["out"])


STAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "corpus": _corpus, "phonenet": _phonenet, "pretrain": _pretrain, "units-fit": _units_fit,
    "units-encode": _units_encode,
    "units-encode-part": _units_encode_part, "units-encode-merge": _units_encode_merge,
    "unigram": _unigram, "text": _text, "interleave-tokenizer": _interleave_tokenizer,
    "interleave": _interleave, "bench": _bench,
}


def run_stage(name: str, params: dict[str, Any]) -> None:
    if name not in STAGES:
        raise UserError(f"unknown stage {name!r}; choose one of {', '.join(STAGES)}")
    STAGES[name](params)


@dataclass
class StageJob:
    """What an executor runs for one data stage (picklable, for submitit): the stage in a subprocess,
    its output appended to the study's stage log."""
    name: str
    config: str  # CONFIG.json path
    log: str
    threads: int | None = None

    def __call__(self) -> str:
        from slmscale.study.runners import run_logged, tail_error

        rc = run_logged([sys.executable, "-m", "slmscale.study.stage", self.name, self.config], Path(self.log),
                        self.threads)
        return "finished" if rc == 0 else f"failed: {tail_error(Path(self.log)) or f'exit {rc}'}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m slmscale.study.stage NAME CONFIG.json", file=sys.stderr)
        return 2

    def body() -> int:
        if argv[0] not in STAGES:
            raise UserError(f"unknown stage {argv[0]!r}; choose one of {', '.join(STAGES)}")
        path = Path(argv[1])
        if not path.is_file():
            raise UserError(f"{path}: stage config not found")
        run_stage(argv[0], json.loads(path.read_text()))
        return 0

    return run_explained(body)  # the CLI's one-line errors (full disk, damaged files, ...) here too


if __name__ == "__main__":
    sys.exit(main())
