"""One person of a household made the configuration of this process.

`persys --household DIR --person NAME …` (or PERSYS_HOUSEHOLD and PERSYS_PERSON), a person's
code location and each of their runs call `activate`: the person's `secrets.env` goes into
the environment (so their `env:` references read their values, never another person's),
PERSYS_CONFIG points at their persys.yaml, and PERSYS_HOME is set only from
PERSYS_HOUSEHOLD_HOMES (`<homes>/<person>`, what the containers use); a bare PERSYS_HOME is
refused, since it would give every person the same home. `person_env` does the same for a
`with` block and puts the environment back after it (checks that read every person).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import CONFIG_ENV, HOME_ENV
from ..errors import remember_secrets
from . import HouseholdError
from .folder import Household, Person, load_household

HOUSEHOLD_ENV = "PERSYS_HOUSEHOLD"
PERSON_ENV = "PERSYS_PERSON"
HOMES_ENV = "PERSYS_HOUSEHOLD_HOMES"  # containers: every person's home is <this>/<person>
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by the household itself; a secrets.env must not move a person elsewhere.
RESERVED = {HOUSEHOLD_ENV, PERSON_ENV, HOMES_ENV, CONFIG_ENV, HOME_ENV, "DAGSTER_HOME"}


def read_secrets(person: Person) -> dict[str, str]:
    """`NAME=value` lines of the person's secrets.env (none when there is no file)."""
    from dotenv import dotenv_values

    path = person.secrets_path
    if not path.is_file():
        return {}
    values = dotenv_values(path, interpolate=False)
    problems = []
    for name, value in values.items():
        if not ENV_NAME.match(name):
            problems.append(f"{name!r} is not a variable name (letters, digits, _)")
        elif name in RESERVED:
            problems.append(f"{name} is set by the household itself; remove the line")
        elif value is None:
            problems.append(f"{name} has no value; write {name}=... (or remove the line)")
    if problems:
        raise HouseholdError(f"{path}:\n" + "\n".join(f"  - {p}" for p in problems))
    remember_secrets(values.values())  # from here on no error text shows them
    return {k: str(v) for k, v in values.items()}


def person_environment(household: Household, person: Person) -> dict[str, str]:
    """Every variable the person's processes get from the household (secrets included)."""
    env = read_secrets(person)
    env.update({HOUSEHOLD_ENV: str(household.root), PERSON_ENV: person.name,
                CONFIG_ENV: str(person.config_path)})
    homes = os.environ.get(HOMES_ENV)
    if homes:
        env[HOME_ENV] = str(Path(homes) / person.name)
    elif os.environ.get(HOME_ENV):
        raise HouseholdError(
            f"{HOME_ENV} is set ({os.environ[HOME_ENV]}): in a household it would give every "
            f"person the same home; unset it (each person's home comes from `home:` in "
            f"{person.config_path}), or set {HOMES_ENV} to a folder holding one home per person")
    return env


def activate(household: Household, person: Person) -> Path:
    """Make `person` this process's configuration; returns their persys.yaml."""
    os.environ.update(person_environment(household, person))
    return person.config_path


@contextmanager
def person_env(household: Household, person: Person) -> Iterator[Path]:
    """`activate` for a `with` block; the environment is as before afterwards."""
    saved = dict(os.environ)
    try:
        yield activate(household, person)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def from_environment() -> tuple[Household, Person] | None:
    """The household and person PERSYS_HOUSEHOLD / PERSYS_PERSON name, or None."""
    root, name = os.environ.get(HOUSEHOLD_ENV), os.environ.get(PERSON_ENV)
    if not root and not name:
        return None
    if not root or not name:
        missing = HOUSEHOLD_ENV if not root else PERSON_ENV
        raise HouseholdError(f"{missing} is not set but {PERSON_ENV if not root else HOUSEHOLD_ENV}"
                             f" is: set both (the household folder and the person's name), or "
                             "neither")
    household = load_household(root)
    return household, household.person(name)


def activate_from_environment() -> Path | None:
    """`activate` the person PERSYS_HOUSEHOLD / PERSYS_PERSON name; None outside a household."""
    found = from_environment()
    return activate(*found) if found else None
