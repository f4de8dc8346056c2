"""The interleaving config: span choice and the text / interleaved / speech mix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slmscale.config import StrictModel
from slmscale.errors import UserError

STREAMS = ("text", "interleaved", "speech")


class MixConfig(StrictModel):
    text: float = Field(0.20, ge=0)
    interleaved: float = Field(0.54, ge=0)
    speech: float = Field(0.25, ge=0)

    def weights(self) -> dict[str, float]:
        raw = {"text": self.text, "interleaved": self.interleaved, "speech": self.speech}
        total = sum(raw.values())
        if total <= 0:
            raise UserError("mix: at least one of text / interleaved / speech must be > 0")
        return {k: v / total for k, v in raw.items()}


class InterleaveConfig(StrictModel):
    speech_ratio: float = Field(0.3, ge=0, le=1)     # share of words turned into speech
    span_lambda: float = Field(10.0, gt=0)           # Poisson mean of a speech span, in words
    time_rule: Literal["midpoint", "start"] = "midpoint"
    mix: MixConfig = Field(default_factory=MixConfig)
    mark_single_modality: bool = True
    seed: int = 0

