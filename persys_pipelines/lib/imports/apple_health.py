"""Apple Health's export (`export.zip` or its `export.xml`), streamed with lxml's iterparse.

Memory stays flat whatever the file's size: each top-level element is read, turned into rows
and cleared, and the cleared elements are cut from the root every few thousand records.

Apple's traps, and what is done about each:
- `Correlation` (blood pressure, food) children are also written as top-level `Record`s: both
  give the same natural key, so the row is counted once (the duplicates are reported).
- Since iOS 16 a workout's totals sit in `WorkoutStatistics` children; older exports have
  `totalDistance`/`totalEnergyBurned` attributes. Both give the same rows
  (`workout_<activity>_<statistic>`), plus `workout_<activity>_minutes`.
- Dates are local times with the offset of wherever the phone was (`2024-03-31 01:30:00
  +0000`, then `+0100`): the key uses the instant (UTC seconds), so an export made in another
  zone gives the same keys; the day is the instant's calendar day in the configured zone.
- Attribute sets vary within a type (no `unit`, no `device`, no `sourceVersion`): only
  `type`, `startDate` and `endDate` are required; a quantity without a numeric `value` is
  dropped and counted.
- Per-beat HRV lists (`HeartRateVariabilityMetadataList`), heartbeat series, ECG files,
  clinical records, audiograms, vision prescriptions, workout routes and events, metadata
  entries and activity summaries are reported as skipped with their counts, never silently.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from .health_export import Part, feed, open_export
from .rows import ImportFileError, Row, Tally

QUANTITY = "HKQuantityTypeIdentifier"
CATEGORY = "HKCategoryTypeIdentifier"
# Apple's type → the metric name the sample schema's summary reads, and a factor to its unit
KNOWN: dict[str, tuple[str, str | None]] = {
    "HKQuantityTypeIdentifierStepCount": ("steps", None),
    "HKQuantityTypeIdentifierHeartRate": ("heart_rate", None),
    "HKQuantityTypeIdentifierRestingHeartRate": ("resting_heart_rate", None),
    "HKQuantityTypeIdentifierBodyMass": ("weight_kg", "kg"),
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN": ("hrv_sdnn_ms", None),
    "HKQuantityTypeIdentifierActiveEnergyBurned": ("active_energy_kcal", None),
    "HKQuantityTypeIdentifierBasalEnergyBurned": ("basal_energy_kcal", None),
    "HKQuantityTypeIdentifierDistanceWalkingRunning": ("distance_km", "km"),
}
TO_KG = {"kg": 1.0, "lb": 0.45359237, "g": 0.001, "st": 6.35029318}
TO_KM = {"km": 1.0, "m": 0.001, "mi": 1.609344, "ft": 0.0003048, "yd": 0.0009144}
SLEEP = {"InBed": "in_bed_hours", "Awake": "awake_hours"}  # any Asleep* stage: sleep_hours
SKIPPED_TOP = {
    "ClinicalRecord": "clinical records (FHIR documents, not metrics)",
    "Audiogram": "audiograms",
    "VisionPrescription": "vision prescriptions",
    "ActivitySummary": "activity summaries (daily rings, made from the records)",
}
HEARTBEATS = "HKDataTypeIdentifierHeartbeatSeries"
PLAIN_TYPES = 1000  # quantity types whose metric is remembered (Apple has a few hundred)
# ":MM:SS" → seconds into the hour
_MINUTE_SECOND = {f":{m:02d}:{s:02d}": m * 60 + s for m in range(60) for s in range(60)}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


class _Clock:
    """Apple's `2024-03-31 01:30:00 +0100` → UTC seconds and the day in the configured zone
    (cached per quarter hour: every zone's offset is a multiple of 15 minutes); what a
    reader looks up once per file rather than once per record."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self.days: dict[int, dt.date] = {}
        self.hours: dict[str, int] = {}
        # quantity type → its metric, for types whose unit is not converted (the record's
        # hot path: no name is made again per record)
        self.plain: dict[str, str] = {}

    def seconds(self, text: str) -> int:
        """UTC seconds of the text's instant: its hour and offset are looked up (computed once
        per hour), its minutes and seconds too (`_MINUTE_SECOND`: no int() per record)."""
        hour = text[:13] + text[19:]
        base = self.hours.get(hour)
        into = _MINUTE_SECOND.get(text[13:19])
        if base is None or into is None:
            if into is None:  # not ":MM:SS" (minutes and seconds 00-59) where it belongs
                raise ValueError(text)
            base = int(dt.datetime.fromisoformat(f"{text[:13]}:00:00{text[19:].strip()}")
                       .timestamp())
            if len(self.hours) > 50_000:
                self.hours.clear()
            self.hours[hour] = base
        return base + into

    def day(self, seconds: int) -> dt.date:
        bucket = seconds // 900
        found = self.days.get(bucket)
        if found is None:
            if len(self.days) > 50_000:
                self.days.clear()
            found = dt.datetime.fromtimestamp(bucket * 900, self.zone).date()
            self.days[bucket] = found
        return found


def parse(path: Path, zone: ZoneInfo, tally: Tally, part: Part | None = None) -> Iterator[Row]:
    """Rows of the `measurements` stream (rows.STREAMS) for every record, workout statistic and
    sleep stage of the export (or of one `part` of it, see `split`); raises ImportFileError
    naming the file and line when the XML is broken (nothing is delivered before the whole
    file has been read).

    lxml's parser-target interface: libxml2 calls `_Export.start`/`end` per element and
    builds no tree at all, so there is nothing to clear and memory holds one chunk's rows;
    it is faster than an iterparse pass that only counts (bench/import.py)."""
    from lxml import etree

    stream, name = open_export(path, tally)
    target = _Export(_Clock(zone), tally, name)
    parser = etree.XMLParser(target=target, huge_tree=True, resolve_entities=False,
                             no_network=True)
    line = 1
    try:
        with stream:
            for chunk in feed(stream, part):
                parser.feed(chunk)
                line += chunk.count(b"\n")
                yield from target.rows
                target.rows.clear()
            parser.close()
            yield from target.rows
    except etree.XMLSyntaxError as exc:
        at = exc.lineno or (exc.position or (0, 0))[0] or line
        raise ImportFileError(
            f"{name}: not valid XML at line {at} (after {tally.records:,} records): "
            f"{exc.msg}; nothing was imported. Export again from the Health app (a file cut "
            "short or edited by hand is refused as a whole)") from None
    except ImportFileError as exc:
        raise ImportFileError(f"{exc} (near line {line:,})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ImportFileError(f"{name}: the file could not be read to its end ({exc}) after "
                              f"{tally.records:,} records; nothing was imported. Copy or "
                              "export it again") from None
    if not target.root:
        raise ImportFileError(f"{name}: no Apple Health data in the file (its root is not "
                              "HealthData); nothing was imported")


class _Export:
    """The parser target: rows of each element as libxml2 reports it, in `rows`."""

    def __init__(self, clock: _Clock, tally: Tally, name: str):
        self.clock, self.tally, self.name = clock, tally, name
        self.rows: list[Row] = []
        self.root = False
        self.depth = 0  # inside a Correlation (1) or a Workout (2)
        self.workout: dict | None = None
        self.stats: dict[str, tuple[str, str | None]] = {}

    def start(self, tag: str, attrib) -> None:
        if tag == "Record":
            row = _record(attrib, self.clock, self.tally, self.name)
            if row is not None:
                self.rows.append(row)
            if self.depth == 1:
                self.tally.see("correlation children (also top-level records: counted once)")
        elif tag == "MetadataEntry":
            self.tally.skip("metadata entries (key/value notes on records)")
        elif tag == "InstantaneousBeatsPerMinute":
            self.tally.skip("  beats in those lists")
        elif tag == "HeartRateVariabilityMetadataList":
            self.tally.skip("per-beat HRV lists (the record's SDNN value is imported)")
        elif tag == "WorkoutStatistics":
            what = snake((attrib.get("type") or "").removeprefix(QUANTITY))
            if attrib.get("sum") is not None:
                self.stats[what] = (attrib.get("sum"), attrib.get("unit"))
            elif attrib.get("average") is not None:
                self.stats[f"{what}_mean"] = (attrib.get("average"), attrib.get("unit"))
        elif tag == "Workout":
            self.depth, self.workout, self.stats = 2, dict(attrib), {}
        elif tag == "Correlation":
            self.depth = 1
            self.tally.see("correlations (their records are imported)")
        elif tag == "WorkoutRoute":
            self.tally.skip("workout routes (GPS tracks)")
        elif tag == "WorkoutEvent":
            self.tally.skip("workout events (laps, segments, pauses)")
        elif tag in SKIPPED_TOP:
            self.tally.skip(SKIPPED_TOP[tag])
        elif tag == "HealthData":
            self.root = True

    def end(self, tag: str) -> None:
        if tag == "Workout":
            self.rows.extend(_workout(self.workout or {}, self.stats, self.clock, self.tally,
                                      self.name))
            self.depth, self.workout = 0, None
        elif tag == "Correlation":
            self.depth = 0

    def close(self) -> None:
        return None


def _bad(name: str, attrib, tag: str, why: str) -> ImportFileError:
    return ImportFileError(f"{name}: {tag} type={attrib.get('type')!r} startDate="
                           f"{attrib.get('startDate')!r}: {why}; nothing was imported. Fix or "
                           "remove that record, or export again")


def _record(attrib, clock: _Clock, tally: Tally, name: str) -> Row | None:
    tally.records += 1
    get = attrib.get
    kind, start, end = get("type"), get("startDate"), get("endDate")
    if kind is None or start is None or end is None:
        raise _bad(name, attrib, "Record", "type, startDate and endDate are required")
    if kind == HEARTBEATS:
        tally.skip("heartbeat series (per-beat timings)")
        return None
    try:
        t0 = clock.seconds(start)
        t1 = t0 if end == start else clock.seconds(end)
    except ValueError:
        raise _bad(name, attrib, "Record", f"startDate/endDate {start!r}/{end!r} is not a "
                   "date") from None
    value, source = get("value"), get("sourceName")
    metric = clock.plain.get(kind)
    if metric is not None:  # a quantity type seen before, whose unit is kept as it is
        unit = get("unit")
        try:
            float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            tally.drop(f"{kind}: value {value!r} is not a number")
            return None
    elif kind.startswith(CATEGORY):
        metric, value, unit = _category(kind, value, t1 - t0)
    else:
        known = KNOWN.get(kind)
        metric = known[0] if known else snake(kind.removeprefix(QUANTITY))
        unit = get("unit")
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            tally.drop(f"{kind}: value {value!r} is not a number")
            return None
        if known and known[1]:
            value, unit = _convert(number, unit, known[1], value)  # type: ignore[arg-type]
        elif len(clock.plain) < PLAIN_TYPES:
            clock.plain[kind] = metric
    return (f"{kind}|{source}|{t0}|{t1}|{value}", clock.day(t0),
            (start, end, metric, value, unit, source, kind))


def _convert(number: float, unit: str | None, wanted: str, value: str) -> tuple[str, str]:
    """Weights in kg and distances in km, whatever unit the device wrote."""
    table = TO_KG if wanted == "kg" else TO_KM
    if unit == wanted or unit not in table:
        return value, unit or wanted
    return f"{number * table[unit]:.6g}", wanted


def _category(kind: str, value: str | None, seconds: int) -> tuple[str, str, str]:
    """A category sample → (metric, its duration in hours, 'h'); sleep stages by name."""
    hours = f"{seconds / 3600:.6g}"
    short = (value or "").removeprefix("HKCategoryValue")
    if kind == "HKCategoryTypeIdentifierSleepAnalysis":
        stage = short.removeprefix("SleepAnalysis")
        return ("sleep_hours" if stage.startswith("Asleep") else
                SLEEP.get(stage, f"sleep_{snake(stage)}_hours")), hours, "h"
    base = snake(kind.removeprefix(CATEGORY))
    prefix = kind.removeprefix(CATEGORY)
    suffix = snake(short.removeprefix(prefix)) if short and short != "NotApplicable" else ""
    return (f"{base}_{suffix}" if suffix else base), hours, "h"


def _workout(attrib: dict, stats: dict[str, tuple[str, str | None]], clock: _Clock,
             tally: Tally, name: str) -> list[Row]:
    """A workout → its minutes and one row per statistic (iOS 16+ children, or the older
    total attributes when there are none), all named workout_<activity>_<what>."""
    tally.see("workouts (imported as workout_<activity>_* rows)")
    get = attrib.get
    start, end, source = get("startDate"), get("endDate"), get("sourceName")
    if start is None or end is None:
        raise _bad(name, attrib, "Workout", "startDate and endDate are required")
    try:
        t0, t1 = clock.seconds(start), clock.seconds(end)
    except ValueError:
        raise _bad(name, attrib, "Workout", f"startDate/endDate {start!r}/{end!r} is not a "
                   "date") from None
    activity = snake((get("workoutActivityType") or "Other").removeprefix(
        "HKWorkoutActivityType"))
    for attr, what in (("totalEnergyBurned", "active_energy_burned"),
                       ("totalDistance", "distance_walking_running")):
        if what not in stats and get(attr) not in (None, "0", "0.0"):
            stats[what] = (get(attr), get(f"{attr}Unit"))
    duration, unit = get("duration"), get("durationUnit") or "min"
    if duration is not None:
        try:
            minutes = float(duration) * {"s": 1 / 60, "hr": 60.0, "h": 60.0}.get(unit, 1.0)
            stats["minutes"] = (f"{minutes:.6g}", "min")
        except ValueError:
            tally.drop(f"workout duration {duration!r} is not a number")
    rows = []
    day = clock.day(t0)
    for what, (value, unit_) in stats.items():
        try:
            float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            tally.drop(f"workout {what}: value {value!r} is not a number")
            continue
        metric = f"workout_{activity}_{what}"
        rows.append((f"Workout|{metric}|{source}|{t0}|{t1}|{value}", day,
                     (start, end, metric, value, unit_, source, "HKWorkout")))
    return rows
