"""Charts reuse one figure per thread: a render must not leak the previous render's data,
and a reused canvas must draw exactly what a fresh one draws."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pandas as pd

from reports import charts


def bins_frame(p0: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lows = np.arange(p0 * 0.8, p0 * 1.2, 100.0).round(-2)
    rows = [
        (lo, lo + 100.0, "long" if lo < p0 else "short", tier, float(rng.uniform(1e5, 1e7)))
        for lo in lows
        for tier in (5, 20, 50, 100)
        if rng.random() < 0.5
    ]
    return pd.DataFrame(rows, columns=["bin_lo", "bin_hi", "side", "tier", "notional_usd"])


def svg_text(uri: str) -> str:
    assert uri.startswith("data:image/svg+xml;base64,")
    return base64.b64decode(uri.split(",", 1)[1]).decode()


def draw_map(p0: float, seed: int) -> str:
    levels = [(p0 * 0.97, f"{p0 * 0.97:.0f}: below"), (p0 * 1.03, f"{p0 * 1.03:.0f}: above")]
    return charts.liquidation_map_chart(bins_frame(p0, seed), p0, levels, f"map {seed}")


def in_fresh_thread(fn):
    """Run ``fn`` in a new thread, which starts with no canvases of its own."""
    out = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join()
    return out[0]


def test_a_reused_canvas_draws_what_a_fresh_one_draws() -> None:
    first = in_fresh_thread(lambda: draw_map(60_000.0, 1))
    again = in_fresh_thread(lambda: [draw_map(90_000.0, 2), draw_map(60_000.0, 1)][1])
    assert again == first


def test_a_render_keeps_no_artist_of_the_previous_one() -> None:
    def both() -> tuple[str, str]:
        return svg_text(draw_map(60_000.0, 1)), svg_text(draw_map(90_000.0, 2))

    first, second = in_fresh_thread(both)
    assert "map 1" in first and "map 2" in second
    assert "map 1" not in second and "60,000" not in second
    assert second.count("below") == 1 and second.count("above") == 1


def test_every_chart_kind_survives_reuse_and_empty_input() -> None:
    days = pd.date_range("2024-02-01", periods=30, freq="D")
    history = pd.DataFrame({"day": days.date, "oi_usd": np.linspace(5e9, 7e9, 30)})
    hours = pd.date_range("2024-02-28", periods=48, freq="h")
    heat = pd.DataFrame(
        [(h, lo, lo + 5.0, (i + 1) * 1e5) for i, h in enumerate(hours) for lo in (100.0, 105.0, 110.0)],
        columns=["hour", "bin_lo", "bin_hi", "notional_usd"],
    )  # fmt: skip
    path = pd.DataFrame({"time": hours, "close": np.linspace(101.0, 109.0, 48)})

    def draw() -> list[str]:
        return [
            charts.oi_history_chart(history, 7.5e9, days[-1].date(), "oi"),
            charts.oi_history_chart(history.iloc[:10], 9e9, days[5].date(), "oi short"),
            charts.heatmap_chart(heat, path, "heat"),
            charts.heatmap_chart(heat.iloc[:30], path.iloc[:10], "heat small"),
            charts.oi_history_chart(history, 7.5e9, days[-1].date(), "oi"),
            charts.heatmap_chart(heat, path, "heat"),
            charts.heatmap_chart(heat.iloc[:0], path, "none"),
        ]

    out = in_fresh_thread(draw)
    assert out[4] == out[0] and out[5] == out[2]
    # a canvas that drew other data first draws what a fresh canvas draws
    assert (
        in_fresh_thread(lambda: charts.heatmap_chart(heat.iloc[:30], path.iloc[:10], "heat small"))
        == out[3]
    )
    assert (
        in_fresh_thread(
            lambda: charts.oi_history_chart(history.iloc[:10], 9e9, days[5].date(), "oi short")
        )
        == out[1]
    )
    assert "$7.50B" in svg_text(out[0]) and "$9.00B" in svg_text(out[1])
    assert "no heatmap for this date" in svg_text(out[6])


def test_the_heatmap_grid_is_regular_with_empty_hours_and_bins_zero() -> None:
    t0 = pd.Timestamp("2024-03-01 00:00", tz="UTC")
    rows = [  # hour offset, bin_lo, side, notional
        (0, 100.0, "long", 1.0),
        (0, 100.0, "short", 2.0),  # same cell, other side: summed
        (3, 130.0, "short", 4.0),  # hours 1-2 and bins 110, 120 empty
        (1, 100.0, "long", 8.0),
    ]
    heat = pd.DataFrame(
        [(t0 + pd.Timedelta(hours=h), lo, lo + 10.0, side, v) for h, lo, side, v in rows],
        columns=["hour", "bin_lo", "bin_hi", "side", "notional_usd"],
    )
    values, (first, last), (low, high) = charts.hour_by_price_grid(
        heat.sample(frac=1, random_state=3)
    )
    expected = np.zeros((4, 4))  # bins 100..130 × hours 0..3
    expected[0, 0], expected[3, 3], expected[0, 1] = 3.0, 4.0, 8.0
    np.testing.assert_array_equal(values, expected)
    assert (first, last) == (
        np.datetime64("2024-03-01T00", "h"),
        np.datetime64("2024-03-01T03", "h"),
    )
    assert (low, high) == (100.0, 140.0)


def test_the_curves_are_c_l_and_c_s_of_the_key_levels() -> None:
    """The drawn cumulative curves are C_L(p) (longs in the bins of [p, P0)) and C_S(p)
    (shorts in the bins of (P0, p]): a long bin above P0 or a short bin below it, which the
    key levels leave out, is not in the curves either."""
    p0 = 60_050.0
    bins = bins_frame(p0, 3)
    strays = pd.DataFrame(
        [(60_200.0, 60_300.0, "long", 5, 5e9), (59_700.0, 59_800.0, "short", 5, 5e9)],
        columns=bins.columns,
    )
    frame = pd.concat([bins, strays], ignore_index=True)

    def drawn():
        charts.liquidation_map_chart(frame, p0, [], "curves")
        canvas = charts._canvas(charts._LiquidationMapCanvas)
        return canvas.long_line.get_data(), canvas.short_line.get_data()

    (long_x, long_y), (short_x, short_y) = in_fresh_thread(drawn)
    longs, shorts = frame[frame["side"] == "long"], frame[frame["side"] == "short"]
    expected_long = [
        longs.loc[(longs["bin_lo"] >= x) & (longs["bin_lo"] < p0), "notional_usd"].sum()
        for x in long_x
    ]
    expected_short = [
        shorts.loc[(shorts["bin_hi"] <= x) & (shorts["bin_hi"] > p0), "notional_usd"].sum()
        for x in short_x
    ]
    assert len(long_x) > 100 and len(short_x) > 100
    assert np.allclose(long_y, expected_long, rtol=1e-12) and max(long_y) < 5e9
    assert np.allclose(short_y, expected_short, rtol=1e-12) and max(short_y) < 5e9
