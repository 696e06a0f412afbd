"""Planted effects, 40 seeds each: what the insight finds is there, and what is not there is
not announced. Seeds are fixed, so each figure is deterministic; the thresholds are the
issue's (found in >= 90% of seeds; false-discovery proportion <= 0.05 on null data)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from persys_pipelines.lib.insight import changes, correlations
from persys_pipelines.lib.insight.analyse import Spec, analyse

SEEDS = range(40)
WEEKLY = np.tile([0.8, 0, 0, 0, 0, 0, -0.8], 60)  # a Saturday high, a Sunday low
DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(364)]


def test_a_planted_correlation_is_found_in_90_percent_of_seeds():
    """rho 0.5 between sleep and mood over 120 days, beside 10 unrelated metrics (198 pairs
    tested, so Benjamini-Hochberg has work to do)."""
    found = 0
    for seed in SEEDS:
        rng = np.random.default_rng(1000 + seed)
        frame = pd.DataFrame(rng.normal(size=(120, 10)), columns=[f"n{i}" for i in range(10)])
        sleep = rng.normal(size=120)
        frame["sleep"] = 7.5 + 0.8 * sleep
        frame["mood"] = 6 + 0.5 * sleep + np.sqrt(0.75) * rng.normal(size=120)
        kept, tested = correlations.find_pairs(frame)
        assert tested == 198
        found += any({f.first, f.second} == {"sleep", "mood"} and f.lag == 0 and f.q < 0.05
                     and f.high_mean > f.low_mean for f in kept)
    assert found >= 36, f"found in {found} of 40 seeds"


def test_null_data_false_discovery_proportion_stays_under_5_percent():
    """30 independent metrics x 364 days: 1,305 pairs a week (435 same-day, 870 next-day).
    With no true effect any discovery is false, so a seed's proportion is 0 or 1 and its
    average over seeds estimates the FDR that BH bounds by 0.05. Tolerance: with 40 seeds the
    average has a standard error of sqrt(0.05 * 0.95 / 40) = 0.034; we allow 0.05 + 1 SE =
    0.085 (at most 3 seeds of 40 with any discovery; P(>= 4 | FDR exactly 0.05) = 0.14, so a
    correct procedure passes at least 86% of the time, while a procedure without correction
    (p < 0.05 per pair) announces noise in every seed). Measured: 1 seed of 40."""
    with_discovery = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(rng.normal(size=(364, 30)), columns=[f"m{i}" for i in range(30)])
        kept, tested = correlations.find_pairs(frame)
        assert tested == 1305
        with_discovery += bool(kept)
    assert with_discovery / 40 <= 0.085, f"{with_discovery} seeds announced noise"


def test_a_planted_level_shift_is_found_within_three_days():
    """A shift of 2.5 noise sd, 40 days before the end of the 120-day window, on a weekly
    rhythm: found in every seed, at the right day +-3 in >= 90% (the weekly rhythm pulls some
    estimates a few days early)."""
    close = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        y = rng.normal(0, 1, 120) + WEEKLY[:120]
        y[80:] += 2.5
        change = changes.Detector().last_change(y, 119, changes.noise_levels(y)[-1])
        assert change is not None, f"seed {seed}: no change found"
        assert change["after"] > change["before"]
        close += abs(change["index"] - 80) <= 3
    assert close >= 36, f"within 3 days in {close} of 40 seeds"


def test_a_planted_spike_is_flagged_and_plain_days_are_not():
    """A 6-sd spike on day 110: flagged in every seed; of the 360 plain days before it (9 a
    seed) at most 1% (the two-stage rule flags about 0.4% of plain Gaussian days)."""
    days = DAYS[:120]
    plain_flagged = 0
    for seed in SEEDS:
        rng = np.random.default_rng(100 + seed)
        y = 10 + rng.normal(0, 1, 120) + WEEKLY[:120]
        y[110] += 6
        stats = analyse(pd.DataFrame({"m": y}, index=days), {"m": Spec("m")}, days[101:111])
        assert stats[days[110]]["m"]["anomaly"] is not None, f"seed {seed}"
        assert stats[days[110]]["m"]["z"] > 3.5
        plain_flagged += sum(bool(stats[d]["m"]["anomaly"]) for d in days[101:110])
    assert plain_flagged <= 3, f"{plain_flagged} plain days of 360 flagged"


def test_a_count_that_is_mostly_zero_is_said_from_one_up():
    """Shadow-work entries: none on most days. The median is then 0, no day lies below it, and
    "days with 0 or more" compared with no days gave a NaN that the week's record could not be
    written with (the demo's weekly run failed on it). The split moves to the next value up."""
    rng = np.random.default_rng(7)
    entries = (rng.random(200) < 0.3).astype(float)  # 0 on ~70% of days, else 1
    frame = pd.DataFrame({"shadow_entries": entries,
                          "tasks_done": 3 - 1.5 * entries + 0.5 * rng.normal(size=200)})
    kept, _ = correlations.find_pairs(frame)
    pair = next(f for f in kept if f.first == "shadow_entries" and f.lag == 0)
    assert pair.threshold == 1.0 and pair.high_mean < pair.low_mean - 1
    json.dumps(pair.record(), allow_nan=False)  # what the weekly record stores
    said = correlations.sentence(pair.record(), {"shadow_entries": ("entries", "a day"),
                                                 "tasks_done": ("tasks done", "tasks")})
    assert said.startswith("On days with entries at 1.0 a day or more, your tasks done was ")
    assert " tasks lower on average (200 days, " in said
