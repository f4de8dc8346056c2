"""Synthesis speed: seconds of speech produced per second of wall time (x real time), per core.

Target (issue 2): >= 200x real time per core. Prints one JSON object.
    python bench/synth_speed.py [--stories N] [--workers W]
Measures the whole path a corpus build takes (story text -> espeak-ng -> word timings ->
16 kHz resampling -> PCM-16 wav files), once on one process and once on W processes.
Besides wall time it reports CPU time (this process plus all its reaped children), since on a
shared machine "per core" is best read as speech seconds per CPU second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stories", type=int, default=40)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from slmscale.espeak import Espeak
    from slmscale.audio.tts import TTSItem, synthesize_many
    from slmscale.audio.voices import TRAIN_VOICES
    from slmscale.text.stories import generate_stories

    Espeak.get()
    stories = generate_stories(args.stories, args.seed)
    items = [TTSItem(s.id, s.text, TRAIN_VOICES[i % len(TRAIN_VOICES)], f"audio/{s.id}.wav")
             for i, s in enumerate(stories)]
    result = {"bench": "synth_speed", "stories": len(items), "voices": len(TRAIN_VOICES),
              "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine()}
    for label, workers in (("one_process", 1), ("parallel", args.workers)):
        with tempfile.TemporaryDirectory() as tmp:
            c0, t0 = _cpu_seconds(), time.perf_counter()
            entries, skipped = synthesize_many(items, tmp, workers=workers)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        audio = sum(e.duration for e in entries)
        result[label] = {"workers": workers, "audio_s": round(audio, 1), "wall_s": round(wall, 2),
                         "x_realtime": round(audio / wall, 1),
                         "x_realtime_per_core": round(audio / wall / workers, 1),
                         "cpu_s": round(cpu, 2), "x_realtime_per_cpu_second": round(audio / cpu, 1),
                         "skipped": len(skipped)}
    result["target_x_realtime_per_core"] = 200
    result["meets_target"] = result["one_process"]["x_realtime_per_cpu_second"] >= 200
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
