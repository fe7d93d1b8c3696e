"""The track record's words and the realised overlay chart, without a lake: figures left out
when not scored (never "nan"), one line when nothing is scored, the recorder's hours, the
top-decile bins the chart darkens and one dot per realised liquidation."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from liqbrief.testing.track_record import realised_day, summary_row
from reports.charts import _canvas
from reports.overlay_chart import _RealisedOverlayCanvas, realised_overlay_chart, top_decile_bins
from reports.track_record import (
    covered_hours,
    overlay_caption,
    track_record_block,
    track_record_line,
)
from tests.reports.test_charts import bins_frame, in_fresh_thread, svg_text
from transforms.liqmap.validation import precision_score

NAN = math.nan
DAY = date(2024, 3, 5)


def rows(*summaries: dict) -> pd.DataFrame:
    return pd.DataFrame(list(summaries))


def test_the_line_states_the_exact_models_figures_with_the_naive_beside() -> None:
    exact, naive = summary_row("exact", 30, 1), summary_row("naive", 30, 2)
    other = summary_row("exact", 90, 3)
    line = track_record_line("BTCUSDT", rows(other, naive, exact))
    expected = (
        f"BTC: {exact['top_precision'] * 100:.0f} % of top-decile bins hit (95 % lower bound "
        f"{exact['top_precision_lower_95'] * 100:.0f} %) vs {exact['baseline_hit_share'] * 100:.0f} % "
        f"of all bins and {exact['nearest_hit_share'] * 100:.0f} % of the bins nearest the price; "
        f"naive formula {naive['top_precision'] * 100:.0f} %. Daily ρ estimated vs "
        f"realised {exact['time_spearman_1d']:.2f} (95 % 0.10 to 0.90; naive "
        f"{naive['time_spearman_1d']:.2f}; {exact['time_days']} days vs Coinglass, all Binance "
        f"BTC contracts). "
        f"{exact['days_scored']} of 30 days scored, {exact['events']:,} liquidations, "
        f"{exact['coverage_pct']:.0f} % of hours recorded."
    )
    assert line == expected


def test_figures_not_scored_are_left_out_never_nan() -> None:
    exact = summary_row("exact", 30, 1) | {
        "time_spearman_1d": NAN, "time_spearman_1d_lo": NAN, "time_spearman_1d_hi": NAN,
        "time_days": 0, "top_precision_lower_95": NAN, "baseline_hit_share": NAN,
        "nearest_hit_share": NAN,
    }  # fmt: skip
    line = track_record_line("ETHUSDT", rows(exact))
    assert "nan" not in line.lower() and "ρ" not in line and "naive" not in line
    assert line.startswith(f"ETH: {exact['top_precision'] * 100:.0f} % of top-decile bins hit.")
    unscored = summary_row("exact", 30, 1) | {"days_scored": 0, "top_precision": NAN}
    line = track_record_line("ETHUSDT", rows(unscored))
    assert "No day with enough recorded liquidations" in line and "Daily ρ" in line


def test_nothing_scored_is_one_line_naming_the_recorder() -> None:
    nothing = summary_row("exact", 30, 1) | {"days_scored": 0, "time_days": 0}
    intro, lines = track_record_block(["BTCUSDT", "ETHUSDT"], {"BTCUSDT": rows(nothing)})
    assert intro == "" and len(lines) == 1
    assert "No track record yet: no day of BTC, ETH scored" in lines[0]
    assert "`liqbrief record` (see README)" in lines[0]
    intro, lines = track_record_block(
        ["BTCUSDT", "ETHUSDT"], {"BTCUSDT": rows(summary_row("exact", 30, 1))}
    )
    assert "top-decile bins" in intro and len(lines) == 2
    assert lines[1] == (
        "ETH: no scored day in the last 30 days — start the recorder with `liqbrief record` "
        "(see README) and score the maps with `liqbrief validate`."
    )


def test_covered_hours_union_overlaps_and_clip_to_the_day() -> None:
    t = pd.Timestamp(DAY, tz="UTC")
    h = pd.Timedelta(hours=1)
    coverage = pd.DataFrame(
        {
            "start": [t - 2 * h, t + 3 * h, t + 5 * h, t + 23 * h],
            "end": [t + 4 * h, t + 6 * h, t + 6 * h, t + 26 * h],
            "source": ["stream"] * 4,
        }
    )
    assert covered_hours(coverage, DAY) == 7  # 00–06 and 23–24
    assert covered_hours(coverage.iloc[0:0], DAY) == 0
    half = coverage.assign(end=coverage["end"] - pd.Timedelta(minutes=30))
    assert covered_hours(half, DAY) == 6  # 00–05:30, 23–24: 05–06 has a gap, as validation counts


def test_the_caption_counts_each_side_and_the_hours() -> None:
    realised = realised_day(DAY, 60_000.0, 40, 7)
    start = pd.Timestamp(DAY, tz="UTC")
    coverage = pd.DataFrame(
        {"start": [start], "end": [start + pd.Timedelta(hours=20)], "source": ["stream"]}
    )
    caption = overlay_caption(realised, coverage, DAY)
    longs = int((realised["side"] == "long").sum())
    assert f"the 40 liquidations Binance reported on 05 Mar 2024 (longs {longs}," in caption
    assert (
        f"shorts {40 - longs}," in caption and "20 of 24 hours covered (stream recorder)" in caption
    )
    assert "lower bound" in caption  # stream rows: Binance pushes one per second at most


def test_the_darkened_bins_are_the_ones_validation_scores() -> None:
    bins = bins_frame(60_000.0, 3)
    per_bin = bins.groupby(["side", "bin_lo"], as_index=False)["notional_usd"].sum()
    top = top_decile_bins(per_bin)
    notional = per_bin["notional_usd"].to_numpy(float)
    assert top.sum() == precision_score(notional, np.ones(len(per_bin)), 10).top_bins
    assert per_bin["notional_usd"][top].min() >= per_bin["notional_usd"][~top].max()


def test_the_overlay_draws_one_dot_per_liquidation() -> None:
    """The dots are one raster image in the SVG (vector circles cost the PDF dearly): count
    what the canvas drew, and check the image is there."""
    bins = bins_frame(60_000.0, 3)
    realised = realised_day(DAY, 60_000.0, 25, 5)

    def dots(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], str]:
        svg = svg_text(realised_overlay_chart(bins, frame, 60_000.0, "overlay"))
        canvas = _canvas(_RealisedOverlayCanvas)
        return {side: c.get_offsets().copy() for side, c in canvas.scatter.items()}, svg

    (drawn, svg), (none, empty_svg) = in_fresh_thread(
        lambda: (dots(realised), dots(realised.iloc[0:0]))
    )
    for side in ("long", "short"):
        rows = realised[realised["side"] == side]
        assert np.array_equal(drawn[side][:, 0], rows["price"].to_numpy())
        assert np.array_equal(drawn[side][:, 1], rows["notional_usd"].to_numpy())
        assert len(none[side]) == 0
    assert svg.count("<image ") == 1 and empty_svg.count("<image ") == 0
    far = realised.assign(price=np.where(realised["side"] == "long", 30_000.0, 90_000.0))
    # beyond the map's range (48,000–72,000): the price axis widens to show them
    axis = svg_text(in_fresh_thread(lambda: realised_overlay_chart(bins, far, 60_000.0, "far")))
    assert "30,000" in axis and "90,000" in axis


def test_realised_data_without_a_summary_name_the_validate_to_run() -> None:
    """Validation failed (or never ran) for the date although liquidations are stored: the line
    says the track record was not computed and the command to run, not "start the recorder"."""
    intro, lines = track_record_block(["BTCUSDT"], {"BTCUSDT": rows()}, DAY, {"BTCUSDT"})
    assert intro == "" and lines == [
        "BTC: track record not computed for this date, although realised liquidations of the "
        "last 30 days are stored — run `liqbrief validate --symbols BTCUSDT --start 2024-02-04 "
        "--end 2024-03-04`."
    ]
    intro, lines = track_record_block(
        ["BTCUSDT", "ETHUSDT"], {"BTCUSDT": rows(summary_row("exact", 30, 1))}, DAY, {"ETHUSDT"}
    )
    assert "top-decile bins" in intro and lines[0].startswith("BTC: ")
    assert lines[1].startswith("ETH: track record not computed") and "record`" not in lines[1]


def test_the_dots_axis_has_two_labelled_ticks_within_one_decade() -> None:
    """Every notional between $35K and $60K: the log axis still shows at least two ticks."""
    bins = bins_frame(60_000.0, 3)
    realised = realised_day(DAY, 60_000.0, 30, 6)
    realised["notional_usd"] = np.linspace(35_000.0, 60_000.0, len(realised))

    def ticks() -> list[float]:
        realised_overlay_chart(bins, realised, 60_000.0, "one decade")
        axis = _canvas(_RealisedOverlayCanvas).dots
        low, high = axis.get_ylim()
        return [t for t in axis.get_yticks() if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]

    shown = in_fresh_thread(ticks)
    assert len(shown) >= 2, shown
