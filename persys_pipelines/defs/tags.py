"""Run tags, in one place: ours (`persys/...`) and the names of Dagster's own run tags we set.

`persys/lifecycle` is on every run that moves rows between tiers (core→main, main→archive,
purge, the quota sensor's emergency run): dagster.yaml limits runs carrying it to one at a
time, so two moves never overlap however they were started (schedule, sensor, UI, `persys`).
It is set on the jobs themselves (`run_tags`), so every run of them carries it, and again on
the run requests our schedules and sensors make, where it is also visible to tests.
"""

from __future__ import annotations

LIFECYCLE_TAG = "persys/lifecycle"
# The pool of every step that moves rows. A run launched from the UI's "Materialize" button on
# one of those assets runs Dagster's implicit asset job, which carries no job tags; the pool is
# on the asset itself, and dagster.yaml (`pools: granularity: run, default_limit: 1`) lets one
# run holding it go at a time, however the run was made.
LIFECYCLE_POOL = "persys_lifecycle"
# values of LIFECYCLE_TAG: what kind of move the run is (the limit applies across all of them)
CORE_TO_MAIN = "core_to_main"
MAIN_TO_ARCHIVE = "main_to_archive"
PURGE = "purge"
EMERGENCY = "emergency"

AS_OF_TAG = "persys/as_of"  # the day the run acts as of (`persys lifecycle run --as-of`)
# Emergency (core quota sensor): every core day before this date moves too, ahead of policy.
MOVE_BEFORE_TAG = "persys/move_core_before"
REASON_TAG = "persys/reason"

# Dagster's run tags for one run over a partition range (what a ranged backfill sets); the
# constants live in a private Dagster module, the strings are Dagster's documented tag names.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def lifecycle(kind: str) -> dict[str, str]:
    """The tag that puts a run under the one-move-at-a-time limit."""
    return {LIFECYCLE_TAG: kind}


def partition_range(start: str, end: str) -> dict[str, str]:
    return {PARTITION_RANGE_START_TAG: start, PARTITION_RANGE_END_TAG: end}

# On catch-up runs (sensor daily_catch_up): briefings are made for every day of the range,
# the Telegram note is sent for its last day only (the latest missed briefing).
SEND_ONLY_LATEST_TAG = "persys/send_only_latest"

# A household's person (PERSYS_PERSON): on the runs `persys` commands start in-process, as
# Dagster's own `dagster/code_location` is on the runs the daemon and the UI launch.
PERSON_TAG = "persys/person"


def person_tags() -> dict[str, str]:
    import os

    person = os.environ.get("PERSYS_PERSON")
    return {PERSON_TAG: person} if person else {}
