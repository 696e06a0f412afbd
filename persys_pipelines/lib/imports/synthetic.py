"""A synthetic Apple Health export of the documented shape, for the benchmark and the tests.

What a real `export.xml` holds (HealthKit export version 14): a DOCTYPE with the DTD, `Me`,
then `Record`s of many types grouped by type and sorted by date within a type (so one pass
over the file visits every month many times), `MetadataEntry` children, HRV records with
per-beat `HeartRateVariabilityMetadataList`s, `Correlation`s (blood pressure) whose child
`Record`s are also written as top-level records, `Workout`s with `WorkoutEvent`,
`WorkoutStatistics` (iOS 16 and later: the totals) and `WorkoutRoute`, `ActivitySummary`s and
`ClinicalRecord`s. Dates are local times with the device's offset, which changes with summer
time. About 420 bytes a record, as the documented 3.1 GB file with 7.4 million records.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

DEVICE = ("&lt;&lt;HKDevice: 0x28{n:07x}&gt;, name:Apple Watch, manufacturer:Apple Inc., "
          "model:Watch, hardware:Watch6,2, software:10.1&gt;")
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
]>
<HealthData locale="en_GB">
 <ExportDate value="{export}"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1985-04-12" \
HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale" \
HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet"/>
"""
# type, unit, records a day, value (rng → text), source
QUANTITIES = (
    ("HKQuantityTypeIdentifierHeartRate", "count/min", 600,
     lambda r: f"{r.gauss(72, 9):.0f}", "Apple Watch"),
    ("HKQuantityTypeIdentifierActiveEnergyBurned", "kcal", 600,
     lambda r: f"{r.uniform(0.05, 2.5):.3f}", "Apple Watch"),
    ("HKQuantityTypeIdentifierBasalEnergyBurned", "kcal", 400,
     lambda r: f"{r.uniform(0.8, 1.3):.3f}", "Apple Watch"),
    ("HKQuantityTypeIdentifierStepCount", "count", 150,
     lambda r: f"{r.randint(5, 600)}", "iPhone"),
    ("HKQuantityTypeIdentifierDistanceWalkingRunning", "km", 150,
     lambda r: f"{r.uniform(0.005, 0.4):.4f}", "iPhone"),
    ("HKQuantityTypeIdentifierRestingHeartRate", "count/min", 1,
     lambda r: f"{r.gauss(58, 3):.0f}", "Apple Watch"),
    ("HKQuantityTypeIdentifierBodyMass", "kg", 0.7,
     lambda r: f"{r.gauss(74, 1):.1f}", "Withings"),
)
HRV = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


class _Writer:
    def __init__(self, out: io.TextIOBase, zone: ZoneInfo, rng: random.Random):
        self.out, self.zone, self.rng = out, zone, rng
        self.records = 0
        self.device = DEVICE.format(n=rng.getrandbits(24))

    def at(self, day: dt.date, seconds: float) -> dt.datetime:
        base = dt.datetime.combine(day, dt.time(), self.zone)
        return (base + dt.timedelta(seconds=seconds)).astimezone(self.zone)

    def record(self, kind: str, unit: str | None, value: str, source: str, start: dt.datetime,
               end: dt.datetime, inner: str = "", indent: str = " ") -> None:
        unit_attr = f' unit="{unit}"' if unit else ""
        device = f' device="{self.device}"' if source == "Apple Watch" else ""
        head = (f'{indent}<Record type="{kind}" sourceName="{source}" sourceVersion="10.1"'
                f'{device}{unit_attr} creationDate="{_stamp(end)}" startDate="{_stamp(start)}" '
                f'endDate="{_stamp(end)}" value="{value}"')
        self.out.write(f"{head}>\n{inner}{indent}</Record>\n" if inner else f"{head}/>\n")
        self.records += 1


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def per_day() -> float:
    """Records a day of this generator (all types together), to size a history."""
    return sum(q[2] for q in QUANTITIES) + 2 + 8 + 0.4


def write_export(path: Path, records: int = 2_000_000, *, last_day: dt.date,
                 days: int | None = None, seed: int = 7, zone: str = "Europe/London") -> int:
    """Write an export.xml of about `records` Records ending on `last_day` (a heavy Apple
    Watch user's ~1,900 a day; or spread over `days`); returns the number of `Record`
    elements written (children of correlations included)."""
    scale = 1.0 if days is None else records / (days * per_day())
    days = days or max(1, round(records / per_day()))
    first = last_day - dt.timedelta(days=days - 1)
    rng = random.Random(seed)
    tz = ZoneInfo(zone)
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        w = _Writer(out, tz, rng)
        out.write(HEADER.format(export=_stamp(w.at(last_day, 86000))))
        for kind, unit, a_day, value, source in QUANTITIES:  # grouped by type, as Apple does
            for day in _days(first, last_day):
                n = int(a_day * scale) + (rng.random() < a_day * scale % 1)
                for i in range(n):
                    start = w.at(day, (i + rng.random() * 0.8) * 86400 / max(n, 1))
                    end = start + dt.timedelta(seconds=rng.randint(0, 300))
                    inner = ('  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" '
                             'value="0"/>\n' if kind.endswith("HeartRate") and i % 3 == 0
                             else "")
                    w.record(kind, unit, value(rng), source, start, end, inner)
        for day in _days(first, last_day):  # HRV with its per-beat list
            for i in range(2):
                start = w.at(day, 3600 * (3 + 10 * i))
                beats = "".join(f'    <InstantaneousBeatsPerMinute bpm="{rng.randint(55, 75)}" '
                                f'time="{3 + 10 * i}:00:{b:02d}.{b * 7 % 100:02d} AM"/>\n'
                                for b in range(12))
                w.record(HRV, "ms", f"{rng.gauss(45, 8):.3f}", "Apple Watch", start,
                         start + dt.timedelta(seconds=60),
                         f"  <HeartRateVariabilityMetadataList>\n{beats}"
                         "  </HeartRateVariabilityMetadataList>\n")
        for day in _days(first, last_day):  # sleep (category records, asleep stages)
            t = w.at(day, -3600 * 1.5)
            for stage in ("InBed", "AsleepCore", "AsleepDeep", "AsleepREM", "AsleepCore",
                          "Awake", "AsleepCore", "AsleepREM"):
                end = t + dt.timedelta(minutes=rng.randint(20, 80))
                w.record("HKCategoryTypeIdentifierSleepAnalysis", None,
                         f"HKCategoryValueSleepAnalysis{stage}", "Apple Watch", t, end)
                t = end
        bp: list[tuple[dt.datetime, str, str]] = []
        for day in _days(first, last_day):  # blood pressure: top-level copies of the children
            if rng.random() < 0.1:
                at = w.at(day, 3600 * 8 + rng.randint(0, 3600))
                sys_, dia = f"{rng.randint(110, 135)}", f"{rng.randint(70, 88)}"
                bp.append((at, sys_, dia))
                w.record("HKQuantityTypeIdentifierBloodPressureSystolic", "mmHg", sys_,
                         "Withings", at, at)
                w.record("HKQuantityTypeIdentifierBloodPressureDiastolic", "mmHg", dia,
                         "Withings", at, at)
        for at, sys_, dia in bp:
            s = _stamp(at)
            out.write(f' <Correlation type="HKCorrelationTypeIdentifierBloodPressure" '
                      f'sourceName="Withings" sourceVersion="6.1" creationDate="{s}" '
                      f'startDate="{s}" endDate="{s}">\n'
                      '  <MetadataEntry key="HKWasUserEntered" value="0"/>\n')
            w.record("HKQuantityTypeIdentifierBloodPressureSystolic", "mmHg", sys_, "Withings",
                     at, at, indent="  ")
            w.record("HKQuantityTypeIdentifierBloodPressureDiastolic", "mmHg", dia, "Withings",
                     at, at, indent="  ")
            out.write(" </Correlation>\n")
        for day in _days(first, last_day):
            if rng.random() < 0.4:
                _workout(out, w, day, rng)
        for day in _days(first, last_day):
            out.write(f' <ActivitySummary dateComponents="{day}" activeEnergyBurned="'
                      f'{rng.uniform(200, 700):.1f}" activeEnergyBurnedGoal="500" '
                      'activeEnergyBurnedUnit="kcal" appleMoveTime="0" appleMoveTimeGoal="0" '
                      f'appleExerciseTime="{rng.randint(5, 60)}" appleExerciseTimeGoal="30" '
                      f'appleStandHours="{rng.randint(6, 14)}" appleStandHoursGoal="12"/>\n')
        out.write(' <ClinicalRecord type="HKClinicalTypeIdentifierLabResultRecord" '
                  'identifier="lab-1" sourceName="Hospital" sourceURL="https://fhir.example/"'
                  ' fhirVersion="4.0.1" receivedDate="2023-06-01 10:00:00 +0100" '
                  'resourceFilePath="/clinical-records/lab-1.json"/>\n')
        out.write("</HealthData>\n")
    return w.records


def _workout(out: io.TextIOBase, w: _Writer, day: dt.date, rng: random.Random) -> None:
    start = w.at(day, 3600 * 18 + rng.randint(0, 3600))
    minutes = rng.uniform(20, 60)
    end = start + dt.timedelta(minutes=minutes)
    s, e = _stamp(start), _stamp(end)
    km, kcal = minutes / 6 * rng.uniform(0.9, 1.1), minutes * rng.uniform(9, 12)
    out.write(f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="'
              f'{minutes:.4f}" durationUnit="min" sourceName="Apple Watch" sourceVersion="10.1"'
              f' device="{w.device}" creationDate="{e}" startDate="{s}" endDate="{e}">\n'
              '  <MetadataEntry key="HKIndoorWorkout" value="0"/>\n'
              f'  <WorkoutEvent type="HKWorkoutEventTypeSegment" date="{s}" '
              f'duration="{minutes:.2f}" durationUnit="min"/>\n'
              f'  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" '
              f'startDate="{s}" endDate="{e}" sum="{kcal:.2f}" unit="kcal"/>\n'
              f'  <WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" '
              f'startDate="{s}" endDate="{e}" sum="{km:.3f}" unit="km"/>\n'
              f'  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{s}" '
              f'endDate="{e}" average="148" minimum="112" maximum="171" unit="count/min"/>\n'
              f'  <WorkoutRoute sourceName="Apple Watch" sourceVersion="10.1" '
              f'creationDate="{e}" startDate="{s}" endDate="{e}">\n'
              f'   <FileReference path="/workout-routes/route_{day}.gpx"/>\n'
              '  </WorkoutRoute>\n </Workout>\n')
