"""Named scoring protocols: how a candidate's log-likelihood becomes its score.

Published speech-LM numbers are not all computed the same way; a protocol fixes every choice so a
result can be matched to its source:

| protocol | terminal EOS scored | normalisation | scored span (cross-modal) | softmax restricted to the modality |
|---|---|---|---|---|
| zerospeech (default) | yes | `--normalize` (mean) | the ending | yes |
| cm2024 | no | mean | the ending | yes |
| slamkit | no | mean | the whole sequence (context + ending) | no |

- zerospeech: ZeroSpeech 2021 takes whatever score a submission gives; ours is the mean (or sum)
  log-probability of the item's tokens plus a terminal EOS ("does the utterance end here?"), which
  keeps a non-word that is a plausible word prefix from scoring like a word. slmscale's default.
- cm2024: Cuervo & Marxer (2024) release per-candidate mean unit NLL with no terminal EOS.
- slamkit: slamkit (Maimon et al.) scores the whole sequence by mean NLL and, for cross-modal
  StoryCloze, does not restrict the softmax to the ending's modality.
Every protocol conditions the first token on the separator (BOS, or EOS when the vocabulary has no
BOS), so every content token is scored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from slmscale.errors import UserError


@dataclass(frozen=True)
class Protocol:
    name: str
    eos: bool  # score a terminal EOS after the candidate
    normalize: str | None  # fixed "mean"/"sum", or None: the caller's choice
    restrict: bool  # restrict the softmax to the scored modality (interleaved runs)
    score_context: bool  # cross-modal StoryCloze: score context + ending, not the ending alone
    source: str

    def resolve_normalize(self, asked: str | None) -> str:
        if self.normalize is None:
            return asked or "mean"
        if asked not in (None, self.normalize):
            raise UserError(f"--protocol {self.name} scores by {self.normalize}; drop --normalize {asked}")
        return self.normalize

    def to_dict(self) -> dict:
        return asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    "zerospeech": Protocol("zerospeech", eos=True, normalize=None, restrict=True, score_context=False,
                           source="ZeroSpeech 2021: the submission's score (slmscale: tokens + EOS)"),
    "cm2024": Protocol("cm2024", eos=False, normalize="mean", restrict=True, score_context=False,
                       source="Cuervo & Marxer 2024: mean unit NLL per candidate, no terminal EOS"),
    "slamkit": Protocol("slamkit", eos=False, normalize="mean", restrict=False, score_context=True,
                        source="slamkit: whole-sequence mean NLL, unrestricted softmax"),
}
DEFAULT_PROTOCOL = "zerospeech"


def get_protocol(name: str | None) -> Protocol:
    try:
        return PROTOCOLS[name or DEFAULT_PROTOCOL]
    except KeyError:
        raise UserError(f"unknown --protocol {name!r}; choose from {', '.join(PROTOCOLS)}") from None


# Items longer than the model's context: scored over sliding windows (default), cut from the left,
# or refused with a one-line error (slmscale.eval.loglik).
TRUNCATION = ("slide", "cut", "refuse")
DEFAULT_TRUNCATION = "slide"


def scoring_record(protocol: str | None, truncation: str = DEFAULT_TRUNCATION,
                   voice_statistics: str | None = None) -> dict[str, str]:
    """How a task was scored, as summary.json's `eval_scoring` records it; `voice_statistics`
    (slmscale.eval.encoders.voice_statistics_label) only for a voice-normalised tokenisation."""
    record = {"protocol": get_protocol(protocol).name, "truncation": truncation}
    if voice_statistics is not None:
        record["voice_statistics"] = voice_statistics
    return record
