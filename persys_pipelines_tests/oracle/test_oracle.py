"""The conservation oracle over every route of the engine (see oracle/__init__.py)."""

from __future__ import annotations

import os

import pytest

from . import scenario
from .world import make_world


def test_every_route_killed_at_random_conserves_every_row(tier_dsns, tmp_path):
    world = make_world(tmp_path, tier_dsns)
    report = scenario.run(world, tmp_path, ticks=45, seed=21, kill_share=0.9)
    print(report.summary())
    assert report.kills >= 12
    assert report.app["statements"] > 300
    assert sum(report.app["modes"].values()) and all(report.app["modes"].values())


@pytest.mark.slow
def test_oracle_two_hundred_kills(tier_dsns, tmp_path):
    """~200 kills in `make test-slow`; `make soak` asks for more ticks and kills (Makefile).
    A kill is tried on 9 ticks of 10; about 45% land (a timed kill can come after its route
    ended, a crash point can be out of the route's reach that tick): 600 ticks give ~260."""
    world = make_world(tmp_path, tier_dsns)
    report = scenario.run(world, tmp_path, ticks=int(os.environ.get("ORACLE_TICKS", 600)),
                          seed=int(os.environ.get("ORACLE_SEED", 5)), kill_share=0.9)
    print(report.summary())
    assert report.kills >= int(os.environ.get("ORACLE_MIN_KILLS", 200))
