"""Geometry for the pages' SVG charts: the campaign funnel and the trend lines.

Plain SVG drawn on the server, no chart library: it shows at once (no script needed), scales with
the page, and each chart sits beside a table of the same numbers for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

FUNNEL_BAR_WIDTH = 420  # the width of a bar at 100 %, in the SVG's own units


@dataclass(frozen=True)
class FunnelBar:
    key: str
    label: str
    value: int
    width: float
    of_previous: float | None  # this stage over the stage before it


def funnel(metrics: dict[str, int], estimated: int) -> tuple[list[FunnelBar], FunnelBar]:
    """The stages from the audience estimate down to clicks, and failed set beside them. Every
    bar is scaled to the largest of the estimate and the messages, so none overflows."""
    stages = [
        ("estimated", "Audience estimate", estimated),
        ("sent", "Sent", metrics["sent"]),
        ("delivered", "Delivered", metrics["delivered"]),
        ("read", "Read", metrics["read"]),
        ("clicked", "Clicked", metrics["clicked"]),
    ]
    base = max(estimated, metrics["messages"], 1)
    bars, previous = [], None
    for key, label, value in stages:
        ratio = None if not previous else value / previous
        bars.append(FunnelBar(key, label, value, _width(value, base), ratio))
        previous = value
    failed = metrics["failed"]
    failed_bar = FunnelBar(
        "failed",
        "Failed",
        failed,
        _width(failed, base),
        failed / metrics["messages"] if metrics["messages"] else None,
    )
    return bars, failed_bar


def _width(value: int, base: int) -> float:
    return round(FUNNEL_BAR_WIDTH * min(value, base) / base, 1)


@dataclass(frozen=True)
class LinePoint:
    x: float
    y: float
    day: str
    rate: float
    campaigns: int


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    series: dict[str, list[LinePoint]]
    ticks: list[tuple[float, str]]  # (x, ISO date) of the dates labelled on the x axis


CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 56, 40, 10, 28


def line_chart(points: list[dict], rate: str, start: date, end: date) -> LineChart:
    """One line per campaign type of ``rate`` (0..1) against the send date over the period."""
    span = max((end - start).days, 1)
    plot_w, plot_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B

    def x_of(day: date) -> float:
        return round(PAD_L + plot_w * (day - start).days / span, 1)

    series: dict[str, list[LinePoint]] = {}
    for point in points:
        value = point[rate]
        if value is None:
            continue
        day = date.fromisoformat(point["date"])
        y = round(PAD_T + plot_h * (1 - value), 1)
        series.setdefault(point["type"], []).append(
            LinePoint(x_of(max(day, start)), y, point["date"], value, point["campaigns"])
        )
    ticks = [(x_of(d), d.isoformat()) for d in _tick_days(start, end)]
    return LineChart(CHART_W, CHART_H, series, ticks)


def _tick_days(start: date, end: date, count: int = 5) -> list[date]:
    span = (end - start).days
    if span <= 0:
        return [start]
    return [start + timedelta(days=round(span * n / (count - 1))) for n in range(count)]


def y_of(rate: float) -> float:
    """Where a rate sits on the chart's vertical axis (for the gridlines)."""
    return round(PAD_T + (CHART_H - PAD_T - PAD_B) * (1 - rate), 1)


@dataclass(frozen=True)
class DayBar:
    day: int
    x: float
    clicks: int
    orders: int
    clicks_h: float
    orders_h: float


DAY_CHART_W, DAY_CHART_H, DAY_PAD = 640, 160, 24


def day_bars(days: list[dict]) -> list[DayBar]:
    """Paired bars per day after sending (clicks, then orders), each series scaled to its own
    largest day so a handful of orders still shows beside hundreds of clicks."""
    if not days:
        return []
    slot = (DAY_CHART_W - DAY_PAD) / len(days)
    top_clicks = max(max(d["clicks"] for d in days), 1)
    top_orders = max(max(d["orders"] for d in days), 1)
    plot_h = DAY_CHART_H - DAY_PAD
    return [
        DayBar(
            d["day"],
            round(DAY_PAD + i * slot, 1),
            d["clicks"],
            d["orders"],
            round(plot_h * d["clicks"] / top_clicks, 1),
            round(plot_h * d["orders"] / top_orders, 1),
        )
        for i, d in enumerate(days)
    ]
