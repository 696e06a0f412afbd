"""Every crash point of every route, one test each: the route is brought to where it passes
the point, killed there with SIGKILL, then repaired and run again; afterwards every row is in
exactly one place with its value (or gone by the route's own policy), the archive verifies,
and no ledger entry is left open."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import psycopg
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.moves import registry

from . import checker, routes
from .world import IMPORT_POLICIES, START, make_world

AS_OF = START + dt.timedelta(days=70)
# which oracle route reaches the points of which engine route
RUNS = {"core_main": "lifecycle", "partition": "lifecycle", "main_archive": "archive",
        "archive_main": "restore", "purge": "purge", "rekey": "rekey", "adopt": "adopt_memos",
        "backup_restore": "backup_restore", "rewrite": "rewrite", "import": "import_health"}
# One world walks through every point in order (each test moves its day on): with pytest-xdist
# workers (`make test`) the whole module runs on one of them, in this order.
pytestmark = pytest.mark.xdist_group("crash_points")


@pytest.fixture(scope="module")
def world(pg_admin_dsn, tmp_path_factory):
    from persys_pipelines_tests.conftest import dsn_for

    names = {t: f"t_{uuid.uuid4().hex[:10]}_{t}" for t in ("core", "main")}
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'create database "{name}"')
    w = make_world(tmp_path_factory.mktemp("points"), {t: dsn_for(pg_admin_dsn, n)
                                                       for t, n in names.items()},
                   IMPORT_POLICIES)
    w.state = {"rows": {}, "as_of": START}  # type: ignore[attr-defined]
    yield w
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'drop database if exists "{name}" with (force)')


def _write(world, day: dt.date, n: int = 12) -> None:
    """Rows as the app writes them (recorded as acknowledged): on `day` and before it."""
    rows = world.state["rows"]
    with psycopg.connect(world.dsns["core"], autocommit=True) as conn:
        for table, (day_col, value_col, text_col) in (
                ("journal_entries", ("entry_date", "mood", "body")),
                ("notes", ("day", "v", "body"))):
            for i in range(n):
                d = day - dt.timedelta(days=i * 3)
                key = conn.execute(
                    f"insert into {table} ({day_col}, {value_col}, {text_col}) values "
                    f"(%s, %s, %s) returning id::text", (d, 1 + i % 5, f"p{len(rows)}")
                ).fetchone()[0]
                rows.setdefault(table, {})[key] = [d.isoformat(), 1 + i % 5, f"p{len(rows)}"]


def _prepare(world, point: str) -> tuple[str, dt.date]:
    """Bring the world to where `point`'s route passes it; returns (oracle route, as_of)."""
    engine_route = point.split(".")[0]
    cfg = world.cfg
    as_of = world.state["as_of"] = world.state["as_of"] + dt.timedelta(days=9)
    _write(world, as_of)
    if engine_route == "partition":  # a row where its month has no partition: DEFAULT
        _write(world, as_of - dt.timedelta(days=3), n=1)
        # two months past the last such row: a month no earlier point gave a partition
        far = world.state["far"] = max(world.state.get("far", as_of),
                                       as_of + dt.timedelta(days=340)) + dt.timedelta(days=62)
        with psycopg.connect(world.dsns["core"], autocommit=True) as conn:
            conn.execute("insert into journal_entries (entry_date, mood, body) values "
                         "(%s, 2, 'default')", (far,))
            key = conn.execute("select id::text from journal_entries where body = 'default' "
                               "order by created_at desc limit 1").fetchone()[0]
            day = far.isoformat()
            world.state["rows"]["journal_entries"][key] = [day, 2, "default"]
            conn.execute("update journal_entries set body = %s where id::text = %s",
                         (f"default-{key[:4]}", key))
            world.state["rows"]["journal_entries"][key][2] = f"default-{key[:4]}"
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    if engine_route in ("main_archive", "archive_main", "purge", "rewrite", "backup_restore",
                        "rekey"):
        for table in ("journal_entries", "notes", "daily_summaries"):
            handles.run_table(cfg, core, main, table, as_of)
    if engine_route in ("archive_main", "purge", "rekey"):
        handles.archive_due(cfg, as_of)
    if engine_route == "purge":
        as_of = world.state["as_of"] = as_of + dt.timedelta(days=45)
        world.state["purged"] = as_of
    if engine_route == "rekey":
        world.add_key()
    if engine_route == "backup_restore":
        handles.backup(cfg, "main")
        with psycopg.connect(world.dsns["main"], autocommit=True) as conn:  # a row lost
            conn.execute("delete from journal_entries where id = (select id from "  # that
                         "journal_entries order by entry_date desc, id limit 1)")  # policy keeps
    if engine_route == "main_archive":  # a month wholly past main_days, with rows in main
        _write(world, (as_of.replace(day=1) - dt.timedelta(days=32)).replace(day=20), n=3)
        for table in ("journal_entries", "notes"):
            handles.run_table(cfg, core, main, table, as_of)
    if engine_route == "adopt":  # a fresh plain table each time
        with psycopg.connect(world.dsns["core"], autocommit=True) as conn:
            conn.execute("drop table if exists memos")
            conn.execute("create table memos (id bigint generated always as identity primary "
                         "key, day date not null, body text)")
            conn.execute("insert into memos (day, body) select %s::date - i, 'm' || i "
                         "from generate_series(0, 80) i", (as_of,))
    return RUNS[engine_route], as_of


def _memos(world) -> list[tuple]:
    with psycopg.connect(world.dsns["core"]) as conn:
        return sorted(conn.execute("select id, day, body from memos").fetchall())


@pytest.mark.parametrize("point", registry.all_crash_points())
def test_kill_at_each_crash_point_then_repair(world, point):
    name, as_of = _prepare(world, point)
    memos = _memos(world) if name == "adopt_memos" else None
    seed = hash(point) % 10_000
    out = routes.run_forked(str(world.path), name, as_of, seed, crash_at=point)
    if out.how != f"crashed at {point}" and name == "restore":  # the range may miss a file
        for other in range(seed, seed + 20):
            out = routes.run_forked(str(world.path), name, as_of, other, crash_at=point)
            if out.how.startswith("crashed"):
                break
    assert out.how == f"crashed at {point}", out.output[-2000:]
    cfg = world.cfg
    handles.repair_all(cfg, apply=True)
    assert routes.run_forked(str(world.path), name, as_of, seed).how == "finished"
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    for table in ("journal_entries", "notes", "daily_summaries"):
        handles.run_table(cfg, core, main, table, as_of)
    verify = handles.verify_archive(cfg)
    assert verify.ok and not verify.orphans and not verify.pending, verify
    checker.check(cfg, world.state["rows"], world.state.get("purged"), {})
    if memos is not None:
        assert _memos(world) == memos
    if name == "import_health":
        _check_imported(cfg, as_of)
    with main.connect() as conn:
        open_ = conn.execute("select route, state, count(*) from persys.ledger "
                             "where state not in ('done', 'failed', 'interrupted') "
                             "group by 1, 2").fetchall()
    assert not open_, open_


def _check_imported(cfg, as_of: dt.date) -> None:
    """Every row of the export that retention keeps is in exactly one place; no row anywhere
    is in two."""
    from persys_pipelines.lib.imports.rows import Tally, row_id
    from persys_pipelines.lib.imports.run import rows_of
    from persys_pipelines.lib.moves.import_plan import tier_of
    from persys_pipelines_tests.import_helpers import keys_by_tier

    policy = cfg.tables["health_metrics"]
    routed = {str(uuid.UUID(row_id(key))): tier_of(policy, as_of, day) for key, day, _ in
              rows_of("apple-health", routes.export_for(cfg, as_of), cfg.zone, Tally())}
    wanted = {key for key, tier in routed.items() if tier is not None}
    tiers = keys_by_tier(cfg, "health_metrics")
    found = [k for keys in tiers.values() for k in keys]
    assert len(found) == len(set(found)), Counter(found).most_common(3)
    assert wanted <= set(found), f"{len(wanted - set(found))} imported rows lost"
    reached = {tier: len(wanted & set(keys)) for tier, keys in tiers.items()}
    assert all(reached[tier] for tier in set(routed.values()) - {None}), reached


def test_the_points_cover_every_route():
    points = Counter(p.split(".")[0] for p in registry.all_crash_points())
    assert set(points) == set(RUNS), points
    assert sum(points.values()) >= 25
