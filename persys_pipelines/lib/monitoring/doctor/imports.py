"""`imports:` checked against core's tables: every mapped column exists, the key column can
hold the natural key's UUID (uuid or text) and is indexed, and no NOT NULL column without a
default is left out. A mapping persys.yaml does not name is checked only when its (sample)
table exists, so a project without the sample schema is not told about imports it never does.
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg import sql

from ...config import TablePolicy
from ...config.imports import KINDS, Imports, imports_problems
from ...pg.catalog import regclass, table_exists
from .database import TierProbe
from .findings import FAIL, OK, WARN, Finding


def import_checks(probe: TierProbe, imports: Imports,
                  tables: Mapping[str, TablePolicy]) -> list[Finding]:
    out = []
    with probe.tier("core").connect(autocommit=True) as conn:
        for kind in KINDS:
            item = f"imports.{kind}"
            target = imports.target(kind)
            named = kind.replace("-", "_") in imports.model_fields_set
            if not named and not table_exists(conn, target.table):
                continue
            problems = imports_problems(imports, dict(tables), (kind,))
            if not problems:
                problems, warn = _table_problems(conn, target)
            else:
                warn = []
            if problems:
                out += [Finding(item, FAIL, p) for p in problems]
            elif warn:
                out += [Finding(item, WARN, w) for w in warn]
            else:
                cols = ", ".join(f"{f}→{c}" for f, c in target.columns.items() if c)
                out.append(Finding(item, OK, f"onto {target.table} ({target.key_column} ← key; "
                                             f"{cols})"))
    return out


def _table_problems(conn, target) -> tuple[list[str], list[str]]:
    key = f"imports: {target.table}"
    if not table_exists(conn, target.table):
        return [f"{key} does not exist in core; run `persys setup --sample-data` or map the "
                "import onto your own table"], []
    rows = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  a.atthasdef or a.attidentity <> '' or a.attgenerated <> ''
             from pg_attribute a where a.attrelid = to_regclass(%s) and a.attnum > 0
              and not a.attisdropped""", (regclass(target.table),)).fetchall()
    columns = {name: (kind, notnull, default) for name, kind, notnull, default in rows}
    mapped = {c for c in target.columns.values() if c} | {target.key_column}
    problems = [f"{key} has no column {c!r} (columns: {', '.join(columns)}); fix imports: in "
                "persys.yaml" for c in sorted(mapped - set(columns))]
    kind = columns.get(target.key_column, ("",))[0]
    if kind and kind not in ("uuid", "text") and not kind.startswith("character varying"):
        problems.append(f"{key}.{target.key_column} is {kind}; the key column must be uuid or "
                        "text (it gets the natural key's UUID)")
    problems += [f"{key}.{name} is NOT NULL without a default and no import field fills it; "
                 "map a field onto it or give it a default"
                 for name, (_, notnull, default) in columns.items()
                 if notnull and not default and name not in mapped]
    indexed = conn.execute(sql.SQL(
        "select exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid"
        " and a.attnum = i.indkey[0] where i.indrelid = to_regclass({}) and a.attname = {})"
    ).format(sql.Literal(regclass(target.table)), sql.Literal(target.key_column))).fetchone()[0]
    warn = [] if indexed else [f"{key}.{target.key_column} has no index: each import checks "
                               "every key against it; add one"]
    return problems, warn
