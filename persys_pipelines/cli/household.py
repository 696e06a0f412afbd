"""`persys --household DIR --person NAME …` and `persys household check|workspace`.

Every command works for one person of a household: `--household`/`--person` (or
PERSYS_HOUSEHOLD/PERSYS_PERSON) make that person's persys.yaml and secrets the command's
configuration, exactly as their code location and runs see them. The `household` commands
look at the whole household: `check` proves that no two persons share a tier, archive, key,
secret or notifier; `workspace` writes the home-server set-up (one code location per person,
one shared instance) without containers; `persys deploy` writes the container ones.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from ..lib.errors import UsageError
from ..lib.household import checks, instance
from ..lib.household.folder import Household, load_household
from ..lib.household.person import HOUSEHOLD_ENV, PERSON_ENV, activate


def add_global_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--household", metavar="DIR",
                        help=f"a household folder (one sub-folder per person; ${HOUSEHOLD_ENV})")
    parser.add_argument("--person", metavar="NAME",
                        help=f"the household's person the command is for (${PERSON_ENV})")


def add_household_arg(parser: argparse.ArgumentParser) -> None:
    """`--household` after the sub-command too (`persys deploy compose --household DIR`)."""
    parser.add_argument("--household", metavar="DIR", default=argparse.SUPPRESS,
                        help=f"the household folder (default: ${HOUSEHOLD_ENV})")


def apply(args: argparse.Namespace) -> None:
    """Make the chosen person the command's configuration (nothing outside a household)."""
    root = getattr(args, "household", None) or os.environ.get(HOUSEHOLD_ENV)
    person = getattr(args, "person", None) or os.environ.get(PERSON_ENV)
    if getattr(args, "household_wide", False) or (not root and not person):
        return
    if getattr(args, "config", None):
        raise UsageError("--config and a household person both name a persys.yaml; use one "
                         f"(the person's is {root or '<household>'}/{person or '<person>'}"
                         "/persys.yaml)")
    if root and not person:
        names = ", ".join(p.name for p in load_household(root).persons)
        raise UsageError(f"which person of {root}? add --person NAME (persons: {names}), "
                         f"or set {PERSON_ENV}")
    if person and not root:
        raise UsageError(f"--person {person} needs the household: add --household DIR or set "
                         f"{HOUSEHOLD_ENV}")
    household = load_household(root)
    activate(household, household.person(person))  # sets PERSYS_HOUSEHOLD/PERSON for its runs


def household_of(args: argparse.Namespace) -> Household:
    root = getattr(args, "household", None) or os.environ.get(HOUSEHOLD_ENV)
    if not root:
        raise UsageError(f"which household? add --household DIR (or set {HOUSEHOLD_ENV})")
    return load_household(root)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("household", help="a household's persons: isolation check, workspace")
    hsub = p.add_subparsers(dest="household_command", required=True, metavar="ACTION")
    c = hsub.add_parser("check", help="prove no two persons share a tier, archive, key, "
                                      "secret or notifier; exit 1 if they do")
    add_household_arg(c)
    c.set_defaults(handler=run_check, household_wide=True)
    w = hsub.add_parser("workspace", help="workspace.yaml (a code location per person) and the "
                                          "shared dagster.yaml, for a home server without "
                                          "containers")
    add_household_arg(w)
    w.add_argument("--out", required=True, help="folder to write into (DAGSTER_HOME)")
    w.set_defaults(handler=run_workspace, household_wide=True)


def run_check(args: argparse.Namespace) -> int:
    household = household_of(args)
    problems = checks.problems_of(household)
    for person in household.persons:
        print(f"{person.name}: {person.config_path} (runs at once: "
              f"{person.settings.run_limit})")
    if problems:
        print("\n".join(f"FAIL {p}" for p in problems))
        return 1
    print(f"ok: {len(household.persons)} persons, each with their own tiers, archive, keys, "
          "secrets and notifier")
    return 0


def run_workspace(args: argparse.Namespace) -> int:
    household = household_of(args)
    checks.require_isolated(household)
    out = Path(args.out).expanduser().resolve()
    locations = out / "locations"
    locations.mkdir(parents=True, exist_ok=True)
    for person in household.persons:
        (locations / f"{person.name}.py").write_text(
            instance.location_module(household, person.name))
    write_yaml(out / "workspace.yaml", instance.local_workspace(household, locations),
               "One code location per person of the household (persys household workspace).")
    write_yaml(out / "dagster.yaml", instance.instance_document(household),
               f"The household's one instance; {instance.URL_ENV} names its PostgreSQL "
               "database (postgresql+psycopg2://...).")
    print(f"wrote {out}/workspace.yaml, {out}/dagster.yaml and {locations}/<person>.py")
    print(f"run: export DAGSTER_HOME={out} {instance.URL_ENV}=postgresql+psycopg2://...")
    print(f"     dagster-webserver -w {out}/workspace.yaml & dagster-daemon run "
          f"-w {out}/workspace.yaml")
    return 0


def write_yaml(path: Path, doc: dict, comment: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"# {line}\n" for line in comment.splitlines())
    path.write_text(lines + yaml.safe_dump(doc, sort_keys=False, width=100))
