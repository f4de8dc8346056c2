"""Interleaved speech-text training data (SIMS): sequences that alternate text spans and speech
spans, plus text-only and speech-only streams, mixed by token ratio and written as shards.

config.py     InterleaveConfig (span choice, mix weights)
units.py      UnitTable: deduplicated units and durations per manifest id
spans.py      one utterance -> text and speech segments (the span and unit-alignment rules)
documents.py  the three streams' documents and their mix per split (the mixing rule)
shards.py     build_interleaved_shards: manifest + units + extended tokenizer -> shards
Every public name is importable from here.
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
