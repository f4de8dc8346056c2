"""The built-in demo: study specs that need no data, no checkpoints and no network.

Each preset synthesises a spoken corpus (espeak-ng), fits textless units (a HuBERT-style encoder
pretrained self-supervised on that corpus + k-means, see docs/units.md; MFCC + k-means for `ci`),
builds unit shards
and text shards (transcripts + extra generated stories), synthesises the benchmarks, trains a
textless-SLM arm and a text-LM arm over a small model ladder at tokens-per-parameter budgets, and
an interleaved arm (SIMS): the text arm's models of the largest sizes, extended with the units and
trained on interleaved speech-text data at the textless arm's budgets (equal training compute);
then evaluates, fits and writes the report.

  ci     ~2 min on 2 cores: 3 sizes (13k-53k params) x 2 budgets for the speech and text arms,
         2 sizes x 1 budget interleaved; exercises every stage.
  tiny   the default, budget 15 min on 2 cores: 4 h of speech, 3 sizes (53k-222k) x 3 budgets
         (D/N = 2, 4, 8), 40 items per task; interleaved: the 2 largest sizes at D/N = 8.
  small  tests every finding of the papers (<= 60 min, docs/study.md): 4 sizes 13k-222k x
         D/N = 2, 5, 10, 20, single-epoch only; speech, text, unigram, no-story and interleaved
         (3 sizes x D/N 2, 5) arms.
The presets are also written out as YAML in configs/demo/ (kept equal to these by a test).
"""

from __future__ import annotations

from typing import Any

from slmscale.errors import UserError

PRESETS = ("ci", "tiny", "small")


def _base(name: str, hours: float, k: int, text_stories: int, tasks: list[str],
          bench_n: int | None, encoder: str = "hubert") -> dict[str, Any]:
    return {
        "name": f"demo-{name}",
        "seed": 0,
        "data": {
            "corpus": {"synth": {"hours": hours, "seed": 0}},
            "units": _units(encoder, k),
            "unigram": {"fit": {"vocab_size": 4 * k}},
            "text": {"vocab_size": 512, "stories": text_stories, "seed": 0},
            "bench": {"synth": {"seed": 0, **({"n": bench_n} if bench_n else {})}},
        },
        "arms": [
            {"name": "speech", "kind": "units", "tasks": list(tasks)},
            {"name": "text", "kind": "text", "tasks": list(tasks)},
        ],
        "train": {"train": {"seq_len": 128, "batch_tokens": 2048, "lr": 0.003},
                  "eval": {"max_tokens": 16384}},
        "fits": {"loss": True, "huber_delta": 0.03, "bootstrap": 200, "downstream": True},
        "execution": {"executor": "local", "jobs": 2, "threads_per_run": 1},
    }


# Textless units for the speech arm: a small HuBERT-style encoder pretrained on the demo's own corpus
# (self-supervised, one iteration of masked prediction of MFCC clusters; docs/units.md), k-means on
# its layer 2. No transcript or phone label enters; the phone classifier stays a labelled topline.
SSL_PRETRAIN = {"preset": "cpu-tiny", "iterations": 1, "steps": [300], "batch": 8, "k": [100],
                "max_hours": 0.5, "perturb": None}


def _units(encoder: str, k: int) -> dict[str, Any]:
    if encoder == "hubert":
        return {"fit": {"encoder": {"name": "hubert", "layer": 2}, "k": k}, "pretrain": dict(SSL_PRETRAIN)}
    return {"fit": {"encoder": encoder, "k": k}}


def _interleaved_arm(tasks: list[str], sizes: list[str], budgets: list[float], cross: list[str]) -> dict[str, Any]:
    """Speech tasks (scored on speech tokens only), cross-modal StoryCloze and the text versions."""
    return {"name": "interleaved", "kind": "interleaved", "init_arm": "text",
            "tasks": [*tasks, *cross, *(f"{t}_text" for t in tasks)],
            "grid": {"sizes": list(sizes), "tokens_per_param": list(budgets)}}


# `small`: every finding of issue #16 has an arm that can test it (docs/study.md, "The small preset").
SMALL_HOURS = 12.0  # per corpus (story and no-story): ~1.5M unique speech units each (~129k units/h)
SMALL_SIZES = ["auto-15k", "cpu-50k", "cpu-100k", "cpu-250k"]  # N = 13k ... 222k (16.5x)
SMALL_BUDGETS = [2, 5, 10, 20]  # D/N; runs past one epoch of their arm's data are dropped (max_epochs)
SMALL_IL_SIZES = ["cpu-50k", "cpu-100k", "cpu-250k"]  # interleaved: 3 sizes x 2 budgets (SIMS 1, 2)
SMALL_IL_BUDGETS = [2, 5]  # single-epoch for their textless partners at every size


def _small() -> dict[str, Any]:
    """Textless (speech), text, unigram, no-story (C&M 5: the same sentences shuffled across stories,
    same voices, units from the same tokenizer) and interleaved-from-text arms over a 16x ladder in N,
    single-epoch (grid.max_epochs 1) so the Chinchilla form fits fresh-data points only."""
    tasks = ["swuggy", "sblimp", "sstorycloze", "tstorycloze"]
    spec = _base("small", hours=SMALL_HOURS, k=100, text_stories=8000, tasks=tasks, bench_n=50)
    spec["data"]["corpora"] = {"no_story": {"synth": {"hours": SMALL_HOURS, "seed": 0, "no_story": True}}}
    spec["arms"].append({"name": "unigram", "kind": "unigram", "tasks": list(tasks)})
    spec["arms"].append({"name": "no_story", "kind": "units", "corpus": "no_story", "tasks": list(tasks)})
    spec["arms"].append(_interleaved_arm(tasks, SMALL_IL_SIZES, SMALL_IL_BUDGETS,
                                         ["sstorycloze_t2s", "sstorycloze_s2t", "tstorycloze_t2s",
                                          "tstorycloze_s2t"]))
    spec["grid"] = {"sizes": list(SMALL_SIZES), "tokens_per_param": list(SMALL_BUDGETS), "max_epochs": 1.0}
    # StoryCloze items are up to ~33 s (~1,300 units); a context that long would multiply the cost of
    # every run, so they are scored over sliding windows of 256 tokens (every token, each with >= 128
    # before it; the default `scoring.truncation: slide`), and the eval counts them (truncated_items).
    spec["train"]["train"]["seq_len"] = 256
    spec["questions"] = {"flops": [1e14, 1e15], "targets": {"sblimp": 0.6, "tsc": 0.7}}
    return spec


def preset_spec(name: str) -> dict[str, Any]:
    """The raw (YAML-shaped) spec of a demo preset."""
    if name == "ci":
        tasks = ["swuggy", "sblimp"]
        # MFCC units: pretraining an encoder alone would take most of this preset's minutes.
        spec = _base("ci", hours=0.1, k=50, text_stories=300, tasks=tasks, bench_n=20, encoder="mfcc")
        # D/N 6: long enough (40+ steps) that whole steps still match the textless runs' full FLOPs.
        spec["arms"].append(_interleaved_arm(tasks, ["auto-25k", "auto-50k"], [6], []))
        spec["grid"] = {"sizes": ["auto-10k", "auto-25k", "auto-50k"], "tokens_per_param": [2, 6]}
        spec["fits"]["bootstrap"] = 50
        spec["questions"] = {"flops": [1e13]}
    elif name == "tiny":
        tasks = ["swuggy", "sblimp", "tstorycloze"]
        # Cut to fit 15 min on 2 cores (SSL pretraining unchanged): 4 h of speech (the units stages
        # encode all of it twice; the single-epoch runs the Chinchilla fit keeps are the same as
        # at 6 h), 40 items per task (built, encoded and scored by every run), D/N up to 8, and
        # 100 bootstrap resamples.
        # Context: seq_len 128. A spoken tStoryCloze story is up to 1,259 units (median 889), as
        # text up to 209 BPE tokens (median 149). No context a 15-minute demo can train holds a
        # whole spoken story (at 1,280, attention costs 2-4x these d = 64-96 models' weight
        # matmuls per token), so longer items are scored as the study's scoring.truncation says
        # (sliding windows of 128 by default, each token with >= 64 before it), counted per task
        # as truncated_items in scores.json.
        spec = _base("tiny", hours=4.0, k=100, text_stories=3000, tasks=tasks, bench_n=40)
        spec["arms"].append(_interleaved_arm(tasks, ["cpu-100k", "cpu-250k"], [8],
                                             ["tstorycloze_t2s", "tstorycloze_s2t"]))
        spec["grid"] = {"sizes": ["cpu-50k", "cpu-100k", "cpu-250k"], "tokens_per_param": [2, 4, 8]}
        spec["fits"]["bootstrap"] = 100
        spec["questions"] = {"flops": [1e14, 1e15], "targets": {"sblimp": 0.6}}
    elif name == "small":
        spec = _small()
    else:
        raise UserError(f"--preset {name!r}: choose one of {', '.join(PRESETS)}")
    return spec


def load_preset(name: str) -> Any:
    from slmscale.config import validate
    from slmscale.study.spec import StudySpec

    return validate(StudySpec, preset_spec(name), f"demo preset {name}")


def run_demo(preset: str = "tiny", out: str = "demo-out", jobs: int | None = None) -> dict[str, Any]:
    """Run a demo preset into `out` (stages and finished runs are reused on a second call)."""
    from pathlib import Path

    from slmscale.study.pipeline import run_study

    spec = load_preset(preset)
    return run_study(spec, Path(out) / preset, jobs=jobs)
