"""persys.yaml as `persys init` writes it: every value explained by a comment beside it.

The text is put together line by line (a YAML dumper drops comments); each value itself is
written by PyYAML in flow style, so quoting is always right. The one place that knows how
metrics are spelled in persys.yaml is `metrics_section` (`daily.metrics`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import yaml

from ..config.sources import METRICS
from ..monitoring.units import human_bytes, plural
from .inspect import Table
from .metrics import Guess, Person
from .policy import MAIN_DAYS, OWN_TABLES, Forecast

KEY_HINT = ('python -c "import os,base64;print(\'k1:\'+base64.b64encode(os.urandom(32))'
            '.decode())"')


@dataclass
class Draft:
    """Everything persys.yaml will say, decided by `persys init`."""

    source: str  # the DSN as shown (no password)
    dsn_env: str
    timezone: str
    start_date: dt.date
    supabase: bool
    forecast: Forecast
    managed: list[Table]
    unmanaged: dict[str, str]  # table → why it has no policy
    guesses: list[Guess]
    person: Person
    person_column: str | None = None
    supabase_url: str | None = None
    service_key_env: str | None = None
    main_dsn_env: str | None = None
    archive_url: str | None = None
    archive_key_env: str | None = None
    currency: str | None = None
    today: dt.date = field(default_factory=dt.date.today)
    home: str = ".persys"


def flow(value: object) -> str:
    """One YAML value in flow style (`{a: 1, b: x}`, `'quoted when needed'`)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False,
                          allow_unicode=True).strip().removesuffix("\n...").strip()


def line(key: str, value: object, comment: str = "", indent: int = 0, width: int = 28) -> str:
    text = f"{' ' * indent}{key}: {flow(value)}"
    return f"{text:<{width}} # {comment}" if comment else text


def render(d: Draft) -> str:
    out = _header(d)
    out += [
        line("home", d.home, "local state: embedded PostgreSQL (main, Dagster), archive, "
             "audio, logs"),
        line("timezone", d.timezone, "your days are calendar days in this zone"),
        line("start_date", d.start_date.isoformat(), "the first day your tables hold "
             "(daily partitions start here)"),
        "", *_tiers(d), "", *_tables(d), "", *_daily(d), "", *_backup(),
    ]
    return "\n".join(out).rstrip() + "\n"


def _header(d: Draft) -> list[str]:
    lines = [
        f"# persys.yaml, written by `persys init` on {d.today} from {d.source}.",
        "# It only read your database (one read-only transaction): nothing there was changed.",
        "# Every key is explained in docs/configuration.md; `persys doctor` checks this file.",
        "#",
        "# Forecast with these policies (core, what Supabase bills):",
        *(f"#   {text}" for text in d.forecast.lines()),
    ]
    return [*lines, ""]


def _tiers(d: Draft) -> list[str]:
    core = [
        "tiers:",
        "  core:" + " " * 22 + "# " + ("your Supabase project" if d.supabase else
                                      "your database (the app's tables)"),
        line("dsn", f"env:{d.dsn_env}", "the connection string stays in the environment, "
             "never in this file", 4),
        line("quota_mb", 500, "the free tier's limit", 4),
        line("warn_pct", d.forecast.warn_pct, "warning line (the forecast above)", 4),
        line("critical_pct", 90, "emergency move of the oldest days", 4),
        line("size_scope", "cluster" if d.supabase else "database",
             "Supabase bills every database of the project" if d.supabase else
             "only this database counts (use cluster on Supabase)", 4),
    ]
    if d.supabase_url:
        core.append(line("supabase_url", d.supabase_url, "REST health probe, voice storage", 4))
    core.append(line("service_key", f"env:{d.service_key_env}", "Project Settings → API", 4)
                if d.service_key_env else
                "    # service_key: env:SUPABASE_SERVICE_KEY  # Project Settings → API: REST "
                "probe, supabase:// voice storage")
    main = ["  main:" + " " * 22 + "# months to years of your rows"]
    if d.main_dsn_env:
        main.append(line("dsn", f"env:{d.main_dsn_env}", "your self-hosted PostgreSQL", 4))
    else:
        main.append("    # no dsn: the embedded PostgreSQL under home (database persys_main); "
                    "your own: dsn: env:MAIN_DATABASE_URL")
    main.append(line("quota_mb", None, "no limit", 4))
    archive = [
        "  archive:" + " " * 19 + "# Parquet files, checksummed; never rewritten",
        line("url", d.archive_url, "null: file://<home>/archive; a NAS share: "
             "file:///mnt/nas/persys; a bucket: s3://bucket/prefix", 4),
    ]
    if d.archive_key_env:
        archive.append(line("encryption_key", f"env:{d.archive_key_env}", "AES-256-GCM", 4))
    else:
        archive += [line("encryption_key", None, "unencrypted; to encrypt, export "
                         "PERSYS_ARCHIVE_KEY and set env:PERSYS_ARCHIVE_KEY", 4),
                    f"    #   make a key: {KEY_HINT}"]
    return [*core, *main, *archive]


def _table_note(t: Table) -> str:
    parts = [plural(t.rows, "row"), human_bytes(t.bytes)]
    if t.rows_per_day:
        parts.append(f"~{t.rows_per_day:,.0f} a day" if t.rows_per_day >= 10 else
                     f"~{t.rows_per_day:,.1f} a day")
    if t.first_day:
        parts.append(f"{t.first_day}..{t.last_day}")
    refs = [target for _, target in t.refs_out]
    if refs:
        parts.append(f"refers to {', '.join(refs)}")
    if t.refs_in:
        parts.append(f"referenced by {', '.join(t.refs_in)} (a row still referenced stays)")
    if t.rls:
        parts.append("RLS" + (" FORCED" if t.rls_forced else " on"))
    if t.null_days:
        parts.append(f"{plural(t.null_days, 'row')} without a day stay in core")
    others = [c for c in t.day_candidates if c != t.day_column]
    if others:
        parts.append(f"other day columns: {', '.join(others)}")
    return "; ".join(parts)


def _tables(d: Draft) -> list[str]:
    days = d.forecast.core_days
    policy = {"core_days": days, "main_days": MAIN_DAYS, "delete_days": None}
    width = max([len(t.name) for t in d.managed] + [len(n) for n in OWN_TABLES]) + 4
    out = ["tables:                       # core_days in Supabase, then main_days in main, "
           "then the archive",
           "  # delete_days: null keeps archived months forever; e.g. 2555 deletes them after "
           "7 years"]
    for t in d.managed:
        out.append(f"  # {t.name}: {_table_note(t)}")
        only = {"only_when": t.only_when} if t.only_when else {}
        out.append(f"  {t.name + ':':<{width}}"
                   f"{flow({'day_column': t.day_column, **only, **policy})}")
    out.append("  # persys's own tables: the daily summaries, projections and briefings")
    for name in OWN_TABLES:
        out.append(f"  {name + ':':<{width}}{flow({'day_column': 'day', **policy})}")
    for name, why in d.unmanaged.items():
        out.append(f"  # not managed: {name} ({why})")
    return out


def _daily(d: Draft) -> list[str]:
    out = ["daily:"]
    if d.currency:
        out.append(line("currency", d.currency, "the most common currency in your payments",
                        2))
    out.append(line("monthly_budget", None, "your monthly spend budget, if you keep one", 2))
    return out + metrics_section(d.guesses, d.person, d.person_column, d.currency)


def metrics_section(guesses: list[Guess], person: Person, column: str | None,
                    currency: str | None = None) -> list[str]:
    """`daily.metrics`: each metric found, with its label, unit and which way is better (what
    the briefing, the charts and the insight read), its source carrying the person filter. A
    metric whose table has no rows yet is written commented out: a summary would otherwise
    say "0 tasks" about data never recorded."""
    found = {g.name: g for g in guesses if not g.empty}
    waiting = {g.name: g for g in guesses if g.empty and g.name not in found}
    out = ["  # Your metrics, guessed from your tables' names and columns: check each (label, "
           "unit, which way is better, goal);", "  # `persys doctor` plans every source on core."]
    if person.value:
        tied = bool(person.others) and person.rows == max(person.others.values())
        tie = " (as many as another: check it is you)" if tied else ""
        who = f"  # The person: {column} = {person.value}, who owns the most rows{tie}"
        if person.others:
            who += "; also there: " + ", ".join(
                f"{k} ({plural(n, 'row')})" for k, n in person.others.items())
        out.append(who)
    if not found:
        out.append("  # None of your columns looked like a metric: summaries say \"No data\" "
                   "until you list yours, e.g.")
        out.append("  #   steps: {label: steps, unit: steps, better: higher, goal: 8000, "
                   "source: {table: t, day_column: d, value: v, agg: sum}}")
    out.append("  metrics:" if found else "  metrics: {}")
    for metric in METRICS:
        g = found.get(metric)
        if g is not None:
            out.append(f"    # {metric}: from {g.why}")
            out.append(f"    {metric}: {flow(_metric(g, currency))}")
        elif metric in waiting:
            w = waiting[metric]
            out.append(f"    # {metric}: {w.source['table']} has no rows yet; once it has, "
                       f"add: {flow(_metric(w, currency))}")
    return out


def _metric(g: Guess, currency: str | None) -> dict:
    unit = (currency or "GBP") if g.unit == "money" else g.unit
    label = g.label[:1].lower() + g.label[1:]  # it is read inside sentences
    return {"label": label, "unit": unit, "better": g.better, "source": g.source}


def _backup() -> list[str]:
    return [
        "backup:                       # Parquet copies of core and main in the archive store",
        line("keep", 7, "backups kept per tier", 2),
        line("core_schedule", "daily", "a free Supabase project has no backups of its own", 2),
        line("main_schedule", "weekly", "", 2),
    ]
