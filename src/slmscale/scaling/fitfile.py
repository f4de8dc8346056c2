"""Read fit records: our Fit JSON or the published coefficients in configs/published (YAML/JSON).

A loss record needs E, A, B, alpha, beta (a, b, G are derived when absent); a downstream
record has form "downstream" and per-arm "gamma" (and "k" when absolute levels are known).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from slmscale.errors import UserError
from slmscale.scaling import forms
from slmscale.scaling.chinchilla import LossFit

# Shipped inside the package (configs/published links here) so a non-editable install has them.
PUBLISHED_DIR = Path(__file__).resolve().parent / "published"


def load(path: str | Path) -> dict:
    """Load and check a fit record; loss records get a, b, G filled in."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: fit file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is valid YAML
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid JSON/YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping (a fit record)")
    form = data.get("form", "chinchilla")
    if form == "downstream":
        arms = data.get("arms")
        if not isinstance(arms, dict) or not arms:
            raise UserError(f"{path}: a downstream record needs 'arms' with a 'gamma' per arm")
        for name, arm in arms.items():
            if not isinstance(arm, dict) or not _positive_number(arm.get("gamma")):
                raise UserError(f"{path}: arms.{name}.gamma must be a positive number")
        return data
    if form not in ("chinchilla", "data-constrained"):
        raise UserError(f"{path}: unknown form {form!r} (chinchilla, data-constrained, downstream)")
    for key in forms.LOSS_PARAMS:
        if not _positive_number(data.get(key)):
            raise UserError(f"{path}: '{key}' must be a positive number in a {form} fit")
    data.update(forms.derived(data))
    return data


def _positive_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v > 0


def loss_fit(record: dict) -> LossFit:
    return LossFit(**{k: float(record[k]) for k in forms.LOSS_PARAMS},
                   huber_delta=float(record.get("huber_delta") or 0.0),
                   n_points=int(record.get("n_points") or 0), form=record.get("form", "chinchilla"))


def loss_samples(record: dict) -> np.ndarray | None:
    """Bootstrap rows (E, A, B, alpha, beta) kept in a Fit JSON, or None."""
    s = record.get("bootstrap", {}).get("samples")
    if not s or not all(k in s for k in forms.LOSS_PARAMS):
        return None
    arr = np.column_stack([np.asarray(s[k], dtype=float) for k in forms.LOSS_PARAMS])
    return arr[np.all(np.isfinite(arr), axis=1)]


def published() -> dict[str, Path]:
    """Name -> path of every published coefficient file shipped with the package (also at configs/published)."""
    if not PUBLISHED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(PUBLISHED_DIR.iterdir()) if p.suffix in (".yaml", ".yml", ".json")}
