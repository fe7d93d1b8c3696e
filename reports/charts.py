"""Matplotlib charts rendered to inline SVG: the liquidation map, the 7-day heatmap and
open-interest history. Text stays text (DejaVu Sans), metadata dates are dropped and ids are
salted, so the same data gives byte-identical SVG. Margins are fixed per chart.

Building a figure (axes, ticks, fonts, legend) costs more than drawing it, so each thread
keeps one canvas per chart kind and a render only swaps the data artists. A canvas is
never shared between threads: matplotlib figures are not thread-safe.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt  # rcParams only: figures are built without pyplot (thread-safe)
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from reports.formatting import price, usd
from transforms.liqmap.key_levels import longs_below, shorts_above

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text, set in DejaVu Sans (embedded in the PDF)
        "svg.hashsalt": "liqbrief",
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 9,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "figure.subplot.left": 0.09,
        "figure.subplot.right": 0.91,
        "figure.subplot.top": 0.88,
        "figure.subplot.bottom": 0.2,
    }
)

# Leverage groups as vendors colour them, low to high.
TIER_GROUPS = [
    ("≤10x", (0, 10), "#9ecae1"),
    ("20–25x", (11, 25), "#4292c6"),
    ("50x", (26, 50), "#f2a541"),
    ("75–125x", (51, 1000), "#d7301f"),
]
LONG_CURVE, SHORT_CURVE, PRICE_LINE = "#1a7f37", "#c0392b", "#222222"
ChartFormat = Literal["svg", "png"]
HEADROOM = 1.05  # y-axis top as a multiple of the tallest value
# a level's label often falls on bars: a pale backing keeps it readable
LABEL_BACKING = {
    "boxstyle": "square,pad=0.15",
    "facecolor": "white",
    "edgecolor": "none",
    "alpha": 0.8,
}
TITLE_Y = 1.02  # titles sit just above the axes (a fixed spot: no overlap search)


def _data_uri(fig: Figure, fmt: ChartFormat) -> str:
    """The figure as a data URI (self-contained). "png" (LIQBRIEF_CHART_FORMAT, checked with
    the other settings) trades vector sharpness for render speed."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"chart format {fmt!r}: use svg or png")
    buffer = io.BytesIO()
    metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    # in SVG, dpi only sets the colour bar's raster (the heatmap image is one pixel per cell)
    dpi = 120 if fmt == "svg" else 170
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)  # fixed margins: one draw
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _placeholder(size: tuple[float, float], message: str, fmt: ChartFormat) -> str:
    fig = Figure(figsize=size)
    ax = fig.subplots()
    ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)
    return _data_uri(fig, fmt)


def _money_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: usd(v) if v else "0"))


def _price_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: price(v)))


def _date_axis(axis) -> None:
    """Evenly spaced day ticks: month-anchored ones crowd at month ends (29 Feb, 01 Mar)."""
    axis.set_major_locator(AutoDateLocator(minticks=4, maxticks=9, interval_multiples=False))
    axis.set_major_formatter(DateFormatter("%d %b"))


def _fixed_layout(*axes) -> None:
    """Place axis labels at fixed spots (titles get a fixed ``y``: TITLE_Y). Left automatic,
    matplotlib measures every tick label of every sibling axis on each draw to dodge them:
    a third of a chart's cost, for margins that are fixed here anyway."""
    for ax in axes:
        ax.xaxis.set_label_coords(0.5, -0.12)
        ax.yaxis.set_label_coords(-0.09 if ax.yaxis.get_label_position() == "left" else 1.09, 0.5)


class _Canvas:
    """A figure whose fixed parts are built once; ``_transient`` holds this render's artists."""

    SIZE: tuple[float, float]

    def __init__(self) -> None:
        self._transient: list = []
        self.fig = Figure(figsize=self.SIZE)
        self.ax = self.fig.subplots()

    def _keep(self, artist):
        self._transient.append(artist)
        return artist

    def _clear(self) -> None:
        for artist in self._transient:
            artist.remove()
        self._transient.clear()

    def _finish(self, title: str, fmt: ChartFormat) -> str:
        self.ax.set_title(title, y=TITLE_Y)
        return _data_uri(self.fig, fmt)


class _LiquidationMapCanvas(_Canvas):
    SIZE = (7.2, 2.35)

    def __init__(self) -> None:
        super().__init__()
        self.fig.subplots_adjust(left=0.11)  # room for the y-axis label left of its ticks
        self.curve = self.ax.twinx()
        # Each group is drawn from zero up to its stacked top, highest group first, so lower
        # groups paint over it: one outline per group instead of a top and a bottom edge.
        self.steps = [
            self.ax.stairs([0.0], [0.0, 1.0], fill=True, color=colour, linewidth=0)
            for _, _, colour in reversed(TIER_GROUPS)
        ][::-1]
        (self.long_line,) = self.curve.plot([], [], color=LONG_CURVE, linewidth=1.4)
        (self.short_line,) = self.curve.plot([], [], color=SHORT_CURVE, linewidth=1.4)
        self.price_line = self.ax.axvline(0.0, color=PRICE_LINE, linewidth=1.0, linestyle="--")
        self.ax.set_ylabel("est. notional per bin")
        _money_axis(self.ax.yaxis)
        _money_axis(self.curve.yaxis)
        _price_axis(self.ax.xaxis)
        self.curve.spines["right"].set_visible(True)
        handles = [Patch(color=colour, label=label) for label, _, colour in TIER_GROUPS] + [
            Line2D([], [], color=LONG_CURVE, linewidth=1.4, label="cumulative longs"),
            Line2D([], [], color=SHORT_CURVE, linewidth=1.4, label="cumulative shorts"),
        ]
        self.ax.legend(handles=handles, fontsize=6.5, ncol=6, loc="upper center",
                       bbox_to_anchor=(0.5, -0.12), frameon=False)  # fmt: skip
        _fixed_layout(self.ax, self.curve)

    def render(
        self,
        bins: pd.DataFrame,
        p0: float,
        levels: list[tuple[float, str]],
        title: str,
        fmt: ChartFormat,
    ) -> str:
        self._clear()
        width = float((bins["bin_hi"] - bins["bin_lo"]).iloc[0])
        grid = np.arange(bins["bin_lo"].min(), bins["bin_lo"].max() + width / 2, width)
        edges = np.append(grid, grid[-1] + width)
        top = np.zeros(len(grid))
        for step, (_, (lo, hi), _) in zip(self.steps, TIER_GROUPS, strict=True):
            in_group = bins[(bins["tier"] >= lo) & (bins["tier"] <= hi)]
            top = (
                top
                + in_group.groupby("bin_lo")["notional_usd"]
                .sum()
                .reindex(grid, fill_value=0.0)
                .to_numpy()
            )
            step.set_data(top, edges, 0.0)
        per_side = bins.groupby(["side", "bin_lo"])["notional_usd"].sum()
        longs = (
            per_side.get("long", pd.Series(dtype=float)).reindex(grid, fill_value=0.0).to_numpy()
        )
        shorts = (
            per_side.get("short", pd.Series(dtype=float)).reindex(grid, fill_value=0.0).to_numpy()
        )
        below, above = grid + width <= p0 + width, grid >= p0 - width
        # the curves are C_L and C_S as the key levels define them (only bins on their side
        # of P0), read at each bin's edge
        cum_long = np.asarray(longs_below(longs, edges, grid[below], p0))
        cum_short = np.asarray(shorts_above(shorts, edges, grid[above] + width, p0))
        self.long_line.set_data(grid[below], cum_long)
        self.short_line.set_data(grid[above] + width, cum_short)
        self.ax.set_xlim(edges[0], edges[-1])
        y_top = max(float(top.max()), 1.0) * HEADROOM
        self.ax.set_ylim(0.0, y_top)
        curve_top = max([1.0, *(float(c.max()) for c in (cum_long, cum_short) if c.size)])
        self.curve.set_ylim(0.0, curve_top * HEADROOM)
        self.price_line.set_xdata([p0, p0])
        self._keep(self.ax.annotate(f"mark {price(p0)}", (p0, y_top), xytext=(3, -10),
                                    textcoords="offset points", fontsize=7))  # fmt: skip
        for level, text in levels:
            self._keep(self.ax.axvline(level, color="#888888", linewidth=0.6, linestyle=":"))
            self._keep(self.ax.annotate(text, (level, y_top * 0.82), rotation=90, fontsize=6.5, color="#444444",
                                        xytext=(-8, 0), textcoords="offset points", va="top",
                                        bbox=LABEL_BACKING))  # fmt: skip
        return self._finish(title, fmt)


class _HeatmapCanvas(_Canvas):
    SIZE = (7.2, 2.0)

    def __init__(self) -> None:
        super().__init__()
        self.bar = self.fig.colorbar(
            matplotlib.cm.ScalarMappable(norm=LogNorm(vmin=1.0, vmax=10.0), cmap="magma"),
            ax=self.ax,
            pad=0.01,
        )
        self.bar.ax.tick_params(labelsize=6)
        self.bar.minorticks_off()  # ~30 log minor ticks would double the chart's cost in the PDF
        _price_axis(self.ax.yaxis)
        _date_axis(self.ax.xaxis)
        self.fig.autofmt_xdate(rotation=0, ha="center")
        _fixed_layout(self.ax, self.bar.ax)

    def render(self, heat: pd.DataFrame, path: pd.DataFrame, title: str, fmt: ChartFormat) -> str:
        self._clear()
        values, (first_hour, last_hour), (low, high) = hour_by_price_grid(heat)
        positive = values[values > 0]
        # three decades of colour: the faintest cells are noise. A new norm each time, so the
        # colour bar rebuilds its scale (handed the same norm object, it keeps the old one).
        norm = (
            LogNorm(vmin=max(positive.max() / 1e3, positive.min()), vmax=positive.max())
            if positive.size
            else LogNorm(vmin=1.0, vmax=10.0)
        )
        half_hour = np.timedelta64(30, "m")
        left, right = mdates.date2num([first_hour - half_hour, last_hour + half_hour])
        # One pixel per hour and bin, embedded as is (interpolation "none") and drawn with
        # crisp edges: a regular grid is an image, not tens of thousands of mesh cells.
        image = self._keep(self.ax.imshow(
            np.where(values > 0, values, np.nan), cmap="magma", norm=norm, origin="lower",
            extent=(left, right, low, high), aspect="auto", interpolation="none",
        ))  # fmt: skip
        if not path.empty:
            self._keep(self.ax.plot(path["time"], path["close"], color="#7fdbff", linewidth=0.8)[0])
        self.bar.update_normal(image)  # resets the colour bar's ticks: set ours again
        self.bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))
        self.bar.minorticks_off()
        self.ax.set_xlim(left, right)
        self.ax.set_ylim(low, high)
        return self._finish(title, fmt)


def hour_by_price_grid(
    heat: pd.DataFrame,
) -> tuple[np.ndarray, tuple[np.datetime64, np.datetime64], tuple[float, float]]:
    """The heatmap rows as a (price bin × hour) array of notional (both sides summed) on the
    full regular grid: every hour and every bin between the first and last, empty ones 0.
    Also the first and last hour and the price span (low edge of the first bin, high edge of
    the last)."""
    width = float((heat["bin_hi"] - heat["bin_lo"]).iloc[0])
    stamps = pd.DatetimeIndex(heat["hour"])
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    hours = stamps.to_numpy().astype("datetime64[h]")
    first_hour, last_hour = hours.min(), hours.max()
    low = float(heat["bin_lo"].min())
    column = (hours - first_hour).astype(np.int64)
    row = np.rint((heat["bin_lo"].to_numpy(float) - low) / width).astype(np.int64)
    shape = (int(row.max()) + 1, int(column.max()) + 1)
    cells = np.bincount(
        row * shape[1] + column, weights=heat["notional_usd"].to_numpy(float),
        minlength=shape[0] * shape[1],
    )  # fmt: skip
    return cells.reshape(shape), (first_hour, last_hour), (low, low + shape[0] * width)


class _OpenInterestCanvas(_Canvas):
    SIZE = (7.2, 1.35)

    def __init__(self) -> None:
        super().__init__()
        self.fig.subplots_adjust(top=0.8, bottom=0.2)  # a short figure: keep the title inside
        (self.line,) = self.ax.plot([], [], color="#2c5d8f", linewidth=1.2)
        _money_axis(self.ax.yaxis)
        _date_axis(self.ax.xaxis)
        _fixed_layout(self.ax)

    def render(
        self, history: pd.DataFrame, record: float, record_date, title: str, fmt: ChartFormat
    ) -> str:
        self._clear()
        days = pd.to_datetime(history["day"]).to_numpy()
        values = history["oi_usd"].to_numpy(float)
        self.line.set_data(days, values)
        top = float(np.nanmax(values))
        if record and math.isfinite(record):
            top = max(top, record)
            self._keep(self.ax.axhline(record, color="#c0392b", linewidth=0.8, linestyle="--"))
            self._keep(self.ax.annotate(f"record {usd(record)} ({record_date:%d %b %Y})", (0.01, record),
                                        xycoords=("axes fraction", "data"), xytext=(0, 3),
                                        textcoords="offset points", fontsize=6.5, color="#c0392b"))  # fmt: skip
        bottom = float(np.nanmin(values))
        pad = (top - bottom) * 0.05 or top * 0.05 or 1.0
        self.ax.set_ylim(bottom - pad, top + 4 * pad)  # room for the record label above its line
        one_day = np.timedelta64(1, "D")
        if len(days) > 1:
            self.ax.set_xlim(days[0], days[-1])
        else:  # a single day: centre it in a three-day span
            self.ax.set_xlim(days[0] - one_day, days[0] + one_day)
        return self._finish(title, fmt)


_canvases = threading.local()


def _canvas(kind: type[_Canvas]) -> _Canvas:
    """This thread's canvas of ``kind``, built on first use."""
    cache = _canvases.__dict__.setdefault("by_kind", {})
    if kind not in cache:
        cache[kind] = kind()
    return cache[kind]


def liquidation_map_chart(
    bins: pd.DataFrame,
    p0: float,
    levels: list[tuple[float, str]],
    title: str,
    fmt: ChartFormat = "svg",
) -> str:
    """Bars per price bin stacked by leverage group; cumulative long (left) and short (right)
    curves on a second axis; the current price and labelled key levels."""
    if bins.empty:
        return _placeholder(_LiquidationMapCanvas.SIZE, "no estimated positions in range", fmt)
    return _canvas(_LiquidationMapCanvas).render(bins, p0, levels, title, fmt)


def heatmap_chart(
    heat: pd.DataFrame, path: pd.DataFrame, title: str, fmt: ChartFormat = "svg"
) -> str:
    """Hour × price intensity (both sides) with the price path over it: levels fade where
    price swept them."""
    if heat.empty:
        return _placeholder(_HeatmapCanvas.SIZE, "no heatmap for this date", fmt)
    return _canvas(_HeatmapCanvas).render(heat, path, title, fmt)


def oi_history_chart(
    history: pd.DataFrame, record: float, record_date, title: str, fmt: ChartFormat = "svg"
) -> str:
    """Daily closing open interest with the all-time record as a dashed line."""
    if history.empty:
        return _placeholder(_OpenInterestCanvas.SIZE, "no open-interest history", fmt)
    return _canvas(_OpenInterestCanvas).render(history, record, record_date, title, fmt)
