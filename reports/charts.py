"""Matplotlib charts rendered to inline SVG: the liquidation map, the 7-day heatmap and
open-interest history. Text stays text (DejaVu Sans), metadata dates are dropped and ids are
salted, so the same data gives byte-identical SVG. Margins are fixed per chart."""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # rcParams only: figures are built without pyplot (thread-safe)
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.formatting import price, usd

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


def _svg(fig: Figure) -> str:
    """The figure as a data URI (self-contained). LIQBRIEF_CHART_FORMAT=png trades vector
    sharpness for render speed."""
    import os

    fmt = os.environ.get("LIQBRIEF_CHART_FORMAT", "svg")
    buffer = io.BytesIO()
    metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, dpi=170, metadata=metadata)  # fixed margins: one draw, not two
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _money_axis(ax, axis: str = "y") -> None:
    formatter = FuncFormatter(lambda v, _: usd(v) if v else "0")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def liquidation_map_chart(
    bins: pd.DataFrame, p0: float, levels: list[tuple[float, str]], title: str
) -> str:
    """Bars per price bin stacked by leverage group; cumulative long (left) and short (right)
    curves on a second axis; the current price and labelled key levels."""
    fig = Figure(figsize=(7.2, 2.35))
    ax = fig.subplots()
    if bins.empty:
        ax.text(0.5, 0.5, "no estimated positions in range", ha="center", transform=ax.transAxes)
        return _svg(fig)
    width = float((bins["bin_hi"] - bins["bin_lo"]).iloc[0])
    grid = np.arange(bins["bin_lo"].min(), bins["bin_lo"].max() + width / 2, width)
    bottom = np.zeros(len(grid))
    edges = np.append(grid, grid[-1] + width)
    for label, (lo, hi), colour in TIER_GROUPS:
        part = (
            bins[(bins["tier"] >= lo) & (bins["tier"] <= hi)]
            .groupby("bin_lo")["notional_usd"]
            .sum()
        )
        heights = part.reindex(grid, fill_value=0.0).to_numpy()
        # one stepped area per leverage group: a path, not a rectangle per bin (small SVG)
        ax.stairs(
            bottom + heights,
            edges,
            baseline=bottom,
            fill=True,
            color=colour,
            label=label,
            linewidth=0,
        )
        bottom += heights
    ax.set_ylabel("est. notional per bin")
    _money_axis(ax)
    curve = ax.twinx()
    per_side = bins.groupby(["side", "bin_lo"])["notional_usd"].sum()
    longs = per_side.get("long", pd.Series(dtype=float)).reindex(grid, fill_value=0.0).to_numpy()
    shorts = per_side.get("short", pd.Series(dtype=float)).reindex(grid, fill_value=0.0).to_numpy()
    below, above = grid + width <= p0 + width, grid >= p0 - width
    cum_long = np.cumsum(longs[::-1])[::-1]
    cum_short = np.cumsum(shorts)
    curve.plot(
        grid[below], cum_long[below], color=LONG_CURVE, linewidth=1.4, label="cumulative longs"
    )
    curve.plot(
        grid[above] + width,
        cum_short[above],
        color=SHORT_CURVE,
        linewidth=1.4,
        label="cumulative shorts",
    )
    curve.spines["right"].set_visible(True)
    curve.set_ylim(bottom=0)
    _money_axis(curve)
    ax.axvline(p0, color=PRICE_LINE, linewidth=1.0, linestyle="--")
    ax.annotate(
        f"price {price(p0)}",
        (p0, ax.get_ylim()[1]),
        xytext=(3, -10),
        textcoords="offset points",
        fontsize=7,
    )
    for level, text in levels:
        ax.axvline(level, color="#888888", linewidth=0.6, linestyle=":")
        ax.annotate(text, (level, ax.get_ylim()[1] * 0.82), rotation=90, fontsize=6.5, color="#444444",
                    xytext=(-8, 0), textcoords="offset points", va="top")  # fmt: skip
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: price(v)))
    ax.set_title(title)
    handles = ax.get_legend_handles_labels()[0] + curve.get_legend_handles_labels()[0]
    ax.legend(
        handles=handles,
        fontsize=6.5,
        ncol=6,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        frameon=False,
    )
    return _svg(fig)


def heatmap_chart(heat: pd.DataFrame, path: pd.DataFrame, title: str) -> str:
    """Hour × price intensity (both sides) with the price path over it: levels fade where
    price swept them."""
    fig = Figure(figsize=(7.2, 2.0))
    ax = fig.subplots()
    if heat.empty:
        ax.text(0.5, 0.5, "no heatmap for this date", ha="center", transform=ax.transAxes)
        return _svg(fig)
    grid = heat.groupby(["hour", "bin_lo"])["notional_usd"].sum().unstack(fill_value=0.0)
    hours = grid.index.to_numpy()
    prices = grid.columns.to_numpy(float)
    values = grid.to_numpy().T
    positive = values[values > 0]
    norm = (
        LogNorm(vmin=max(positive.max() / 1e3, positive.min()), vmax=positive.max())
        if positive.size
        else None
    )
    mesh = ax.pcolormesh(
        hours,
        prices,
        np.where(values > 0, values, np.nan),
        cmap="magma",
        norm=norm,
        shading="nearest",
        rasterized=True,  # a raster inside the SVG: 168 × hundreds of vector cells would be megabytes
    )
    if not path.empty:
        ax.plot(path["time"], path["close"], color="#7fdbff", linewidth=0.8)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01)
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))
    bar.ax.tick_params(labelsize=6)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: price(v)))
    ax.set_title(title)
    fig.autofmt_xdate(rotation=0, ha="center")
    ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%d %b"))
    return _svg(fig)


def oi_history_chart(history: pd.DataFrame, record: float, record_date, title: str) -> str:
    """Daily closing open interest with the all-time record as a dashed line."""
    fig = Figure(figsize=(7.2, 1.35))
    ax = fig.subplots()
    fig.subplots_adjust(top=0.8, bottom=0.2)  # a short figure: keep the title inside
    if history.empty:
        ax.text(0.5, 0.5, "no open-interest history", ha="center", transform=ax.transAxes)
        return _svg(fig)
    ax.plot(pd.to_datetime(history["day"]), history["oi_usd"], color="#2c5d8f", linewidth=1.2)
    if record and math.isfinite(record):
        ax.axhline(record, color="#c0392b", linewidth=0.8, linestyle="--")
        ax.annotate(f"record {usd(record)} ({record_date:%d %b %Y})", (0.01, record), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", fontsize=6.5, color="#c0392b")  # fmt: skip
    _money_axis(ax)
    ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%d %b"))
    ax.set_title(title)
    return _svg(fig)
