"""The household folder: `<dir>/household.yaml` (optional) and one `<dir>/<person>/` each.

A person's folder holds `persys.yaml` (their whole configuration, as for one person alone)
and may hold `secrets.env` (`NAME=value` lines: the values their `env:` references read, seen
only by that person's processes and containers). The folder's name is the person's name: it
names their code location, containers and Kubernetes objects, so it is a DNS label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..config.text import describe_error
from ..errors import ConfigError
from . import HouseholdError

SETTINGS_FILE = "household.yaml"
CONFIG_FILE = "persys.yaml"
SECRETS_FILE = "secrets.env"
PERSON_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")  # Kubernetes' quantities
NAME_RULE = ("lowercase letters, digits and '-', starting with a letter, at most 30 "
             "characters (it names a code location, a container and Kubernetes objects)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonSettings(_Strict):
    """What the household gives one person: runs at once and the resources of each run."""

    run_limit: int = Field(1, ge=1, le=50)  # this person's runs at the same time
    cpu: str = "250m"  # requested by the person's code server and each of their runs
    memory: str = "512Mi"
    cpu_limit: str | None = None
    memory_limit: str | None = "2Gi"
    image: str | None = None  # the person's own image; null: the household's

    @field_validator("cpu", "memory", "cpu_limit", "memory_limit")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and not QUANTITY.match(str(value)):
            raise ValueError("must be a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi")
        return value


class HouseholdSettings(_Strict):
    """`household.yaml`: everything about the household that is no person's own business."""

    name: str = Field("persys", pattern=r"^[a-z][a-z0-9-]{0,19}$")  # prefix of every object
    image: str = "persys-pipelines:latest"  # the image of code servers and runs
    max_concurrent_runs: int = Field(4, ge=1, le=500)  # all persons together
    defaults: PersonSettings = PersonSettings()
    persons: dict[str, dict[str, Any]] = {}  # per-person overrides of `defaults`
    # Every person's archive must be `<archive_root>/<person>` (s3://bucket/prefix or file://)
    archive_root: str | None = None
    # Every ssm: value a person reads must start with this, {person} replaced (/persys/{person}/)
    ssm_prefix: str | None = None
    # Variables persons may read from one shared environment (no secret: a region, a zone)
    shared_env: list[str] = ["AWS_REGION", "AWS_DEFAULT_REGION", "TZ"]

    @field_validator("archive_root")
    @classmethod
    def _root(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// (a folder) or s3:// (a bucket)")
        return value.rstrip("/") if value else value

    @field_validator("ssm_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("/") and "{person}" in value):
            raise ValueError("must be a parameter path holding {person}, e.g. /persys/{person}/")
        return value


@dataclass(frozen=True)
class Person:
    name: str
    folder: Path
    settings: PersonSettings

    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG_FILE

    @property
    def secrets_path(self) -> Path:
        return self.folder / SECRETS_FILE


@dataclass(frozen=True)
class Household:
    root: Path
    settings: HouseholdSettings
    persons: tuple[Person, ...]

    def person(self, name: str) -> Person:
        for person in self.persons:
            if person.name == name:
                return person
        known = ", ".join(p.name for p in self.persons) or "none"
        raise HouseholdError(
            f"household {self.root}: no person {name!r} (persons: {known}); a person is a "
            f"folder {self.root}/<name>/ holding {CONFIG_FILE}")

    def image_of(self, person: Person) -> str:
        return person.settings.image or self.settings.image


def load_household(root: Path | str) -> Household:
    """Read the folder; every problem of household.yaml and of the persons' folders at once."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise HouseholdError(f"household {root} is not a folder; give the folder that holds "
                             f"one sub-folder per person, each with a {CONFIG_FILE}")
    settings = _settings(root)
    problems: list[str] = []
    persons: list[Person] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")) or not (folder / CONFIG_FILE).is_file():
            continue  # state, caches, generated output: not a person
        if not PERSON_NAME.match(folder.name):
            suggestion = re.sub(r"[^a-z0-9-]+", "-", folder.name.lower()).strip("-")[:30]
            problems.append(f"{folder}: {folder.name!r} is not a person's name: use "
                            f"{NAME_RULE}; rename the folder, e.g. to {suggestion or 'alice'}")
            continue
        persons.append(Person(folder.name, folder, _person_settings(
            settings, folder.name, problems, root / SETTINGS_FILE)))
    for name in sorted(set(settings.persons) - {p.name for p in persons}):
        problems.append(f"{root / SETTINGS_FILE}: persons.{name} names no person (no "
                        f"{root / name / CONFIG_FILE}); create it or remove the entry")
    if problems:
        raise HouseholdError(f"household {root}:\n" + "\n".join(f"  - {p}" for p in problems))
    if not persons:
        raise HouseholdError(f"household {root} has no person: create {root}/<name>/"
                             f"{CONFIG_FILE} for each (name: {NAME_RULE})")
    return Household(root, settings, tuple(persons))


def _settings(root: Path) -> HouseholdSettings:
    path = root / SETTINGS_FILE
    if not path.is_file():
        return HouseholdSettings()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(str(path), [f"not valid YAML{where}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["the file must be a mapping (name:, image:, persons:)"])
    try:
        return HouseholdSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), [describe_error(e, HouseholdSettings)
                                      for e in exc.errors()]) from None


def _person_settings(settings: HouseholdSettings, name: str, problems: list[str],
                     source: Path) -> PersonSettings:
    overrides = settings.persons.get(name) or {}
    try:
        return PersonSettings.model_validate({**settings.defaults.model_dump(), **overrides})
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{source}: persons.{name}." + describe_error(err, PersonSettings))
    return settings.defaults
