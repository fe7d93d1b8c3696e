"""Strict JSON for `--json` output: NaN and infinity become null (json.dumps would otherwise
write the non-standard NaN/Infinity tokens that strict parsers refuse)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: non-finite floats → None, dates → ISO strings,
    numpy/pandas scalars → Python scalars, containers recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, datetime | date) or hasattr(value, "isoformat"):  # pandas too
        return None if _is_missing(value) else value.isoformat()  # NaT is a datetime
    if hasattr(value, "item") and not isinstance(value, int | float):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    return None if _is_missing(value) else str(value)


def _is_missing(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN, NaT and pd.NA compare unequal to themselves
    except TypeError:  # pd.NA raises on bool()
        return True


def strict_json(value: Any) -> str:
    """Indented JSON any strict parser accepts."""
    return json.dumps(plain(value), indent=2, allow_nan=False)
