"""Speed of the MFCC + k-means speech tokenizer: encoding in × real time, and k-means fit time.

Prints one JSON object. Audio is synthetic speech-like babble (support.babble), written
as 16 kHz wavs so file decoding is part of the measurement, like `slmscale units encode`.
Usage: python bench/units_speed.py [--minutes 10] [--k 500] [--workers 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-data generators live in tests/support

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def _cpu_seconds() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="distinct audio to synthesise")
    ap.add_argument("--repeat", type=int, default=1,
                    help="list every file this many times in a second manifest (long-corpus run)")
    ap.add_argument("--utterance-seconds", type=float, default=10.0)
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument("--frame-rate", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-frames", type=int, default=100_000)
    args = ap.parse_args()

    from slmscale.units.encode import encode_manifest
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from support.babble import write_babble_corpus

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = max(1, int(args.minutes * 60 / args.utterance_seconds))
        secs = (args.utterance_seconds * 0.8, args.utterance_seconds * 1.2)
        manifest = write_babble_corpus(root / "corpus", n, seconds=secs, seed=0)
        if args.repeat > 1:  # same files under new ids: a long corpus without synthesising it
            from slmscale.data.manifest import read_manifest, write_manifest

            base = read_manifest(manifest)
            write_manifest(root / "corpus" / "long.jsonl",
                           [e.model_copy(update={"id": f"{e.id}_r{r}"}) for r in range(args.repeat) for e in base])
            manifest = root / "corpus" / "long.jsonl"
        enc = EncoderConfig(name="mfcc", frame_rate=args.frame_rate)
        t0 = time.perf_counter()
        fit_meta = fit_tokenizer(make_fit_config(manifest, enc, k=args.k, max_frames=args.max_frames),
                                 root / "tok", workers=1)
        fit_s = time.perf_counter() - t0
        # Fixed cost of one encode run (process start, imports, filterbank): a tiny manifest.
        small = write_babble_corpus(root / "small", 20, seconds=(0.3, 0.3), seed=1)
        results = {}
        for workers in sorted({1, args.workers}):
            t0 = time.perf_counter()
            encode_manifest(root / "tok", small, root / f"small{workers}", workers=workers)
            startup = time.perf_counter() - t0
            t0, cpu0 = time.perf_counter(), _cpu_seconds()
            meta = encode_manifest(root / "tok", manifest, root / f"shards{workers}", workers=workers)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
            audio_s = meta["audio_hours"] * 3600
            results[workers] = {"wall_s": round(wall, 3), "x_realtime": round(audio_s / wall, 1),
                                "startup_s": round(startup, 2),
                                "steady_x_realtime": round(audio_s / max(wall - startup, 1e-9), 1),
                                "cpu_s": round(cpu, 2)}
        # Steady-state throughput of the in-process path (no process start-up, no file I/O).
        from slmscale.units.bundle import SpeechTokenizer
        from support.babble import babble

        tok = SpeechTokenizer.load(root / "tok")
        wavs = [babble(args.utterance_seconds, seed=100 + i) for i in range(6)]
        tok.encode(wavs[0])  # warm-up: lazy imports
        t0 = time.perf_counter()
        for w in wavs:
            tok.encode(w)
        core_x = sum(len(w) for w in wavs) / 16000 / (time.perf_counter() - t0)
    print(json.dumps({
        "bench": "units_speed", "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
        "encoder": "mfcc", "frame_rate": args.frame_rate, "k": args.k, "audio_seconds": round(audio_s, 1),
        "fit": {"seconds": round(fit_s, 2), "frames": fit_meta["frames_sampled"],
                "iterations": fit_meta["kmeans"]["iterations"]},
        "encode_x_realtime": {f"{w}_workers": r["x_realtime"] for w, r in results.items()},
        "encode_wall_s": {f"{w}_workers": r["wall_s"] for w, r in results.items()},
        "encode_startup_s": {f"{w}_workers": r["startup_s"] for w, r in results.items()},
        "encode_steady_x_realtime": {f"{w}_workers": r["steady_x_realtime"] for w, r in results.items()},
        "in_process_one_core_x_realtime": round(core_x, 1),
        # Audio seconds per CPU-second (parent + worker processes): what one uncontended core does;
        # on a shared machine the wall-clock numbers above are lower than this times the cores.
        "encode_cpu_x_realtime_per_core": {f"{w}_workers": round(audio_s / r["cpu_s"], 1)
                                           for w, r in results.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "target_x_realtime_2_cores": 500,
    }, indent=2))


if __name__ == "__main__":
    main()
