"""`units layers`: how do the units from each transformer layer of a HuBERT-family checkpoint compare?

For each layer and seed, a tokenizer is fitted exactly as `units fit --encoder hubert --layer L
--seed S` would fit it (into OUT/layer-L-seed-S, reused when fresh, so a stopped sweep resumes) and
measured exactly as `units quality --seed S` measures it. The sweep only composes those two stages;
it adds the ranking: by PNMI (phone alignments in the manifests) or, without them, by cross-voice
ABX (held-out voices first), averaged over the seeds. What it shares between the fits is the
forward pass: one pass over the fitting audio gives every layer's hidden states, and each fit takes
its layer's frames with its own seed (as many fits per pass as SAMPLE_MEMORY holds their frames).

Why several seeds: the seed picks the frames k-means sees, its initialisation and the ABX triplets,
and on the built-in corpus that alone moved PNMI by 0.008 for one layer. The top layer's margin is
therefore taken seed by seed (both layers measured with the same seed), and the two layers are
called separable only when the 95 % t-interval of those paired margins excludes zero. Even then the
ranking is by frame-level measures, not by what an LM makes of the units (docs/units.md): the
output says "highest PNMI", never "best".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmscale.errors import UserError

RESULT = "layers.json"
# Bytes of sampled frames (each fit's k-means pool, float32) one shared pass may hold: HuBERT-base's
# 768-dim frames at the default 200,000 per fit take about 0.8 GB each, so five fits per pass.
SAMPLE_MEMORY = 4 * 2 ** 30
# What decides, in order of preference: PNMI needs phone alignments; cross-voice ABX needs word
# timings spoken by several voices.
CRITERIA = ("pnmi", "abx_across_heldout", "abx_across_train", "abx_across_other")


def checkpoint_layers(checkpoint: str | Path) -> int:
    """Number of transformer layers of a local HuBERT-family checkpoint."""
    from slmscale.units.encoders import hubert_model_config

    return int(hubert_model_config(checkpoint)[1].num_hidden_layers)


def layer_dir(out: str | Path, layer: int, seed: int) -> Path:
    return Path(out) / f"layer-{layer}-seed-{seed}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def summarize(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean of every numeric measure over the seeds (None where any seed has none), and the
    min-max range of each."""
    first = next(iter(per_seed.values()))
    mean: dict[str, Any] = {}
    spread: dict[str, list[float]] = {}
    for key, value in first.items():
        values = [r.get(key) for r in per_seed.values()]
        if all(_is_number(v) for v in values):
            avg = sum(values) / len(values)
            # Counts stay integers when every seed agrees (e.g. units used: 100).
            mean[key] = int(avg) if all(isinstance(v, int) for v in values) and avg == int(avg) else avg
            spread[key] = [min(values), max(values)]
        elif key in CRITERIA or _is_number(value) or value is None:
            mean[key] = None
        else:
            mean[key] = value  # descriptive fields (tokenizer path, voices...): the first seed's
    return {"mean": mean, "range": spread}


def margin_interval(per_seed: list[float]) -> tuple[float, float] | None:
    """t-interval (the project's level, 95 %) of the mean of paired per-seed margins; None with
    fewer than two seeds. A bootstrap (slmscale.stats) needs more than a handful of values."""
    import math
    import statistics

    from scipy import stats

    from slmscale.stats import LEVEL

    n = len(per_seed)
    if n < 2:
        return None
    mean = statistics.fmean(per_seed)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * statistics.stdev(per_seed) / math.sqrt(n)
    return mean - half, mean + half


def rank_layers(results: dict[int, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """Rank layers by the first criterion every layer and seed has a value for (mean over seeds;
    ties: lower layer first). The top layer's margin over the runner-up is taken per seed;
    `separable` says whether its 95 % interval excludes zero (None with one seed)."""
    for key in CRITERIA:
        if all(r.get(key) is not None for seeds in results.values() for r in seeds.values()):
            means = {layer: sum(r[key] for r in seeds.values()) / len(seeds) for layer, seeds in results.items()}
            ranked = sorted(means, key=lambda layer: (-means[layer], layer))
            top = ranked[0]
            got: dict[str, Any] = {"criterion": key, "ranking": ranked, "top_layer": top, "value": means[top],
                                   "runner_up": None, "margin": None, "margin_per_seed": None,
                                   "margin_ci95": None, "separable": None}
            if len(ranked) > 1:
                second = ranked[1]
                per_seed = [results[top][s][key] - results[second][s][key] for s in results[top]]
                ci = margin_interval(per_seed)
                got.update(runner_up=second, margin=sum(per_seed) / len(per_seed), margin_per_seed=per_seed,
                           margin_ci95=None if ci is None else list(ci), separable=None if ci is None else ci[0] > 0)
            return got
    raise UserError("no layer could be compared: the manifests carry neither phone alignments (for PNMI) nor "
                    "words spoken by several voices (for cross-voice ABX); give a synthesised corpus or "
                    "one with phone timings")


def sweep_layers(checkpoint: str | Path, manifest: str | Path, quality_manifests: list[str | Path], k: int,
                 out: str | Path, layers: list[int] | None = None, *, seeds: list[int] | tuple[int, ...] = (0,),
                 max_frames: int = 200_000, voice_norm: Any = None, bf16: bool = False,
                 max_utterances: int = 300, triplets: int = 1000, force: bool = False) -> dict[str, Any]:
    """Fit and measure a tokenizer per layer and seed; write OUT/layers.json and return what it holds.
    `voice_norm` is a VoiceNorm (its seed follows each run's seed) or None."""
    from slmscale.artifacts import write_json
    from slmscale.progress import info
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import make_fit_config
    from slmscale.units.layer_views import SharedPass
    from slmscale.units.quality import measure_many

    n_layers = checkpoint_layers(checkpoint)
    layers = sorted(set(layers or range(1, n_layers + 1)))
    bad = [layer for layer in layers if not 1 <= layer <= n_layers]
    if bad:
        raise UserError(f"--layers {','.join(map(str, bad))}: {checkpoint} has transformer layers 1..{n_layers}")
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise UserError("--seeds: give at least one seed")
    out = Path(out)
    # Resolved and hashed once (the hash reads every weight file); each run only changes layer and seed.
    base = make_fit_config(manifest, EncoderConfig(name="hubert", checkpoint=str(checkpoint), layer=layers[0],
                                                   bf16=bf16), k, max_frames=max_frames)
    runs = []
    for layer in layers:
        for seed in seeds:
            norm = None if voice_norm is None else voice_norm.model_copy(update={"seed": seed})
            runs.append((layer, seed, base.model_copy(update={
                "encoder": base.encoder.model_copy(update={"layer": layer}), "seed": seed, "voice_norm": norm})))
    fit_runs(runs, out, force)
    results: dict[int, dict[int, dict[str, Any]]] = {}
    # One model for every layer: a seed picks the utterances and triplets, so its layers share one
    # pass over them (and over each voice's statistics audio).
    shared = SharedPass(base.encoder, tuple(layers))
    for seed in seeds:
        info(f"seed {seed}: measuring layer{'s' * (len(layers) > 1)} {', '.join(map(str, layers))}")
        got = measure_many([layer_dir(out, layer, seed) for layer in layers], list(quality_manifests),
                           max_utterances, triplets, seed, [shared.view(layer) for layer in layers])
        for layer, measured in zip(layers, got):
            results.setdefault(layer, {})[seed] = measured
    payload = {
        "checkpoint": base.encoder.checkpoint, "checkpoint_sha256": base.encoder.checkpoint_sha256,
        "transformer_layers": n_layers, "fit_manifest": base.manifest,
        "quality_manifests": [str(Path(m).resolve()) for m in quality_manifests], "k": k, "seeds": seeds,
        "max_frames": max_frames, "voice_norm": None if voice_norm is None else voice_norm.model_dump(),
        "max_utterances": max_utterances, "triplets": triplets,
        **rank_layers(results),
        "layers": {str(layer): {**summarize(per_seed), "seeds": {str(s): r for s, r in per_seed.items()}}
                   for layer, per_seed in results.items()},
    }
    write_json(out / RESULT, payload)
    return payload


def fit_runs(runs: list[tuple[int, int, Any]], out: Path, force: bool = False) -> None:
    """Fit each (layer, seed, FitConfig) run into layer_dir(out, layer, seed), those not up to date
    from shared forward passes (as many runs per pass as SAMPLE_MEMORY holds their frames)."""
    from slmscale.data.manifest import read_manifest
    from slmscale.progress import info
    from slmscale.units.encoders import conv_frame_rate, hubert_model_config
    from slmscale.units.fit import fit_tokenizer, is_fitted, sampling_rate, train_entries

    base = runs[0][2]
    entries = read_manifest(base.manifest)
    stale = [run for run in runs if force or not is_fitted(run[2], layer_dir(out, run[0], run[1]), entries)]
    model = hubert_model_config(base.encoder.checkpoint)[1]
    rate = conv_frame_rate(model.conv_stride)
    frames = sum(e.duration for e in train_entries(entries)) * rate * sampling_rate(base, entries, rate)
    per_run = frames * int(model.hidden_size) * 4  # the float32 frames a run keeps
    groups: list[list[tuple[int, int, Any]]] = []
    for run in stale:
        if not groups or (len(groups[-1]) + 1) * per_run > SAMPLE_MEMORY:
            groups.append([])
        groups[-1].append(run)
    samples: dict[tuple[int, int], Any] = {}
    for group in groups:
        samples = dict(zip([(layer, seed) for layer, seed, _ in group], shared_samples(group, entries)))
        for layer, seed, cfg in group:
            info(f"layer {layer}, seed {seed}: k-means")
            fit_tokenizer(cfg, layer_dir(out, layer, seed), workers=1, force=True,
                          sample=lambda key=(layer, seed): samples.pop(key))
    fitted = {(layer, seed) for layer, seed, _ in stale}
    for layer, seed, cfg in runs:
        if (layer, seed) not in fitted:
            fit_tokenizer(cfg, layer_dir(out, layer, seed), workers=1)  # up to date: says so, reads its meta


def shared_samples(group: list[tuple[int, int, Any]], entries: list) -> list[Any]:
    """Each run's sampled frames (fit.Sample), exactly as its own `units fit` would sample them,
    from one forward pass over the training audio that gives every layer of the group."""
    import functools

    from slmscale.units.encoders import HubertEncoder, build_encoder
    from slmscale.units.fit import Sample, Taker, _SampleJob, sampling_rate, train_entries, voice_statistics
    from slmscale.units.manifest_jobs import manifest_items, run_items

    base = group[0][2]
    layers = sorted({layer for layer, _, _ in group})
    wide = HubertEncoder(base.encoder, layers=tuple(layers))
    items = manifest_items(base.manifest, train_entries(entries))
    takers: list[Taker] = []
    single: tuple[int, Any] | None = None  # one layer's own encoder, for its voices' statistics
    for layer, seed, cfg in group:
        voices = None
        if cfg.voice_norm is not None:
            if single is None or single[0] != layer:
                single = (layer, build_encoder(cfg.encoder))
            voices = voice_statistics(cfg, entries, items, single[1])
        takers.append(Taker(wide.columns(layer), seed, voices))
    single = None
    keep = sampling_rate(base, entries, wide.frame_rate)
    factory = functools.partial(_SampleJob, base.encoder.model_dump(mode="json"), keep, takers, wide)
    samples = [Sample() for _ in group]
    described = f"features (hubert, layer{'s' * (len(layers) > 1)} {', '.join(map(str, layers))}; {len(group)} fits)"
    for o in run_items(items, factory, 1, described):
        for j, (sample, taker) in enumerate(zip(samples, takers)):
            sample.add(o, o.value[j] if o.value is not None else taker.refusal(o.item.voice))
    return samples


def format_sweep(payload: dict[str, Any]) -> str:
    """The `units quality` table (means over seeds) with a column per layer, the criterion's range
    over seeds, and the ranking with what the seeds allow it to say."""
    from slmscale.units.quality import format_table

    layers, key, n = list(payload["layers"]), payload["criterion"], len(payload["seeds"])
    label = {"pnmi": "PNMI"}.get(key, key.replace("_", " "))
    table = format_table([payload["layers"][layer]["mean"] for layer in layers], [f"layer {layer}" for layer in layers])
    lines = [table]
    if n > 1:
        cells = " | ".join("{:.3f}–{:.3f}".format(*payload["layers"][layer]["range"][key]) for layer in layers)
        lines[0] += f"\n| {label}, range over {n} seeds | {cells} |"
    head = f"highest {label}: layer {payload['top_layer']} ({payload['value']:.3f}"
    head += f", mean of {n} seeds" if n > 1 else ""
    if payload["runner_up"] is None:
        return "\n".join(lines) + "\n\n" + head + ")"
    head += f"; {payload['margin']:+.3f} over layer {payload['runner_up']}"
    if n > 1:
        lo, hi = payload["margin_ci95"]
        per_seed = ", ".join(f"{d:+.3f}" for d in payload["margin_per_seed"])
        head += f" [{lo:+.3f}, {hi:+.3f}], per seed {per_seed}"
    head += ")"
    order = " > ".join(map(str, payload["ranking"]))
    if payload["separable"] is None:
        verdict = "one seed: the margin has no error bar (use --seeds 3 or more)."
    elif payload["separable"]:
        verdict = f"layer {payload['top_layer']} is ahead of layer {payload['runner_up']} beyond the seed-to-seed spread."
    else:
        verdict = (f"layers {payload['top_layer']} and {payload['runner_up']} are not separable at {n} seeds "
                   "(the interval includes zero).")
    return ("\n".join(lines) + f"\n\n{head}\nranking by {label}: {order}; {verdict} A frame-level measure: "
            "train an LM on the top two before settling (docs/units.md, `units layers`).")
