"""`slmscale units …`: fit a speech tokenizer, encode audio into unit shards, unigram-compress them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from slmscale.cli.lists import comma_list, int_list
from slmscale.errors import UserError

units_app = typer.Typer(help="Speech units: pretrain a self-supervised encoder, fit a tokenizer (features + "
                             "k-means), measure unit quality, encode audio to token shards, train a unigram "
                             "model over units.", no_args_is_help=True)


@units_app.command("fit")
def fit_cmd(
    manifest: Path = typer.Option(..., "--manifest", help="Utterance manifest (JSONL)."),
    encoder: str = typer.Option("mfcc", "--encoder", help="Feature encoder: mfcc, logmel, hubert, or phone (posteriors of a "
                                       "phone classifier trained on a synthetic corpus's alignments)."),
    k: int = typer.Option(..., "--k", help="Number of units (k-means clusters)."),
    out: Path = typer.Option(..., "--out", help="Tokenizer directory to write (TOKDIR)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint",
                                              help="Local transformers HuBERT/wav2vec2 model dir (hubert), or a "
                                                   "`units phonenet` dir (phone; default: train one "
                                                   "into OUT/phonenet from this manifest)."),
    layer: Optional[int] = typer.Option(None, "--layer", help="Transformer layer to take (1-based; hubert)."),
    frame_rate: Optional[int] = typer.Option(None, "--frame-rate", help="25 or 50 Hz (mfcc/logmel; default 50)."),
    max_frames: int = typer.Option(200_000, "--max-frames", help="Frames sampled for k-means."),
    seed: int = typer.Option(0, "--seed", help="Seed for frame sampling and k-means."),
    bf16: bool = typer.Option(False, "--bf16", help="Run the hubert model in bfloat16 autocast."),
    context: Optional[int] = typer.Option(None, "--context",
                                          help="Stack +-N neighbouring frames (default: 2 for mfcc, else 0)."),
    whiten: Optional[str] = typer.Option(None, "--whiten-static",
                                         help="mfcc: per-utterance whitening shrinkage in frames "
                                              "(default 50), or 'off' for plain CMVN."),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Default the tokenizer to keep repeated units."),
    voice_norm: str = typer.Option("off", "--voice-norm",
                                   help="'whiten': whiten each voice's features with that voice's own "
                                        "statistics (needs the manifests' voice labels; no text)."),
    voice_seconds: float = typer.Option(180.0, "--voice-seconds",
                                        help="With --voice-norm: audio per voice its statistics come from."),
    min_run: int = typer.Option(1, "--min-run",
                                help="Absorb runs of a unit shorter than N frames into the longer runs "
                                     "around them before deduplication (1: off)."),
    import_kmeans: Optional[Path] = typer.Option(None, "--import-kmeans",
                                                 help="Use these centroids (.safetensors/.npy, or a "
                                                      "scikit-learn/joblib file with --allow-pickle)."),
    allow_pickle: bool = typer.Option(False, "--allow-pickle",
                                      help="Allow unpickling --import-kmeans (runs code; trusted files only)."),
    workers: Optional[int] = typer.Option(None, "--workers",
                                          help="Feature processes (default: 2 for corpora over 10 h, else 1; "
                                               "hubert 1)."),
    num_shards: Optional[int] = typer.Option(None, "--num-shards",
                                             help="Split feature extraction into N jobs (with --shard-index, or --merge)."),
    shard_index: Optional[int] = typer.Option(None, "--shard-index",
                                              help="Extract features of part I (0..N-1) into OUT.parts/ only."),
    merge: bool = typer.Option(False, "--merge", help="k-means on the frames of the N finished parts."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Fit a speech tokenizer: features of the manifest's train audio, k-means, saved to TOKDIR.

    Cluster: N jobs `--num-shards N --shard-index I`, then `--num-shards N --merge` (same tokenizer as one job).
    """
    from slmscale.config import validate
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    if encoder not in ("mfcc", "logmel", "hubert", "phone"):
        raise UserError(f"--encoder {encoder}: choose mfcc, logmel, hubert or phone")
    sharded = num_shards is not None or shard_index is not None or merge
    if sharded and (num_shards is None or (shard_index is not None) == merge):
        raise UserError("sharded fit: give --num-shards N with either --shard-index I or --merge")
    if sharded and encoder == "phone" and checkpoint is None:
        raise UserError("sharded --encoder phone: train the classifier once first (`units phonenet`) "
                        "and pass it with --checkpoint")
    if encoder == "phone":
        if layer is not None or frame_rate is not None or context is not None or whiten is not None:
            raise UserError("--layer/--frame-rate/--context/--whiten-static do not apply to --encoder phone")
        if checkpoint is None:
            from slmscale.units.phonenet import train_phonenet

            checkpoint = out / "phonenet"
            train_phonenet(manifest, checkpoint, force=force)
    elif encoder == "hubert":
        if checkpoint is None or layer is None:
            raise UserError("--encoder hubert needs --checkpoint DIR and --layer L")
        if frame_rate is not None:
            raise UserError("--frame-rate applies to mfcc/logmel; a hubert model's rate is set by its conv strides")
    elif checkpoint is not None or layer is not None:
        raise UserError(f"--checkpoint/--layer apply to --encoder hubert, not {encoder}")
    fields = {"name": encoder, "frame_rate": frame_rate, "bf16": bf16,
              "checkpoint": None if checkpoint is None else str(checkpoint), "layer": layer,
              "context": context}
    if whiten is not None:
        if whiten != "off":
            try:
                float(whiten)
            except ValueError:
                raise UserError(f"--whiten-static {whiten}: give a number of frames or 'off'") from None
        fields["whiten_static"] = None if whiten == "off" else float(whiten)
    enc = validate(EncoderConfig, fields, "units fit options")
    if k < 2:
        raise UserError(f"--k {k}: need at least 2 units")
    norm = _voice_norm(voice_norm, voice_seconds, seed)
    if norm is not None and import_kmeans is not None:
        raise UserError("--voice-norm applies to fitted centroids; imported ones were made without it")
    cfg = make_fit_config(manifest, enc, k, max_frames=max_frames, seed=seed, import_path=import_kmeans)
    if min_run < 1:
        raise UserError(f"--min-run {min_run}: give a number of frames >= 1 (1: off)")
    cfg = cfg.model_copy(update={"dedup": not no_dedup, "voice_norm": norm,
                                 "min_run": min_run if min_run > 1 else None})
    if sharded:
        from slmscale.units.fit_parts import fit_part, merge_fit

        if merge:
            merge_fit(cfg, out, int(num_shards or 0), allow_pickle=allow_pickle, force=force)
        else:
            fit_part(cfg, out, int(num_shards or 0), int(shard_index or 0), workers=workers, force=force)
        return
    fit_tokenizer(cfg, out, allow_pickle=allow_pickle, workers=workers, force=force)


def _voice_norm(choice: str, seconds: float, seed: int):
    """`--voice-norm off|whiten` and `--voice-seconds` as a VoiceNorm (None for off)."""
    if choice not in ("off", "whiten"):
        raise UserError(f"--voice-norm {choice}: choose off or whiten")
    if choice == "off":
        return None
    from slmscale.config import validate
    from slmscale.units.voice_norm import VoiceNorm

    return validate(VoiceNorm, {"seconds": seconds, "seed": seed}, "--voice-seconds")


@units_app.command("phonenet")
def phonenet_cmd(
    manifest: Path = typer.Option(..., "--manifest", help="Manifest of a synthesised corpus (with phone spans)."),
    out: Path = typer.Option(..., "--out", help="Directory for the classifier (NETDIR)."),
    steps: int = typer.Option(500, "--steps", help="Training steps (batches of 32 x 4 s windows)."),
    hidden: int = typer.Option(192, "--hidden", help="Channels per convolution."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation and batches."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Train the frame phone classifier behind `units fit --encoder phone` (espeak-ng phone labels)."""
    from slmscale.units.phonenet import PhoneNetConfig, train_phonenet

    train_phonenet(manifest, out, PhoneNetConfig(steps=steps, hidden=hidden, seed=seed), force=force)


@units_app.command("encode")
def encode_cmd(
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="Tokenizer directory from `units fit`."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Utterance manifest (JSONL)."),
    out: Path = typer.Option(..., "--out", help="Shards directory to write."),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Keep consecutive repeated units."),
    valid_fraction: float = typer.Option(0.02, "--valid-fraction",
                                         help="Fraction of train documents held out as 'valid' (seeded)."),
    valid_voices: Optional[str] = typer.Option(None, "--valid-voices",
                                               help="Comma-separated voices whose documents all go to 'valid'."),
    seed: int = typer.Option(0, "--seed", help="Seed for the validation split."),
    workers: Optional[int] = typer.Option(None, "--workers",
                                          help="Encoding processes (default: 2 for corpora over 10 h, else 1; "
                                               "hubert 1)."),
    num_shards: Optional[int] = typer.Option(None, "--num-shards",
                                             help="Split the work into N jobs (with --shard-index, or --merge)."),
    shard_index: Optional[int] = typer.Option(None, "--shard-index",
                                              help="Encode only part I (0..N-1) into OUT.parts/; merge later."),
    merge: bool = typer.Option(False, "--merge", help="Join the N finished parts in OUT.parts/ into OUT."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Encode a manifest's audio into unit token shards (bad files are skipped and listed).

    Cluster: N jobs `--num-shards N --shard-index I`, then `--num-shards N --merge` (same bytes as one job).
    """
    from slmscale.units.encode import encode_manifest
    from slmscale.units.encode_parts import check_shard_args, encode_part, merge_parts

    if not 0.0 <= valid_fraction <= 0.5:
        raise UserError(f"--valid-fraction {valid_fraction}: must be between 0 and 0.5")
    if merge:
        if shard_index is not None:
            raise UserError("--merge joins all parts; drop --shard-index")
        merge_parts(out, num_shards=num_shards, force=force)
        return
    if tokenizer is None or manifest is None:
        raise UserError("units encode needs --tokenizer TOKDIR and --manifest M")
    opts = dict(dedup=False if no_dedup else None, valid_fraction=valid_fraction,
                valid_voices=comma_list(valid_voices, "--valid-voices") or [], seed=seed, workers=workers,
                force=force)
    if num_shards is None and shard_index is None:
        encode_manifest(tokenizer, manifest, out, **opts)
        return
    if num_shards is None or shard_index is None:
        raise UserError("--num-shards and --shard-index go together (or use --num-shards N --merge)")
    check_shard_args(num_shards, shard_index)
    encode_part(tokenizer, manifest, out, num_shards, shard_index, **opts)


@units_app.command("merge")
def merge_cmd(
    parts: Optional[list[Path]] = typer.Argument(None, help="Part folders (default: every part in OUT.parts/)."),
    out: Path = typer.Option(..., "--out", help="Shards directory to write."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Join the parts of a sharded `units encode` into one shards folder (same bytes as one job)."""
    from slmscale.units.encode_parts import merge_parts

    merge_parts(out, parts=parts or None, force=force)


@units_app.command("unigram")
def unigram_cmd(
    shards: Path = typer.Option(..., "--shards", help="Unit shards from `units encode`."),
    vocab_size: int = typer.Option(..., "--vocab-size", help="Unigram vocabulary size (paper: 5000)."),
    out: Path = typer.Option(..., "--out", help="Directory for the unigram model and its shards."),
    seed: int = typer.Option(0, "--seed", help="SentencePiece seed."),
    max_train_units: int = typer.Option(20_000_000, "--max-train-units",
                                        help="Units of the train split used to learn the pieces."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
    verify: bool = typer.Option(True, "--verify/--no-verify",
                                help="Check the shards' sha256 and token ids before use (skip for very "
                                     "large shards; sizes and offsets are always checked)."),
) -> None:
    """Train a SentencePiece unigram model over unit strings and re-encode the shards with it."""
    from slmscale.units.unigram import build_unigram

    if vocab_size < 3:
        raise UserError(f"--vocab-size {vocab_size}: too small")
    build_unigram(shards, vocab_size, out, seed=seed, max_train_units=max_train_units, force=force,
                  verify=verify)


@units_app.command("pretrain")
def pretrain_cmd(
    manifest: Path = typer.Option(..., "--manifest", help="Utterance manifest (JSONL); its train split is used."),
    out: Path = typer.Option(..., "--out", help="Directory for the HubertModel (HUBERT_DIR)."),
    config: Optional[Path] = typer.Option(None, "--config", help="PretrainConfig YAML (flags override it)."),
    iterations: Optional[int] = typer.Option(None, "--iterations", help="Target-refinement iterations (default 2)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Model size: cpu-tiny, cpu-small or base."),
    steps: Optional[str] = typer.Option(None, "--steps", help="Steps per iteration, e.g. 150,100 (last repeats)."),
    k: Optional[str] = typer.Option(None, "--k", help="Clusters per iteration, e.g. 100 (last repeats)."),
    layer: Optional[int] = typer.Option(None, "--layer", help="Layer whose features give the next targets."),
    consistency: Optional[float] = typer.Option(None, "--consistency",
                                                help="Weight of the re-voiced-view consistency loss (0 = off)."),
    no_perturb: bool = typer.Option(False, "--no-perturb", help="Train on clean audio (no speed/pitch/formant/noise)."),
    target_voice_norm: bool = typer.Option(False, "--target-voice-norm",
                                           help="Whiten each voice's features before clustering them into "
                                                "the targets of iterations 2+ (uses voice labels, no text)."),
    cross_voice: bool = typer.Option(False, "--cross-voice",
                                     help="Give readings of the same text by different voices (manifest `group`) "
                                          "one DTW-aligned consensus target sequence (uses no text)."),
    max_hours: Optional[float] = typer.Option(None, "--max-hours", help="Hours of training audio to load (seeded)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for init, crops, masks, perturbations, k-means."),
    sets: Optional[list[str]] = typer.Option(None, "--set", help="Any PretrainConfig field: key=value (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Start over even when finished or resumable work is there."),
) -> None:
    """Pretrain a HuBERT-style encoder on the manifest's audio (self-supervised, no text)."""
    from slmscale.config import apply_overrides, load_yaml, validate
    from slmscale.units.pretrain import pretrain_encoder
    from slmscale.units.pretrain_config import PretrainConfig

    data = apply_overrides(load_yaml(config) if config is not None else {}, list(sets or []))
    data["manifest"] = str(manifest)
    for key, value in (("iterations", iterations), ("preset", preset), ("steps", int_list(steps, "--steps")),
                       ("k", int_list(k, "--k")), ("layer", layer), ("consistency", consistency),
                       ("max_hours", max_hours), ("seed", seed)):
        if value is not None:
            data[key] = value
    if no_perturb:
        data["perturb"] = None
    if target_voice_norm:
        data["target_voice_norm"] = {"seed": data.get("seed", 0)}
    if cross_voice:
        data.setdefault("cross_voice", {})
    cfg = validate(PretrainConfig, data, str(config) if config else "units pretrain options")
    pretrain_encoder(cfg, out, force=force)


@units_app.command("quality")
def quality_cmd(
    tokenizer: list[Path] = typer.Option(..., "--tokenizer", help="Tokenizer directory (repeat to compare)."),
    manifest: list[Path] = typer.Option(..., "--manifest",
                                        help="Manifest(s) with word (and phone) timings; repeat to add held-out voices."),
    max_utterances: int = typer.Option(300, "--max-utterances", help="Utterances per manifest (seeded subset)."),
    triplets: int = typer.Option(1000, "--triplets", help="ABX triplets (and word-edit anchors) per condition."),
    seed: int = typer.Option(0, "--seed", help="Seed for the subsets and triplets."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the JSON to this file."),
) -> None:
    """Unit quality: phone purity, PNMI, cluster purity, NMI(unit; voice), ABX, word edit distances, units per second."""
    import json

    from slmscale.artifacts import write_json
    from slmscale.units.quality import format_table, measure_many

    if max_utterances < 1 or triplets < 1:
        raise UserError("--max-utterances and --triplets must be at least 1")
    results = measure_many(list(tokenizer), list(manifest), max_utterances, triplets, seed)  # each file read once
    payload = results[0] if len(results) == 1 else results
    if out is not None:
        write_json(out, payload)
    typer.echo(json.dumps(payload, indent=1) if as_json else format_table(results))


@units_app.command("layers")
def layers_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="Local HuBERT-family model dir (e.g. from `units "
                                                              "pretrain`), or a model id in the local cache."),
    manifest: Path = typer.Option(..., "--manifest", help="Manifest whose train audio the k-means is fitted on."),
    quality_manifest: Optional[list[Path]] = typer.Option(None, "--quality-manifest",
                                                          help="Manifest(s) to measure on (repeat; default: "
                                                               "--manifest). Held-out voices show generalisation."),
    out: Path = typer.Option(..., "--out", help="Directory: a tokenizer per layer and seed (layer-L-seed-S/) "
                                                "and layers.json."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layers (default: all)."),
    k: int = typer.Option(100, "--k", help="Number of units per tokenizer."),
    max_frames: int = typer.Option(200_000, "--max-frames", help="Frames sampled for each k-means."),
    voice_norm: str = typer.Option("off", "--voice-norm", help="'whiten': as `units fit --voice-norm whiten`."),
    voice_seconds: float = typer.Option(180.0, "--voice-seconds", help="With --voice-norm: audio per voice."),
    max_utterances: int = typer.Option(300, "--max-utterances", help="Utterances measured per quality manifest."),
    triplets: int = typer.Option(1000, "--triplets", help="ABX triplets (and word-edit anchors) per condition."),
    seeds: int = typer.Option(3, "--seeds", help="Fit and measure each layer with N seeds (--seed, --seed+1, ...): "
                                                 "the ranking's margin is judged seed by seed."),
    seed: int = typer.Option(0, "--seed", help="First seed (frame sampling, k-means, subsets and triplets)."),
    bf16: bool = typer.Option(False, "--bf16", help="Run the model in bfloat16 autocast."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
    force: bool = typer.Option(False, "--force", help="Refit every layer even when its tokenizer is up to date."),
) -> None:
    """Compare layers: fit a tokenizer on each layer of a checkpoint, measure it (PNMI, ABX, NMI, rate), rank them.

    Each OUT/layer-L-seed-S is a tokenizer `units encode` takes as it is. The ranking (by PNMI, mean over
    seeds) is a frame-level guide: train an LM on the top two before settling.
    """
    import json

    from slmscale.units.layers import format_sweep, sweep_layers

    chosen = int_list(layers, "--layers")
    if k < 2:
        raise UserError(f"--k {k}: need at least 2 units")
    if max_utterances < 1 or triplets < 1:
        raise UserError("--max-utterances and --triplets must be at least 1")
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: give a number of seeds >= 1")
    norm = _voice_norm(voice_norm, voice_seconds, seed)
    payload = sweep_layers(checkpoint, manifest, list(quality_manifest or [manifest]), k, out, chosen,
                           seeds=list(range(seed, seed + seeds)), max_frames=max_frames, voice_norm=norm, bf16=bf16,
                           max_utterances=max_utterances, triplets=triplets, force=force)
    typer.echo(json.dumps(payload, indent=1) if as_json else format_sweep(payload))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(units_app, name="units")
