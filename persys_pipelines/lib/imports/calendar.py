"""Calendars (.ics): events up to today, recurring ones expanded by `recurring-ical-events`
(RRULE, RDATE, EXDATE and moved occurrences, as RFC 5545 says; never by hand).

Each occurrence becomes one `entries` row (by default a journal entry of its day: the title,
time, place and description), keyed by UID and RECURRENCE-ID (the occurrence's start for a
generated occurrence), so a newer export of the same calendar adds only what is new. Events
that start after today are skipped and counted: an import brings history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from .rows import ImportFileError, Row, Tally, text_array


def _moment(value, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return dt.datetime.combine(value, dt.time(), zone)


def parse(path: Path, zone: ZoneInfo, tally: Tally, today: dt.date | None = None
          ) -> Iterator[Row]:
    import icalendar
    import recurring_ical_events

    name = str(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise ImportFileError(f"{name}: the file is empty; export the calendar again")
    try:
        cal = icalendar.Calendar.from_ical(raw)
    except (ValueError, IndexError, KeyError) as exc:
        raise ImportFileError(f"{name}: not a valid iCalendar file: {str(exc)[:300]}; nothing "
                              "was imported") from None
    calendar_name = str(cal.get("X-WR-CALNAME") or "calendar")
    starts = [e.get("DTSTART").dt for e in cal.walk("VEVENT") if e.get("DTSTART") is not None]
    if not starts:
        tally.notes.append("no events in the calendar")
        return
    end = dt.datetime.combine((today or dt.datetime.now(zone).date()) + dt.timedelta(days=1),
                              dt.time(), zone)
    first = min(_moment(s, zone) for s in starts)
    future = sum(1 for s in starts if _moment(s, zone) >= end)
    if future:
        tally.skip("events starting after today (an import brings history)", future)
    try:
        occurrences = recurring_ical_events.of(cal).between(first, end)
    except Exception as exc:  # noqa: BLE001 (a broken RRULE; the library names it)
        raise ImportFileError(f"{name}: cannot expand the calendar's recurring events: "
                              f"{type(exc).__name__}: {str(exc)[:300]}") from None
    for event in occurrences:
        tally.records += 1
        uid = str(event.get("UID") or "")
        start = event.get("DTSTART")
        if not uid or start is None:
            tally.drop("events without UID or DTSTART")
            continue
        begins = _moment(start.dt, zone)
        recurrence = event.get("RECURRENCE-ID")
        if recurrence is not None:
            which = _moment(recurrence.dt, zone).isoformat()
        elif event.get("RRULE") is not None or event.get("RDATE") is not None:
            which = begins.isoformat()
        else:
            which = ""
        summary = str(event.get("SUMMARY") or "(no title)")
        day = start.dt if not isinstance(start.dt, dt.datetime) else begins.astimezone(zone).date()
        parts = [summary]
        if isinstance(start.dt, dt.datetime):
            parts.append(begins.astimezone(zone).strftime("%H:%M"))
        if event.get("LOCATION"):
            parts.append(f"at {event.get('LOCATION')}")
        body = " ".join(parts)
        if event.get("DESCRIPTION"):
            body += f"\n\n{event.get('DESCRIPTION')}"
        categories = []
        for cats in (event.get("CATEGORIES") or []) if isinstance(
                event.get("CATEGORIES"), list) else [event.get("CATEGORIES")] if event.get(
                "CATEGORIES") else []:
            categories += [str(c) for c in getattr(cats, "cats", [cats])]
        yield (f"ics|{uid}|{which}", day,
               (day.isoformat(), begins.isoformat(), summary, body,
                text_array(["calendar", calendar_name, *categories]), None))
