"""Page 1's thresholds table (reports/briefing.py key_levels_table): a round level within
rounding of the mark (its distance would read "-0.0 %") is not a threshold price has to
travel to, so that side lists its other levels; every other level is listed as before."""

from __future__ import annotations

import pytest

from reports.briefing import key_levels_table


def summary(p0: float, below: tuple, above: tuple) -> dict:
    """A 7d summary row with the given round levels (cumulatives grow with distance)."""
    row = {"p0": p0}
    for k, (lo, hi) in enumerate(zip(below, above, strict=True), start=1):
        row |= {f"round_below_{k}": lo, f"cum_long_round_below_{k}": k * 1e7}
        row |= {f"round_above_{k}": hi, f"cum_short_round_above_{k}": k * 2e7}
    for p in (2, 5):
        row |= {f"cum_long_{p}pct": p * 1e8, f"cum_short_{p}pct": p * 3e8}
    return row | {
        "long_cluster_distance_pct": -10.9, "long_cluster_usd": 2.4e7,
        "short_cluster_distance_pct": 19.5, "short_cluster_usd": 3.75e8,
    }  # fmt: skip


def columns(table) -> tuple[list[list[str]], list[list[str]]]:
    below = [row[:3] for row in table.rows[:-1]]
    above = [row[3:] for row in table.rows[:-1]]
    return below, above


def test_a_round_level_within_rounding_of_the_mark_is_left_out() -> None:
    # 62,000 is 0.048 % under the mark 62,030: it used to be the first row, "-0.0 %", "$0"
    table = key_levels_table(
        summary(62_030.0, (62_000.0, 61_000.0, 60_000.0), (63_000.0, 64_000.0, 65_000.0))
    )
    cells = [cell for row in table.rows for cell in row]
    assert not {"-0.0 %", "+0.0 %"} & set(cells) and "62,000" not in cells
    below, above = columns(table)
    assert below == [
        ["61,000", "-1.7 %", "$20.0M"], ["60,789", "-2.0 %", "$200M"],
        ["60,000", "-3.3 %", "$30.0M"], ["58,928", "-5.0 %", "$500M"], ["", "", ""],
    ]  # fmt: skip
    assert [r[0] for r in above] == ["63,000", "63,271", "64,000", "65,000", "65,132"]
    assert table.rows[-1][0] == "largest bin" and table.rows[-1][3] == "largest bin"


def test_the_same_on_the_upper_side() -> None:
    table = key_levels_table(
        summary(62_980.0, (62_000.0, 61_000.0, 60_000.0), (63_000.0, 64_000.0, 65_000.0))
    )
    below, above = columns(table)
    assert "63,000" not in [r[0] for r in above] and above[-1] == ["", "", ""]
    assert [r[1] for r in above[:-1]] == ["+1.6 %", "+2.0 %", "+3.2 %", "+5.0 %"]
    assert len(below) == 5 and below[0][:2] == ["62,000", "-1.6 %"]


@pytest.mark.parametrize("p0", [62_032.0, 62_040.0])  # reads -0.1 %: listed as before
def test_a_level_reading_at_least_0_1_pct_away_stays(p0: float) -> None:
    table = key_levels_table(
        summary(p0, (62_000.0, 61_000.0, 60_000.0), (63_000.0, 64_000.0, 65_000.0))
    )
    below, _ = columns(table)
    assert below[0][:2] == ["62,000", "-0.1 %"] and len(table.rows) == 6
    assert all(cell != "" for row in table.rows for cell in row)
