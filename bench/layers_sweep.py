"""`units layers`: one shared forward pass for every layer (and seed), against a pass per tokenizer.

Side by side in one run, on the same audio, checkpoint and fits: the sweep's fitting stage
(units.layers.fit_runs) as shipped, and with SAMPLE_MEMORY = 1, which gives every fit its own
pass over the audio, as a `units fit --layer L --seed S` per fit does; then the measures, every
layer and seed through views of one model (units.layer_views: each distinct file passes once)
against `units quality` per tokenizer. Both
must give the same tokenizers (checked byte for byte) and the same measures. The checkpoint is a randomly initialised HubertModel of a
`units pretrain` preset: its speed, not its units, is measured. Prints one JSON object.
Usage: python bench/layers_sweep.py [--minutes 20] [--preset cpu-small] [--seeds 3] [--k 100]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0, help="fitting audio to synthesise")
    ap.add_argument("--preset", default="cpu-small", help="units pretrain preset of the random checkpoint")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--max-frames", type=int, default=20_000)
    args = ap.parse_args()

    import torch
    from transformers import HubertConfig, HubertModel

    from slmscale.units import layers
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import make_fit_config
    from slmscale.units.layer_views import SharedPass
    from slmscale.units.pretrain_config import PRESETS
    from slmscale.units.quality import measure_many, measure_units
    from support.babble import write_babble_corpus

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = write_babble_corpus(root / "corpus", max(1, int(args.minutes * 6)), seconds=(8.0, 12.0), seed=0)
        config = HubertConfig(**PRESETS[args.preset])
        HubertModel(config).save_pretrained(root / "hub")
        n_layers = config.num_hidden_layers
        base = make_fit_config(manifest, EncoderConfig(name="hubert", checkpoint=str(root / "hub"), layer=1),
                               args.k, max_frames=args.max_frames)
        runs = [(layer, seed, base.model_copy(update={"encoder": base.encoder.model_copy(update={"layer": layer}),
                                                      "seed": seed}))
                for layer in range(1, n_layers + 1) for seed in range(args.seeds)]
        wall = {}
        for name, memory in (("one_pass_per_fit", 1), ("shared_pass", layers.SAMPLE_MEMORY)):
            layers.SAMPLE_MEMORY = memory
            t0 = time.perf_counter()
            layers.fit_runs(runs, root / name)
            wall[name] = time.perf_counter() - t0
        same = all((layers.layer_dir(root / "shared_pass", la, s) / "centroids.safetensors").read_bytes()
                   == (layers.layer_dir(root / "one_pass_per_fit", la, s) / "centroids.safetensors").read_bytes()
                   for la, s, _ in runs)
        # The measures: each tokenizer on its own (`units quality` per tokenizer) against each
        # seed's layers from one pass, on a held-out tenth of the audio.
        quality = write_babble_corpus(root / "quality", max(1, int(args.minutes * 0.6)), seconds=(8.0, 12.0), seed=1)
        t0 = time.perf_counter()
        alone = [measure_units(layers.layer_dir(root / "shared_pass", la, s), [quality], seed=s) for la, s, _ in runs]
        wall["measures_one_pass_per_tokenizer"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        one = SharedPass(base.encoder, tuple(range(1, n_layers + 1)))  # as `units layers` measures
        shared = [m for s in range(args.seeds) for m in measure_many(
            [layers.layer_dir(root / "shared_pass", la, s) for la in range(1, n_layers + 1)], [quality], seed=s,
            encoders=[one.view(la) for la in range(1, n_layers + 1)])]
        wall["measures_shared_pass"] = time.perf_counter() - t0
        order = [(la, s) for la, s, _ in runs]
        by_seed = [(la, s) for s in range(args.seeds) for la in range(1, n_layers + 1)]
        same_measures = all(alone[order.index(key)] == shared[by_seed.index(key)] for key in order)
    print(json.dumps({
        "bench": "layers_sweep", "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
        "preset": args.preset, "layers": n_layers, "seeds": args.seeds, "fits": len(runs),
        "audio_minutes": args.minutes, "k": args.k, "max_frames": args.max_frames,
        "wall_s": {k: round(v, 1) for k, v in wall.items()},
        "speedup_fits": round(wall["one_pass_per_fit"] / wall["shared_pass"], 2),
        "speedup_measures": round(wall["measures_one_pass_per_tokenizer"] / wall["measures_shared_pass"], 2),
        "identical_tokenizers": same, "identical_measures": same_measures,
        "measured_files_passed": one.passes,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
