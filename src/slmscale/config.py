"""Pydantic configs loaded from YAML with `--set key=value` overrides.

Every config model derives from `StrictModel` (extra keys are errors). Loading validates
everything before any work starts and turns pydantic's report into one line naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from slmscale.errors import UserError

M = TypeVar("M", bound=BaseModel)


_OMIT_NONE = "omit_when_none"


def added_field(**kwargs: Any) -> Any:
    """An optional setting added after artifacts were made: left out of dumps (so out of cache
    identities and config files) while it is None, so what older versions wrote stays valid."""
    return Field(default=None, json_schema_extra={_OMIT_NONE: True}, **kwargs)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    @model_serializer(mode="wrap")
    def _omit_unused_additions(self, handler: Any) -> Any:
        data = handler(self)
        # `self` is a plain dict when a field of this model's type holds one (model_copy(update=)
        # does not validate); it has no fields to omit.
        if isinstance(data, dict) and isinstance(self, BaseModel):
            for name, f in type(self).model_fields.items():
                extra = f.json_schema_extra
                if isinstance(extra, dict) and extra.get(_OMIT_NONE) and getattr(self, name) is None:
                    data.pop(name, None)
        return data


def _parse_scalar(text: str) -> Any:
    """Parse an override value with YAML rules, so `1e-3`, `true`, `[1,2]` work as typed."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # YAML 1.1 reads "1e-3" as a string; accept it as a float.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict, copying each touched level so shared sub-dicts stay unchanged."""
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides to a nested dict (copying the touched levels)."""
    out = dict(data)
    for item in overrides or []:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value, e.g. --set model.preset=cpu-1m")
        key, _, raw = item.partition("=")
        set_dotted(out, key, _parse_scalar(raw))
    return out


def format_validation_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(root)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check spelling; see the documented config fields)"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"


def validate(model: type[M], data: dict[str, Any], source: str = "config") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise UserError(format_validation_error(err, source)) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of config keys at the top level")
    return data


def load_config(model: type[M], path: str | Path | None, overrides: list[str] | None = None) -> M:
    """Load YAML (or start empty), apply overrides, validate: errors name the file and key."""
    data = load_yaml(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    return validate(model, data, str(path) if path else "--set")
