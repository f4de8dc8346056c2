"""Peak memory of `slmscale units encode` against file length (issue #11 item 8: flat in length).

Writes one 16 kHz PCM file per length (a minute of babble, repeated), an MFCC k=100 tokenizer, and
runs `slmscale units encode` on each under `/usr/bin/time -v`; prints JSON with the peak RSS (MB),
the wall time per length and the ratio of the longest to the shortest.
Usage: python bench/encode_memory.py [--minutes 1,60] [--out DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-data generators live in tests/support

import argparse
import json
import re
import subprocess
import tempfile

import numpy as np
import soundfile as sf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", default="1,60")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from support.babble import babble, write_babble_corpus

    from slmscale.data.manifest import ManifestEntry, write_manifest
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    root = Path(args.out or tempfile.mkdtemp(prefix="encode_memory_"))
    corpus = write_babble_corpus(root / "c", 20, seconds=(1.0, 2.5), seed=3)
    fit_tokenizer(make_fit_config(corpus, EncoderConfig(name="mfcc", frame_rate=50), k=100, seed=0),
                  root / "tok", workers=1)
    minute = (babble(60.0, seed=1) * 0.5).astype(np.float32)
    slmscale = Path(sys.executable).with_name("slmscale")
    result = {}
    for mins in [int(m) for m in args.minutes.split(",")]:
        with sf.SoundFile(str(root / f"long{mins}.wav"), "w", 16000, 1, "PCM_16") as fh:
            for i in range(mins):
                fh.write(np.roll(minute, i * 1234))
        write_manifest(root / f"m{mins}.jsonl", [ManifestEntry(id=f"long{mins}", audio=f"long{mins}.wav",
                                                               duration=60.0 * mins, sample_rate=16000)])
        proc = subprocess.run(["/usr/bin/time", "-v", str(slmscale), "units", "encode", "--tokenizer",
                               str(root / "tok"), "--manifest", str(root / f"m{mins}.jsonl"), "--out",
                               str(root / f"s{mins}"), "--valid-fraction", "0", "--force"],
                              capture_output=True, text=True, check=True)
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr).group(1)
        result[f"{mins}min"] = {"peak_rss_mb": round(rss, 1), "wall": wall}
    peaks = [v["peak_rss_mb"] for v in result.values()]
    result["ratio_longest_to_shortest"] = round(peaks[-1] / peaks[0], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
