"""Foreign keys into moved tables: a move never fires the person's CASCADE or SET NULL; a
referenced row is held back (and reported) until nothing in core references it."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg.conninfo import make_conninfo

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.moves import core_main as moves
from persys_pipelines.lib.pg.tiers import PgTier
from persys_pipelines.lib.tiering import lifecycle
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text

AS_OF = dt.date(2024, 6, 15)
ZONE = "Europe/London"
OLD = dt.date(2024, 1, 10)


@pytest.fixture
def tiers(cfg):
    setup_lib.setup_tiers(cfg)
    return resolve_tier(cfg, "core"), resolve_tier(cfg, "main")


def make_parent_child(core, on_delete: str) -> None:
    with core.connect() as conn:
        conn.execute("create table parent (id bigint primary key, day date not null, v text)")
        conn.execute(f"""create table child (id bigint primary key, day date not null,
                         parent_id bigint references parent (id) on delete {on_delete})""")
        conn.execute("""insert into parent select g, %s::date + (g %% 20), 'p' || g
                        from generate_series(1, 1000) g""", (OLD,))
        conn.execute("""insert into child select g, current_date, g
                        from generate_series(1, 900) g""")  # 900 parents still referenced
        conn.commit()


def move_parent(cfg, core, main) -> lifecycle.TableRun:
    cfg = cfg.model_copy(update={"tables": {
        "parent": TablePolicy(day_column="day", core_days=7)}})
    return handles.run_table(cfg, core, main, "parent", AS_OF)


@pytest.mark.parametrize("on_delete", ["cascade", "set null", "no action"])
def test_referenced_rows_are_held_back_and_children_untouched(cfg, tiers, on_delete):
    core, main = tiers
    make_parent_child(core, on_delete)
    children = rows_text(core, "child")
    before = rows_text(core, "parent")
    run = move_parent(cfg, core, main)
    assert run.rows == 100, "only the 100 parents nothing references move"
    assert run.plan.held_back == {"public.child(parent_id)": 900}
    assert rows_text(core, "child") == children, "no cascade, no SET NULL, no failure"
    if on_delete == "cascade":  # what a person sees: `persys status` says what waits and why
        from persys_pipelines.lib.monitoring import status as status_lib

        doc = handles.status(cfg.model_copy(update={"tables": {
            "parent": TablePolicy(day_column="day", core_days=7)}}), as_of=AS_OF)
        text = status_lib.render(doc)
        assert "Held back in core" in text and "rows referenced by public.child(parent_id)" in text
    assert_conserved(core, main, "parent", before, ["id"])
    with core.connect() as conn:  # the children leave core: their parents follow next run
        conn.execute("delete from child")
        conn.commit()
    assert move_parent(cfg, core, main).rows == 900
    assert_conserved(core, main, "parent", before, ["id"])
    assert sum(rows_text(core, "parent").values()) == 0


def test_a_chain_of_three_tables_drains_children_first_and_loses_nothing(cfg, tiers):
    core, main = tiers
    with core.connect() as conn:
        conn.execute("create table a (id int primary key, day date not null)")
        conn.execute("""create table b (id int primary key, day date not null,
                        a_id int references a (id) on delete cascade)""")
        conn.execute("""create table c (id int primary key, day date not null,
                        b_id int references b (id) on delete cascade)""")
        for t, ref in (("a", ""), ("b", ", g"), ("c", ", g")):
            conn.execute(f"insert into {t} select g, %s::date{ref} from generate_series(1, 50) g",
                         (OLD,))
        conn.commit()
    policy = TablePolicy(day_column="day", core_days=7)
    cfg = cfg.model_copy(update={"tables": {"a": policy, "b": policy, "c": policy}})
    before = {t: rows_text(core, t) for t in "abc"}
    first = {t: handles.run_table(cfg, core, main, t, AS_OF).rows for t in "abc"}
    assert first == {"a": 0, "b": 0, "c": 50}, "a parent waits while its child is in core"
    for t in "abc":
        assert_conserved(core, main, t, before[t], ["id"])
    for _ in range(2):
        for t in "cba":  # children first: each run drains one more level
            handles.run_table(cfg, core, main, t, AS_OF)
    for t in "abc":
        assert_conserved(core, main, t, before[t], ["id"])
        assert sum(rows_text(core, t).values()) == 0


def test_a_self_reference_moves_leaves_first(cfg, tiers):
    core, main = tiers
    with core.connect() as conn:
        conn.execute("""create table note (id int primary key, day date not null,
                        reply_to int references note (id) on delete cascade)""")
        conn.execute("insert into note values (1, %s, null), (2, %s, 1), (3, %s, 2), "
                     "(4, %s, null)", (OLD,) * 4)
        conn.commit()
    cfg = cfg.model_copy(update={"tables": {
        "note": TablePolicy(day_column="day", core_days=7)}})
    before = rows_text(core, "note")
    moved = [handles.run_table(cfg, core, main, "note", AS_OF).rows for _ in range(4)]
    assert moved == [2, 1, 1, 0]  # 3 and 4 (nobody replies to them), then 2, then 1
    assert_conserved(core, main, "note", before, ["id"])


def test_row_security_that_hides_children_stops_the_move_with_the_fix(cfg, tiers):
    core, main = tiers
    make_parent_child(core, "cascade")
    with core.connect() as conn:
        conn.execute("create role persys_limited login")
        conn.execute("grant select, insert, update, delete on parent, child to persys_limited")
        conn.execute("alter table child enable row level security")
        conn.execute("alter table child force row level security")
        conn.commit()
    try:
        limited = PgTier(core.name, make_conninfo(core.dsn, user="persys_limited"), False, None)
        rng = moves.MoveRange("parent", TablePolicy(day_column="day", core_days=7), ZONE,
                              None, dt.date(2024, 2, 1))
        with pytest.raises(moves.MoveError, match="row-level security hides"):
            handles.move_range(cfg, limited, main, rng)
        assert sum(rows_text(core, "child").values()) == 900
    finally:
        with core.connect() as conn:
            conn.execute("drop owned by persys_limited")
            conn.execute("drop role persys_limited")
            conn.commit()
