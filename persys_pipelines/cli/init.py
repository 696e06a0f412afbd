"""`persys init`: read your Supabase project (read-only), write a commented persys.yaml, run
`persys doctor`, and say the next three commands.

The connection string comes from the environment (SUPABASE_DB_URL, CORE_DATABASE_URL or
DATABASE_URL; `--dsn-env` names another) or, at a terminal, is asked for without echo. It is
never written to the file: persys.yaml says `dsn: env:<NAME>`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from ..lib.config import load_config, parse_config
from ..lib.config.checks import home_problem
from ..lib.dsn import dsn_password, dsn_problem, safe_dsn
from ..lib.errors import ConfigError, UsageError, remember_secrets, scrub
from ..lib.monitoring import doctor
from ..lib.monitoring.units import human_bytes, plural
from ..lib.pg.tiers import connect

DSN_ENVS = ("SUPABASE_DB_URL", "CORE_DATABASE_URL", "DATABASE_URL")
WHERE = "Supabase dashboard → Connect → Session pooler (or Direct connection)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="read your Supabase project (read-only) and write a "
                       "commented persys.yaml for it; then run doctor")
    p.add_argument("--dsn-env", metavar="NAME",
                   help="the environment variable holding the connection string (default: "
                        f"the first set of {', '.join(DSN_ENVS)}; else asked at a terminal)")
    p.add_argument("--output", type=Path, default=Path("persys.yaml"),
                   help="where to write it (default ./persys.yaml)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing file (the old one is kept as <file>.bak)")
    p.add_argument("--timezone", help="your days' time zone (default: this machine's)")
    p.add_argument("--archive", metavar="URL",
                   help="the archive store: file:///mnt/nas/persys or s3://bucket/prefix "
                        "(default: a folder in persys's home)")
    p.add_argument("--home", default=".persys",
                   help="persys's local state (embedded PostgreSQL, archive folder, audio), "
                        "relative to the file's folder (default .persys)")
    p.add_argument("--no-doctor", action="store_true", help="do not run `persys doctor` after")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..lib.onboarding import draft as draft_lib
    from ..lib.onboarding.render import render

    output = args.output
    if output.exists() and not args.force:
        raise UsageError(f"{output} exists; `persys init --force` replaces it (keeping the old "
                         f"one as {output}.bak), or `--output other.yaml` writes elsewhere")
    home = Path(args.home).expanduser()
    problem = home_problem(home if home.is_absolute() else
                           output.resolve().parent / home, "home")
    if problem:
        raise UsageError(f"{problem}; or `persys init --home /a/plain/path`")
    name, dsn = connection_string(args.dsn_env)
    zone = time_zone(args.timezone)
    if args.archive and not args.archive.startswith(("file://", "s3://")):
        raise UsageError(f"--archive {args.archive}: use file:///a/folder or s3://bucket/prefix")
    print(f"reading {safe_dsn(dsn)} (read-only: nothing is changed there)", flush=True)
    today = dt.datetime.now(ZoneInfo(zone)).date()
    try:
        with connect(dsn, autocommit=False, connect_timeout=20) as conn:
            draft = draft_lib.build(conn, dsn, dsn_env=name, zone=zone, today=today,
                                    env=os.environ, archive_url=args.archive, home=args.home)
    except psycopg.OperationalError as exc:
        first = scrub(str(exc), [dsn_password(dsn)]).strip().splitlines()[0]
        raise UsageError(f"cannot connect to {safe_dsn(dsn)}: {first}; check ${name} ({WHERE}), "
                         "and on Supabase that the project is not paused") from None
    except psycopg.Error as exc:  # a statement timeout on a huge table, a missing privilege
        first = scrub(str(exc), [dsn_password(dsn)]).strip().splitlines()[0]
        raise UsageError(f"reading {safe_dsn(dsn)} failed: {first}; connect as the project's "
                         "owner (Supabase: postgres) and run `persys init` again") from None
    text = render(draft)
    try:  # what we write must load: a failure here is a bug of ours, not the person's
        parse_config(text, source=str(output), base_dir=output.resolve().parent)
    except ConfigError as exc:
        raise UsageError(f"persys init made a persys.yaml that does not load (please report "
                         f"this): {exc}") from None
    write(output, text)
    summary(draft, output)
    code = 0
    if not args.no_doctor:
        print("\n$ persys doctor")
        from ..handles import doctor as run_doctor

        lines, code = doctor.render(run_doctor(load_config(output)))
        print("\n".join(lines))
        embedded_note(output)
    next_steps(output, name)
    return code


def connection_string(named: str | None) -> tuple[str, str]:
    """(environment variable, DSN): the named or first set variable, else asked for."""
    names = [named] if named else list(DSN_ENVS)
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return name, checked(name, value)
    name = named or DSN_ENVS[0]
    if not sys.stdin.isatty():
        raise UsageError(f"no connection string: export {name}='postgresql://…' ({WHERE}) and "
                         "run `persys init` again")
    value = getpass.getpass(f"Connection string ({WHERE}; not shown as you type): ").strip()
    if not value:
        raise UsageError(f"no connection string given; export {name}='postgresql://…' and run "
                         "`persys init` again")
    os.environ[name] = value  # for this run's doctor; persys.yaml reads it from the environment
    print(f"persys.yaml reads it from ${name}: `export {name}='…'` in every shell that runs "
          "persys (keep it out of files)")
    return name, checked(name, value)


def checked(name: str, dsn: str) -> str:
    remember_secrets([dsn, dsn_password(dsn)])  # no message from here on shows them
    problem = dsn_problem(f"${name}", dsn)
    if problem:
        raise UsageError(problem)
    return dsn


def time_zone(given: str | None) -> str:
    """--timezone, else this machine's zone (TZ, /etc/timezone, /etc/localtime), else UTC."""
    candidates = [given] if given else [os.environ.get("TZ", "").lstrip(":"), _etc_timezone(),
                                        _localtime_zone(), "UTC"]
    for zone in filter(None, candidates):
        try:
            ZoneInfo(zone)
            return zone
        except (ZoneInfoNotFoundError, ValueError):
            if given:
                raise UsageError(f"--timezone {given}: not a time zone name; use one like "
                                 "Europe/London") from None
    return "UTC"


def _etc_timezone() -> str | None:
    try:
        return Path("/etc/timezone").read_text().strip() or None
    except OSError:
        return None


def _localtime_zone() -> str | None:
    link = Path("/etc/localtime")
    if link.is_symlink():
        target = str(link.resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return None


def write(output: Path, text: str) -> None:
    """Whole or not at all (a temporary file renamed over it); the old one kept as .bak."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        shutil.copyfile(output, output.with_name(output.name + ".bak"))
    with tempfile.NamedTemporaryFile("w", dir=output.parent, prefix=f".{output.name}.",
                                     delete=False) as tmp:
        tmp.write(text)
    Path(tmp.name).replace(output)


def summary(draft, output: Path) -> None:
    print(f"\nwrote {output}:")
    days = draft.forecast.core_days
    for t in draft.managed:
        print(f"  {t.name:<24} by {t.day_column}: {plural(t.rows, 'row')}, "
              f"{human_bytes(t.bytes)}; {days} days in core, then main, then the archive")
    for name, why in draft.unmanaged.items():
        print(f"  {name:<24} not managed: {why}")
    if not draft.managed:
        print("  no table with a date or timestamptz column and a primary key: only persys's "
              "own tables are managed; add yours to tables: by hand")
    names = [g.name for g in draft.guesses if not g.empty]
    print(f"  metrics guessed: {', '.join(names) if names else 'none (see daily.sources)'}")
    waiting = [f"{g.name} ({g.source['table']})" for g in draft.guesses if g.empty]
    if waiting:
        print(f"  from tables with no rows yet (left null, suggested in comments): "
              f"{', '.join(waiting)}")
    if draft.person.value:
        others = len(draft.person.others)
        print(f"  summaries are about {draft.person_column} = {draft.person.value}"
              + (f" (the rows of {plural(others, 'other person', 'other people')} in your "
                 "tables are left out)" if others else ""))
    print("  forecast: " + "; ".join(draft.forecast.lines()))


def next_steps(output: Path, name: str) -> None:
    flag = "" if output == Path("persys.yaml") else f" --config {shlex.quote(str(output))}"
    print("\nNext:")
    print(f"  1. persys doctor{flag}                     # again after you edit {output}")
    print(f"  2. persys lifecycle run --dry-run{flag}    # what the first run would move "
          "(nothing moves)")
    print(f"  3. persys up{flag}                         # the UI; moving and deleting "
          "schedules wait for `persys lifecycle run` or `persys schedules on`")
    if name not in os.environ:
        print(f"  (first: export {name}='postgresql://…')")


def embedded_note(output: Path) -> None:
    """Doctor reached main in the embedded server, which it started: say that it runs on."""
    from ..lib.pg.tiers import embedded_running

    try:
        home = load_config(output, lenient=True).home
    except ConfigError:
        return
    if embedded_running(home):
        print(f"(the embedded PostgreSQL under {home} is running for the main tier; it keeps "
              "running for persys, `persys down` stops it)")
