"""Supabase's two ceilings on a free project, and the date by which a move must run to stay
under each.

1. **Read-only**: near `read_only_pct` (95%) of the quota the project turns read-only, at once,
   on the live size. The line is crossed at the current growth rate (forecast.py); the move
   must run the day before (the nightly lifecycle, or the quota sensor's emergency run).
2. **Fair-use restriction (HTTP 402)**: the organisation is judged on the billing cycle's
   *average* daily size. A day's size stays in the average once it is measured, so shrinking
   the database does not lift a restriction: only the average falling (days at a small size
   diluting the big ones) or the cycle's reset does. The forecast adds the days measured so far
   (`persys.usage_daily`), today, and the rest of the cycle at the current growth, and finds
   the last day a move back to `target_bytes` (where the emergency run lands) keeps the cycle's
   average under the quota, or says that no move can any more.

Days are UTC days, as Supabase bills; the cycle starts on `billing_cycle_day` of each month
(clamped to the month's last day).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from .forecast import current_trend, growth_rate
from .usage import DailySize, Usage


@dataclass(frozen=True)
class Cycle:
    start: dt.date
    end: dt.date  # the next cycle's first day

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _on(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def billing_cycle(day: dt.date, start_day: int) -> Cycle:
    """The billing cycle holding `day` when cycles start on `start_day` of each month."""
    start = _on(day.year, day.month, start_day)
    if start > day:
        prev = day.replace(day=1) - dt.timedelta(days=1)
        start = _on(prev.year, prev.month, start_day)
    nxt = start.replace(day=28) + dt.timedelta(days=4)
    return Cycle(start, _on(nxt.year, nxt.month, start_day))


@dataclass(frozen=True)
class ReadOnlyLine:
    limit_bytes: int
    at: dt.datetime | None  # when the live size crosses it at the current growth; None: never
    already: bool  # above it now
    move_by: dt.date | None  # the last day a move can run to stay under it

    def as_json(self) -> dict:
        return {"limit_bytes": self.limit_bytes, "already": self.already,
                "date": self.at.date().isoformat() if self.at else None,
                "move_by": self.move_by.isoformat() if self.move_by else None}


@dataclass(frozen=True)
class AverageLine:
    cycle: Cycle
    quota_bytes: int
    measured_days: int  # days of the cycle with a measured size (today included)
    average_so_far: float  # of the measured days
    projected_average: float  # of the whole cycle if nothing is moved
    move_by: dt.date | None  # last day a move back to the target keeps the average under
    unavoidable: bool  # over the quota whatever is moved now: wait for the reset

    @property
    def over(self) -> bool:
        return self.projected_average > self.quota_bytes

    def as_json(self) -> dict:
        return {"cycle_start": self.cycle.start.isoformat(),
                "cycle_end": self.cycle.end.isoformat(), "quota_bytes": self.quota_bytes,
                "measured_days": self.measured_days,
                "average_so_far_bytes": round(self.average_so_far),
                "projected_average_bytes": round(self.projected_average),
                "over": self.over, "unavoidable": self.unavoidable,
                "move_by": self.move_by.isoformat() if self.move_by else None}


@dataclass(frozen=True)
class Ceilings:
    size_bytes: int
    bytes_per_day: float | None  # None: not known yet (needs a day of samples)
    read_only: ReadOnlyLine
    average: AverageLine

    def as_json(self) -> dict:
        return {"size_bytes": self.size_bytes,
                "bytes_per_day": None if self.bytes_per_day is None
                else round(self.bytes_per_day),
                "read_only": self.read_only.as_json(), "billing_average": self.average.as_json()}


def read_only_line(last: Usage, rate: float | None, limit: int) -> ReadOnlyLine:
    if last.bytes >= limit:
        return ReadOnlyLine(limit, last.at, True, last.at.date())
    if rate is None or rate <= 0:
        return ReadOnlyLine(limit, None, False, None)
    at = last.at + dt.timedelta(days=min((limit - last.bytes) / rate, 36500))
    return ReadOnlyLine(limit, at, False, max(last.at.date(), at.date() - dt.timedelta(days=1)))


def average_line(daily: list[DailySize], last: Usage, rate: float | None, quota: int,
                 target: int, cycle: Cycle) -> AverageLine:
    """The cycle's average: measured days as measured (a day before the first measurement
    counts as the first one: persys cannot know less), today at least its size now, the days
    after today at the current growth (flat when shrinking or unknown)."""
    today = last.at.astimezone(dt.UTC).date()
    known = {d.day: d.bytes for d in daily if cycle.start <= d.day <= today}
    known[today] = max(known.get(today, 0), last.bytes)
    past: list[int] = []
    for i in range((today - cycle.start).days + 1):  # a gap (persys was off) counts as the
        day = cycle.start + dt.timedelta(days=i)     # day before it
        past.append(known.get(day, past[-1] if past else known[min(known)]))
    target = min(target, last.bytes)  # a move never makes the tier bigger
    growth = max(rate or 0.0, 0.0)
    future = [last.bytes + growth * (i + 1) for i in range((cycle.end - today).days - 1)]
    n = cycle.days
    total_past = float(sum(past))
    projected = (total_past + sum(future)) / n
    move_by: dt.date | None = None
    unavoidable = False
    if projected > quota:
        # a move on day m - 1 brings every day from m on to the target
        for k in range(len(future), -1, -1):  # k future days still at the projected size
            avg = (total_past + sum(future[:k]) + (len(future) - k) * target) / n
            if avg <= quota:
                move_by = today + dt.timedelta(days=k)
                break
        unavoidable = move_by is None
    return AverageLine(cycle, quota, len(known), total_past / len(past), projected, move_by,
                       unavoidable)


def ceilings(samples: list[Usage], daily: list[DailySize], *, read_only_pct: float,
             target_bytes: int, cycle_day: int) -> Ceilings | None:
    """Both lines from the sample history (growth) and the daily history (average); None
    without samples or a quota."""
    if not samples or not samples[-1].quota_bytes:
        return None
    last = samples[-1]
    quota = int(last.quota_bytes)
    rate = growth_rate(current_trend(samples))
    cycle = billing_cycle(last.at.astimezone(dt.UTC).date(), cycle_day)
    return Ceilings(last.bytes, rate,
                    read_only_line(last, rate, int(quota * read_only_pct / 100)),
                    average_line(daily, last, rate, quota, target_bytes, cycle))


def from_history(conn, *, read_only_pct: float, target_pct: float, cycle_day: int,
                 now: dt.datetime | None = None, tier: str = "core") -> Ceilings | None:
    """`ceilings` from main's usage histories (`conn` is main)."""
    from .usage import daily_history, history

    now = now or dt.datetime.now(dt.UTC)
    samples = history(conn, tier, now - dt.timedelta(days=30))
    if not samples or not samples[-1].quota_bytes:
        return None
    cycle = billing_cycle(samples[-1].at.astimezone(dt.UTC).date(), cycle_day)
    return ceilings(samples, daily_history(conn, tier, cycle.start),
                    read_only_pct=read_only_pct, cycle_day=cycle_day,
                    target_bytes=int(samples[-1].quota_bytes * target_pct / 100))


RESTRICTION_NOTE = ("shrinking the database does not lift a restriction: the cycle's days "
                    "keep their sizes until the average falls under the quota or the cycle "
                    "resets")


def lines(c: Ceilings, mb=lambda b: f"{b / 1024 / 1024:,.1f} MB") -> list[str]:
    """Plain sentences for status, the report and alerts."""
    r, a = c.read_only, c.average
    if r.already:
        ro = (f"read-only line ({mb(r.limit_bytes)}): crossed, the project may be read-only; "
              "move now (`persys lifecycle run`)")
    elif r.at is None:
        ro = (f"read-only line ({mb(r.limit_bytes)}): not reached at the current growth"
              if c.bytes_per_day is not None else
              f"read-only line ({mb(r.limit_bytes)}): growth not known yet")
    else:
        ro = (f"read-only line ({mb(r.limit_bytes)}): around {r.at:%Y-%m-%d}; a move must run "
              f"by {r.move_by}")
    head = (f"billing average ({a.cycle.start}..{a.cycle.end - dt.timedelta(days=1)}, quota "
            f"{mb(a.quota_bytes)}): {mb(a.average_so_far)} over {a.measured_days} day(s) so "
            f"far, {mb(a.projected_average)} projected")
    if not a.over:
        avg = f"{head}; under the quota"
    elif a.unavoidable:
        avg = (f"{head}: OVER the quota whatever is moved now (HTTP 402 restriction possible; "
               f"{RESTRICTION_NOTE}, on {a.cycle.end})")
    else:
        avg = f"{head}: a move must run by {a.move_by} to keep it under ({RESTRICTION_NOTE})"
    return [ro, avg]
