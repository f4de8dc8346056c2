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


STUDY_KIND = "study-fits"  # a study's DIR/fits.json: per-arm loss fits and downstream laws


def load(path: str | Path, arm: str | None = None, metric: str | None = None) -> dict:
    """Load and check a fit record; loss records get a, b, G filled in.

    A study's fits.json holds one record per arm: `arm` picks it (needed when several arms have
    one); `metric` asks for that arm's downstream law instead of its loss fit.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: fit file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is valid YAML
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid JSON/YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping (a fit record)")
    if data.get("kind") == STUDY_KIND:
        data = from_study(data, path, arm, metric)
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
        v = data.get(key)
        # E may be 0 (no irreducible loss, or a degenerate fit whose E underflowed: the planner
        # then says why it refuses, instead of a complaint about the number).
        ok = _positive_number(v) or (key == "E" and _number(v) and v == 0)
        if not ok:
            raise UserError(f"{path}: '{key}' must be a positive number in a {form} fit")
    data.update(forms.derived(data))
    return data


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def _positive_number(v) -> bool:
    return _number(v) and v > 0


def from_study(doc: dict, path: Path, arm: str | None, metric: str | None) -> dict:
    """One arm's loss fit (or, with `metric`, its downstream law as a downstream record) from a
    study's fits.json."""
    arms = doc.get("arms") or {}
    want = "downstream" if metric else "loss_fit"
    have = [a for a, f in arms.items()
            if (metric in (f.get("downstream") or {}) if metric else "alpha" in (f.get("loss_fit") or {}))]
    if arm is None:
        if len(have) != 1:
            raise UserError(f"{path}: a study fit with arms {', '.join(arms) or 'none'}; choose one with --arm"
                            + ("" if have else f" (none has a {metric or 'loss'} fit)"))
        arm = have[0]
    if arm not in arms:
        raise UserError(f"{path}: arm {arm!r} not in the study's fits (have: {', '.join(arms) or 'none'})")
    if metric:
        law = (arms[arm].get(want) or {}).get(metric)
        if not law or "gamma" not in law:
            why = (law or {}).get("error", "not fitted")
            raise UserError(f"{path}: arm {arm!r} has no {metric} law vs compute ({why})")
        return {"form": "downstream", "metric": metric, "compute": law.get("compute"), "arms": {arm: law},
                "source": f"{path} [arm {arm}]"}
    rec = arms[arm].get(want) or {}
    if "alpha" not in rec:
        raise UserError(f"{path}: arm {arm!r} has no loss fit ({rec.get('error', 'not fitted')})")
    return {**rec, "source": f"{path} [arm {arm}]"}


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
