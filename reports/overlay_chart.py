"""Yesterday's map with yesterday's realised liquidations over it: the estimated notional per
price bin and side (the map's top-decile bins dark: the ones the track record scores) and
one dot per realised liquidation at its price, sized and placed by its notional.

Drawn with the chart machinery of reports/charts.py: one figure per thread, only the data
artists change between renders.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullLocator

from reports.charts import (
    LONG_CURVE,
    PRICE_LINE,
    SHORT_CURVE,
    ChartFormat,
    _Canvas,
    _canvas,
    _fixed_layout,
    _money_axis,
    _placeholder,
    _price_axis,
)
from reports.formatting import price, usd
from transforms.liqmap.validation import top_decile

TOP_FRACTION = 0.10  # the top decile, as validation scores it
PALE = {"long": "#b7dfc0", "short": "#f2c4be"}
DARK = {"long": "#5fae74", "short": "#e07b6e"}


def top_decile_bins(per_bin: pd.DataFrame) -> np.ndarray:
    """Which (side, bin) rows are among the top decile of estimated notional: the bins the
    track record scores (transforms/liqmap/validation.top_decile, the one definition)."""
    chosen = np.zeros(len(per_bin), dtype=bool)
    chosen[top_decile(per_bin["notional_usd"].to_numpy(float), TOP_FRACTION)] = True
    return chosen


def decade_limits(notional: np.ndarray) -> tuple[float, float]:
    """The dots' log-axis limits: the notionals with some room, widened out to whole
    decades, so the axis has at least two labelled ticks even when every dot lies within one
    decade (a lone "$10K" tick reads as no scale at all)."""
    positive = notional[notional > 0]
    low, high = (positive.min() / 2.0, positive.max() * 3.0) if positive.size else (1.0, 10.0)
    return 10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high))


class _RealisedOverlayCanvas(_Canvas):
    SIZE = (7.2, 2.1)

    def __init__(self) -> None:
        super().__init__()
        self.fig.subplots_adjust(left=0.11)
        self.dots = self.ax.twinx()
        self.dots.set_yscale("log")
        self.dots.spines["right"].set_visible(True)
        self.steps = {
            (side, shade): self.ax.stairs([0.0], [0.0, 1.0], fill=True, color=colours[side], linewidth=0)
            for shade, colours in (("pale", PALE), ("dark", DARK))
            for side in ("long", "short")
        }  # fmt: skip
        self.scatter = {
            side: self.dots.scatter(
                [],
                [],
                s=[],
                color=colour,
                alpha=0.7,
                linewidths=0.4,
                edgecolors="white",
                zorder=3,
                rasterized=True,
            )
            for side, colour in (("long", LONG_CURVE), ("short", SHORT_CURVE))
        }  # fmt: skip  (dots as one raster image: hundreds of vector circles cost the PDF ~0.3 s each chart)
        self.price_line = self.ax.axvline(0.0, color=PRICE_LINE, linewidth=1.0, linestyle="--")
        self.ax.set_ylabel("est. notional per bin")
        _money_axis(self.ax.yaxis)
        self.dots.yaxis.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))
        self.dots.yaxis.set_minor_locator(NullLocator())  # unlabelled log ticks: cost, no help
        _price_axis(self.ax.xaxis)
        handles = [
            Patch(color=DARK["long"], label="est. longs (dark: top decile)"),
            Patch(color=DARK["short"], label="est. shorts (dark: top decile)"),
            Line2D(
                [],
                [],
                color=LONG_CURVE,
                marker="o",
                linestyle="",
                label="long liquidated (right: notional)",
            ),
            Line2D([], [], color=SHORT_CURVE, marker="o", linestyle="", label="short liquidated"),
        ]
        self.ax.legend(handles=handles, fontsize=6.5, ncol=4, loc="upper center",
                       bbox_to_anchor=(0.5, -0.12), frameon=False)  # fmt: skip
        _fixed_layout(self.ax, self.dots)

    def _draw_bins(self, bins: pd.DataFrame) -> tuple[float, float, float]:
        """The estimated bars; returns the grid's edges and the tallest bar."""
        per_bin = bins.groupby(["side", "bin_lo"], as_index=False)["notional_usd"].sum()
        top = top_decile_bins(per_bin)
        width = float((bins["bin_hi"] - bins["bin_lo"]).iloc[0])
        grid = np.arange(bins["bin_lo"].min(), bins["bin_lo"].max() + width / 2, width)
        edges = np.append(grid, grid[-1] + width)
        tallest = 1.0
        for side in ("long", "short"):
            rows = per_bin["side"] == side
            values = per_bin[rows].set_index("bin_lo")["notional_usd"]
            dark = values.where(top[rows.to_numpy()], 0.0)
            for shade, series in (("pale", values), ("dark", dark)):
                heights = series.reindex(grid, fill_value=0.0).to_numpy()
                self.steps[(side, shade)].set_data(heights, edges, 0.0)
            tallest = max(tallest, float(values.max()) if len(values) else 0.0)
        return float(edges[0]), float(edges[-1]), tallest

    def _draw_dots(self, realised: pd.DataFrame) -> None:
        notional = realised["notional_usd"].to_numpy(float)
        largest = max(float(notional.max()), 1.0) if notional.size else 1.0
        for side, dots in self.scatter.items():
            rows = realised[realised["side"] == side]
            values = rows["notional_usd"].to_numpy(float)
            dots.set_offsets(np.column_stack([rows["price"].to_numpy(float), values]))
            dots.set_sizes(6.0 + 60.0 * np.sqrt(values / largest))
        self.dots.set_ylim(*decade_limits(notional))

    def render(
        self, bins: pd.DataFrame, realised: pd.DataFrame, p0: float, title: str, fmt: ChartFormat
    ) -> str:
        self._clear()
        left, right, tallest = self._draw_bins(bins)
        self._draw_dots(realised)
        prices = realised["price"].to_numpy(float)
        if prices.size:  # a liquidation beyond the map's range still shows
            pad = (right - left) * 0.01
            left, right = min(left, prices.min() - pad), max(right, prices.max() + pad)
        self.ax.set_xlim(left, right)
        self.ax.set_ylim(0.0, tallest * 1.05)
        self.price_line.set_xdata([p0, p0])
        self._keep(self.ax.annotate(f"00:00 UTC {price(p0)}", (p0, tallest * 1.05), xytext=(3, -10),
                                    textcoords="offset points", fontsize=7))  # fmt: skip
        return self._finish(title, fmt)


def realised_overlay_chart(
    bins: pd.DataFrame, realised: pd.DataFrame, p0: float, title: str, fmt: ChartFormat = "svg"
) -> str:
    """Yesterday's estimated bins with yesterday's realised liquidations as dots."""
    if bins.empty:
        return _placeholder(_RealisedOverlayCanvas.SIZE, "no map stored for yesterday", fmt)
    return _canvas(_RealisedOverlayCanvas).render(bins, realised, p0, title, fmt)
