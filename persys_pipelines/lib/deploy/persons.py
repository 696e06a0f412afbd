"""What a person needs to run in containers, checked before any file is written.

In containers every run is a fresh container (or Kubernetes Job), so a person's tiers must be
reachable servers (`dsn`: the embedded server lives in one container's files), their secrets
must all come from their own `secrets.env` (it becomes their container's environment or their
Kubernetes Secret; nothing else of the host's environment is passed on), and persys.yaml may
hold no secret as plain text (it is mounted as a file or a ConfigMap).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, SecretStr

from ..config import Config
from ..dsn import dsn_password
from ..household.checks import Loaded, load_persons, problems_of
from ..household.folder import Household
from . import DeployError

CONTAINER_ROOT = "/household"  # where persons' persys.yaml files are mounted
HOMES = "/var/lib/persys"  # every person's home is <HOMES>/<person> (PERSYS_HOUSEHOLD_HOMES)
DAGSTER_HOME = "/opt/dagster/dagster_home"
PROVIDED = {"AWS_REGION", "AWS_DEFAULT_REGION", "TZ"}  # may come from the stack's environment


@dataclass(frozen=True)
class Ready:
    """A person checked for containers: config, the secret names, host folders to mount."""

    name: str
    folder: Path
    cfg: Config
    secret_names: tuple[str, ...]
    folders: tuple[str, ...]  # file:// stores, mounted at the same path in every container


def ready_persons(household: Household, *, folders_allowed: bool) -> list[Ready]:
    """Every person, or a DeployError listing each problem (isolation first)."""
    problems = problems_of(household)
    loaded, _ = load_persons(household)
    out = []
    for x in loaded:
        if x.cfg is None:
            continue  # problems_of already said why
        mine = _problems(x, folders_allowed)
        problems += [f"{x.person.name}: {p}" for p in mine]
        folders = file_folders(x.cfg.home, _urls(x))
        out.append(Ready(x.person.name, x.person.folder, x.cfg,
                         tuple(sorted(x.own_env)), tuple(sorted(folders))))
    if problems:
        raise DeployError(f"household {household.root} cannot run in containers yet:\n"
                          + "\n".join(f"  - {p}" for p in problems))
    return out


def _problems(x: Loaded, folders_allowed: bool) -> list[str]:
    problems = []
    for tier in ("core", "main"):
        if getattr(x.cfg.tiers, tier).dsn is None:
            problems.append(f"tiers.{tier} has no dsn (the embedded server): in containers "
                            "each run is a new container, so give it a PostgreSQL server's "
                            "dsn (env:NAME, the value in secrets.env)")
    for name, key in sorted(x.env_refs.items()):
        if name not in x.own_env and name not in PROVIDED:
            problems.append(f"{key} reads env:{name}, which {x.person.secrets_path} does not "
                            f"define; add {name}=... there (containers get only that file)")
    problems += literal_secrets(x.person.config_path)
    if not folders_allowed:
        problems += [f"{key} is a folder ({url}); a Kubernetes Job cannot see this machine's "
                     "folders: use an s3:// bucket" for key, url in _file_stores(_urls(x))]
    return problems


def _urls(x: Loaded) -> list[tuple[str, str | None]]:
    """The person's store URLs by their persys.yaml key (the stores a container must reach)."""
    return [("tiers.archive.url", x.cfg.archive_url),
            ("tiers.archive.secondary_url", x.cfg.tiers.archive.secondary_url),
            ("voice.store_url", x.cfg.voice.store_url)]


def _file_stores(urls: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(k, u) for k, u in urls if u and u.startswith("file://")]


def file_folders(home: Path, urls: list[tuple[str, str | None]]) -> set[str]:
    """Host folders of the person's file:// stores (not under their home, which is a volume)."""
    paths = {urlsplit(url).path for _, url in _file_stores(urls)}
    return {p for p in paths if not Path(p).is_relative_to(home)}


def literal_secrets(config_path: Path) -> list[str]:
    """Keys of persys.yaml that hold a secret as plain text instead of env:/ssm:."""
    raw = yaml.safe_load(config_path.read_text()) or {}
    found: list[str] = []

    def walk(model: type[BaseModel], node: object, loc: str) -> None:
        if not isinstance(node, dict):
            return
        for name, field in model.model_fields.items():
            key = field.alias or name
            if key not in node or node[key] is None:
                continue
            value, where = node[key], f"{loc}{key}"
            if _holds(field.annotation, SecretStr):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and not item.startswith(("env:", "ssm:")) and not (
                            where.endswith(".dsn") and dsn_password(item) is None):
                        found.append(f"{where} holds a secret as plain text; write "
                                     f"env:NAME and put the value in secrets.env")
            for sub in _models(field.annotation):
                if isinstance(value, list):
                    for i, item in enumerate(value):
                        walk(sub, item, f"{where}[{i}].")
                elif isinstance(value, dict) and typing.get_origin(field.annotation) is dict:
                    for k, item in value.items():
                        walk(sub, item, f"{where}.{k}.")
                else:
                    walk(sub, value, f"{where}.")

    walk(Config, raw, "")
    return found


def _args(annotation: object) -> list[object]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, dict):
        return [a for arg in typing.get_args(annotation) for a in [arg, *_args(arg)]]
    return []


def _holds(annotation: object, kind: type) -> bool:
    return annotation is kind or kind in _args(annotation)


def _models(annotation: object) -> list[type[BaseModel]]:
    return [a for a in [annotation, *_args(annotation)]
            if isinstance(a, type) and issubclass(a, BaseModel)]


# ---------------------------------------------------------------------------------------------
# Names and sizes shared by both targets


def secret_name(prefix: str, person: str) -> str:
    return f"{prefix}-{person}-secrets"


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (512Mi, 2Gi, 1G) in bytes, for Docker's limits."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return int(float(quantity[: -len(unit)]) * factor)
    return int(float(quantity))


def nano_cpus(quantity: str) -> int:
    """A Kubernetes CPU quantity (250m, 1, 1.5) in Docker's nano-CPUs."""
    if quantity.endswith("m"):
        return int(quantity[:-1]) * 1_000_000
    return int(float(quantity) * 1_000_000_000)
