"""Atomic, self-contained training checkpoints (no pickle).

RUN/checkpoints/step-00000123/
  model.safetensors      model weights
  optimizer.safetensors  optimizer state tensors, keyed "<param index or name>::<state name>"
  rng.safetensors        torch CPU (and CUDA) generator states
  state.json             step, tokens, data position, optimizer hyper-parameters, schedule, ...
A checkpoint is written to a hidden temporary folder and renamed into place, so a crash never
leaves a partial checkpoint under a final name; only the newest `keep` are kept.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from slmscale.artifacts import atomic_write_text, dumps
from slmscale.errors import UserError

PREFIX = "step-"


def rng_state(device: Any) -> dict[str, Any]:
    """The torch generator states a checkpoint's rng.safetensors holds (CPU, and the device's CUDA one)."""
    import torch

    rng = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def restore_rng(rng: dict[str, Any], device: Any) -> None:
    """Put back the generator states of `rng_state` (the CUDA one only on a CUDA device)."""
    import torch

    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], device)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_tensors(tensors: dict[str, Any], path: Path) -> None:
    from safetensors.torch import save_file

    out, seen = {}, set()
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        if v.data_ptr() in seen and v.numel():  # tied weights: safetensors refuses shared memory
            v = v.clone()
        seen.add(v.data_ptr())
        out[k] = v
    save_file(out, str(path))
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def optimizer_to_flat(opt_state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a torch optimizer state_dict into tensors and JSON-able hyper-parameters."""
    import torch

    tensors, scalars = {}, {}
    for idx, st in opt_state["state"].items():
        for name, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{idx}::{name}"] = val
            else:
                scalars[f"{idx}::{name}"] = val
    return tensors, {"param_groups": opt_state["param_groups"], "scalars": scalars}


def optimizer_from_flat(tensors: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, val in list(tensors.items()) + list(info.get("scalars", {}).items()):
        idx, _, name = key.partition("::")
        state.setdefault(int(idx) if idx.isdigit() else idx, {})[name] = val
    return {"state": state, "param_groups": info["param_groups"]}


def save_checkpoint(ckpt_dir: Path, step: int, model_state: dict[str, Any], opt_state: dict[str, Any],
                    rng: dict[str, Any], state: dict[str, Any], keep: int) -> Path:
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"{PREFIX}{step:08d}"
    tmp = ckpt_dir / f".tmp-{PREFIX}{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _save_tensors(model_state, tmp / "model.safetensors")
        opt_tensors, opt_info = optimizer_to_flat(opt_state)
        _save_tensors(opt_tensors, tmp / "optimizer.safetensors")
        _save_tensors(rng, tmp / "rng.safetensors")
        atomic_write_text(tmp / "state.json", dumps({**state, "step": step, "optimizer": opt_info}))
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # e.g. disk full: leave no half checkpoint behind
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(ckpt_dir)
    for old in list_checkpoints(ckpt_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.glob(f"{PREFIX}*") if (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def load_checkpoint(path: Path, required: tuple[str, ...] = ("step",)
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(model tensors, optimizer state_dict, rng tensors, state) of one checkpoint; a UserError naming
    it when any file is damaged (truncated safetensors, bad JSON, `required` state keys missing)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = json.loads((path / "state.json").read_text())
        model = load_file(str(path / "model.safetensors"))
        opt = optimizer_from_flat(load_file(str(path / "optimizer.safetensors")), state["optimizer"])
        rng = load_file(str(path / "rng.safetensors"))
        missing = [key for key in required if key not in state]
        if missing:
            raise KeyError(f"state.json lacks {', '.join(missing)}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, SafetensorError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: damaged checkpoint ({type(err).__name__}: {reason}); "
                        "delete it to resume from an older one") from None
    if "cpu" not in rng:
        raise UserError(f"{path}: damaged checkpoint (rng.safetensors has no cpu state); "
                        "delete it to resume from an older one")
    return model, opt, rng, state


def set_aside_checkpoint(path: Path) -> Path:
    """Rename a damaged checkpoint to `.damaged-<name>`: kept for a look, no longer listed or rotated."""
    aside = path.with_name(f".damaged-{path.name}")
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(path, aside)
    return aside
