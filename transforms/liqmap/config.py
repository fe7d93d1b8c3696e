"""Model settings: tiers, windows, bins, and the ablation switches of the design note."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from transforms.liquidation_price import Formula

# 2: cohorts from contracts, per-side shrink, grid from each snapshot's own P0 (issue 11)
# 3: estimated liquidations count only cohorts born in the 30 days before (issue 13), so a
#    day's figure no longer depends on how much history the run started with; a mark minute
#    without a finite price is a hole, not a touch
MODEL_VERSION = 3
WINDOWS: dict[str, int] = {"1d": 1, "7d": 7, "30d": 30}  # days
TIERS: tuple[int, ...] = (3, 5, 10, 20, 25, 50, 75, 100, 125)
AGGRESSIVE_PRIOR = {5: 0.10, 10: 0.20, 20: 0.20, 25: 0.20, 50: 0.18, 75: 0.06, 100: 0.05, 125: 0.01}
PASSIVE_PRIOR = {3: 0.20, 5: 0.25, 10: 0.30, 20: 0.15, 50: 0.10}


@dataclass(frozen=True)
class TierMix:
    """Leverage weights for the aggressor side and the passive side; each sums to 1."""

    aggressive: dict[int, float] = field(default_factory=lambda: dict(AGGRESSIVE_PRIOR))
    passive: dict[int, float] = field(default_factory=lambda: dict(PASSIVE_PRIOR))

    def __post_init__(self) -> None:
        for name, mix in (("aggressive", self.aggressive), ("passive", self.passive)):
            unknown = set(mix) - set(TIERS)
            if unknown:
                raise ValueError(f"{name} mix has tiers {sorted(unknown)} outside {TIERS}")
            if abs(sum(mix.values()) - 1) > 1e-9 or min(mix.values()) < 0:
                raise ValueError(f"{name} leverage mix must be non-negative and sum to 1")

    @classmethod
    def from_json(cls, raw: str | bytes) -> TierMix:
        data = json.loads(raw)
        return cls(
            {int(k): float(v) for k, v in data["aggressive"].items()},
            {int(k): float(v) for k, v in data["passive"].items()},
        )

    def vectors(self) -> tuple[list[int], list[float], list[float]]:
        """Tiers used by either mix, with each mix's weight per tier (0 where absent)."""
        tiers = sorted(set(self.aggressive) | set(self.passive))
        return (
            tiers,
            [self.aggressive.get(t, 0.0) for t in tiers],
            [self.passive.get(t, 0.0) for t in tiers],
        )


@dataclass(frozen=True)
class ModelConfig:
    """Every choice the map depends on; its fingerprint goes into the lake's ledger."""

    bin_size: float | None = None  # USD per bin; None = chosen from the price level
    range_pct: float = 0.20  # bins cover P0 ± this fraction
    round_step: float | None = None  # round thresholds ($1,000 for BTC); None = from price level
    snapshot_offset_minutes: int = 0  # snapshot at 00:00 UTC + offset of each date
    position_notional: float = 10_000.0  # representative position size for the bracket
    formula: Formula = "exact"
    both_sides: bool = True  # False: only the aggressor side opens a cohort
    entry: Literal["vwap", "close"] = "vwap"
    shrink_on_oi_decrease: bool = True
    tiers: TierMix = field(default_factory=TierMix)

    def fingerprint(self) -> str:
        """Names the model and its settings; changes when either does."""
        identity = {"model_version": MODEL_VERSION, **asdict(self)}
        return hashlib.sha256(
            json.dumps(identity, sort_keys=True, default=str).encode()
        ).hexdigest()


def nice_step(raw: float) -> float:
    """Round a step up to 1, 2 or 5 times a power of ten."""
    import math

    exponent = math.floor(math.log10(raw))
    for mantissa in (1, 2, 5, 10):
        if mantissa * 10**exponent >= raw:
            return float(mantissa * 10**exponent)
    return float(10 ** (exponent + 1))  # pragma: no cover


def default_bin_size(price: float) -> float:
    """$100 at BTC's ~$100k: about 0.1 % of price, rounded to a nice step."""
    return nice_step(price * 0.001)


def default_round_step(price: float) -> float:
    """$1,000 at BTC's ~$100k: about 1 % of price, rounded to a nice step."""
    return nice_step(price * 0.01)


# Per-symbol bin and round-threshold sizes (USD); other symbols get price-based defaults.
SYMBOL_GRID: dict[str, tuple[float, float]] = {"BTCUSDT": (100.0, 1_000.0)}


def grid_for(symbol: str, price: float, config: ModelConfig) -> tuple[float, float]:
    """(bin size, round-threshold step) for a symbol: config first, then the table, then price."""
    table_bin, table_step = SYMBOL_GRID.get(symbol, (None, None))
    bin_size = config.bin_size or table_bin or default_bin_size(price)
    step = config.round_step or table_step or default_round_step(price)
    return bin_size, step
