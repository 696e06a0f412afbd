"""When will a tier cross 80 / 90 / 95 % of its quota at the current growth rate?

The rate is a least-squares line through the recent samples (default: the last 14 days), cut at
the last big drop: after an emergency migration the old, higher samples say nothing about how
fast the tier grows now. A flat or shrinking tier never crosses (None).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .usage import Usage

LINES = (80, 90, 95)
DROP_FRACTION = 0.01  # a fall by more than 1% of the quota between samples starts a new trend
# A rate needs samples spread over at least a day: minutes of history (the sensor ticks every
# minute) would turn one bulk import into "+600,000 MB/day, 95% today".
MIN_SPAN_DAYS = 1.0


@dataclass(frozen=True)
class Crossing:
    line: int  # percent of quota
    at: dt.datetime | None  # None: never at the current rate
    already: bool = False  # the tier is above the line now

    def days_from(self, now: dt.datetime) -> float | None:
        if self.at is None:
            return None
        return max(0.0, (self.at - now).total_seconds() / 86400)


@dataclass(frozen=True)
class Forecast:
    tier: str
    bytes_per_day: float | None  # None: too few samples
    crossings: tuple[Crossing, ...]

    def as_json(self, now: dt.datetime) -> dict:
        return {
            "bytes_per_day": None if self.bytes_per_day is None else round(self.bytes_per_day),
            "lines": {
                str(c.line): {
                    "date": c.at.date().isoformat() if c.at else None,
                    "days": None if c.at is None else round(c.days_from(now), 1),
                    "already": c.already,
                }
                for c in self.crossings
            },
        }


def current_trend(samples: list[Usage], window_days: float = 14) -> list[Usage]:
    """The samples the growth rate is drawn from: recent, and after the last big drop."""
    if not samples:
        return []
    start = samples[-1].at - dt.timedelta(days=window_days)
    recent = [s for s in samples if s.at >= start]
    quota = samples[-1].quota_bytes
    for i in range(len(recent) - 1, 0, -1):
        fall = recent[i - 1].bytes - recent[i].bytes
        if quota and fall > DROP_FRACTION * quota:
            return recent[i:]
    return recent


def growth_rate(samples: list[Usage], min_span_days: float = MIN_SPAN_DAYS) -> float | None:
    """Bytes per day by least squares; None with fewer than two samples or when they span
    less than `min_span_days`."""
    if len(samples) < 2:
        return None
    t0 = samples[0].at
    xs = [(s.at - t0).total_seconds() / 86400 for s in samples]
    if xs[-1] < min_span_days:
        return None
    ys = [float(s.bytes) for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def forecast(samples: list[Usage], *, lines: tuple[int, ...] = LINES,
             window_days: float = 14) -> Forecast | None:
    """The crossing date of each line from the latest sample on; None without a quota."""
    if not samples or not samples[-1].quota_bytes:
        return None
    last = samples[-1]
    quota = last.quota_bytes
    rate = growth_rate(current_trend(samples, window_days))
    crossings = []
    for line in lines:
        target = quota * line / 100
        if last.bytes >= target:
            crossings.append(Crossing(line, last.at, already=True))
        elif rate is None or rate <= 0:
            crossings.append(Crossing(line, None))
        else:
            days = (target - last.bytes) / rate
            at = last.at + dt.timedelta(days=min(days, 365 * 100))
            crossings.append(Crossing(line, at))
    return Forecast(last.tier, rate, tuple(crossings))


def soon(fc: Forecast, now: dt.datetime, within_days: float) -> list[Crossing]:
    """Lines that will be crossed within `within_days` (and are not crossed yet)."""
    return [c for c in fc.crossings
            if not c.already and c.at is not None and c.days_from(now) < within_days]


def tier_forecasts(conn, now: dt.datetime | None = None, days: int = 30) -> dict[str, dict]:
    """`persys status`'s `forecast` key: per tier with a quota and history, from main's
    usage history (`conn` is main)."""
    from .usage import history

    now = now or dt.datetime.now(dt.UTC)
    out = {}
    for tier in ("core", "main"):
        fc = forecast(history(conn, tier, now - dt.timedelta(days=days)))
        if fc is not None:
            out[tier] = fc.as_json(now)
    return out
