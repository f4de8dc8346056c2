"""Text side of slmscale: the synthetic story generator, the lexicon, readers for real text, and the
text versions of the benchmark items (sWUGGY-, sBLIMP-, sStoryCloze-, tStoryCloze-like).

Main entry points: `stories.iter_stories` / `generate_stories`, `reader.read_texts`,
`grammar.split_words`, `heldout.is_heldout*`, and `pairs.swuggy_pairs` / `sblimp_pairs` /
`storycloze_items` (checked by `blimp_check`, non-words from `nonwords` over `phonemes`, balanced
against the baselines of `surface`).
"""

from slmscale.text.grammar import split_words
from slmscale.text.heldout import is_heldout, is_heldout_sentence, is_heldout_story
from slmscale.text.reader import read_texts
from slmscale.text.stories import Story, generate_stories, iter_stories

__all__ = ["Story", "generate_stories", "is_heldout", "is_heldout_sentence", "is_heldout_story",
           "iter_stories", "read_texts", "split_words"]
