"""Interleaved speech-text training data (SIMS): sequences that alternate text spans and speech
spans, plus text-only and speech-only streams, mixed by token ratio and written as shards.

Per utterance (a manifest entry with word alignments, joined with its deduplicated units):
  * speech spans: lengths drawn from max(1, Poisson(span_lambda)) words until
    round(speech_ratio * n_words) words are speech (the last length is cut to hit that count), placed
    uniformly at random among the words with at least one text word between two spans;
  * a speech span's units are exactly those whose time falls in [start of its first word, end of its
    last word). A unit's time is its MIDPOINT by default (`time_rule="start"`: its first frame):
    unit i spans frames [a_i, a_i + d_i) with a_i = sum of earlier durations, frame j covering
    [j / frame_rate, (j + 1) / frame_rate), so its midpoint is (a_i + d_i / 2) / frame_rate. The
    interval is half-open so two adjacent spans never share a unit. Units in pauses between a text
    word and a speech word belong to no span and are left out. A speech span that gets no unit
    (words shorter than a frame) stays text (counted as `reverted_spans`);
  * a text span is its words joined by spaces, encoded on its own (no leading space) by the
    extended model's tokenizer; surface forms come from the entry's `text` when it splits into as
    many whitespace tokens as there are aligned words (keeps case and punctuation), else from the
    aligned words;
  * every segment starts with its switch token (`<speech>` or `<text>`), so a switch token stands at
    every modality change and at the start of each document.
Text-only documents are `<text>` + the transcript, speech-only documents `<speech>` + all units
(`mark_single_modality=False` drops these leading markers). Documents hold no bos/eos.

Mixing: per split, each stream's documents form a pool; the mix weights are normalised to sum to 1
(the paper's 0.20 / 0.54 / 0.25 sum to 0.99). The total is the largest the pools allow,
min_j tokens_j / w_j, and each stream contributes the shuffled prefix of its pool whose token count
is closest to w_j * total. The chosen documents are shuffled together. Everything is drawn from
`seed` (per utterance from seed and id), so the same inputs and seed give the same bytes.

The package: config.py (InterleaveConfig), units.py (UnitTable), spans.py (one utterance's
segments), documents.py (the streams' documents and their mix), shards.py (the shards).
"""

from __future__ import annotations

from slmscale.data.interleave.config import STREAMS, InterleaveConfig, MixConfig
from slmscale.data.interleave.documents import Doc, build_documents, select_mix, split_seed
from slmscale.data.interleave.shards import build_interleaved_shards
from slmscale.data.interleave.spans import (Segment, choose_speech_spans, plan_segments, span_unit_mask,
                                            surface_words, unit_times)
from slmscale.data.interleave.units import UnitTable, units_from_shards, units_from_tokenizer

__all__ = ["STREAMS", "Doc", "InterleaveConfig", "MixConfig", "Segment", "UnitTable", "build_documents",
           "build_interleaved_shards", "choose_speech_spans", "plan_segments", "select_mix", "span_unit_mask",
           "split_seed", "surface_words", "unit_times", "units_from_shards", "units_from_tokenizer"]
