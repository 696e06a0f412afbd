"""Proof, before anything runs, that no two persons of a household share what is theirs.

A person's tiers (the same database of the same server), archive (the same store, or one
inside another's), encryption key, home, secrets (an `ssm:` parameter, or an `env:` variable
both take from one shared environment) and notifier (Telegram chat, SMS phone) are theirs
alone. Each problem names both persons, the key and the fix; no value is ever shown.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ..config import Config, load_config
from ..dsn import dsn_fields
from ..errors import PersysError
from . import HouseholdError
from .folder import Household, Person
from .person import person_env, read_secrets


@dataclass
class Loaded:
    """One person as the checks see them: config, references, where their secrets come from."""

    person: Person
    cfg: Config | None
    env_refs: dict[str, str] = field(default_factory=dict)  # variable → first key reading it
    ssm_refs: dict[str, str] = field(default_factory=dict)  # parameter → key
    own_env: set[str] = field(default_factory=set)  # names their secrets.env defines


def references(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """`env:` variables and `ssm:` parameters a persys.yaml reads, each with its key."""
    env: dict[str, str] = {}
    ssm: dict[str, str] = {}

    def walk(node: object, loc: tuple) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*loc, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*loc, i))
        elif isinstance(node, str) and node.startswith("env:"):
            env.setdefault(node[4:], ".".join(map(str, loc)))
        elif isinstance(node, str) and node.startswith("ssm:"):
            ssm.setdefault(node[4:], ".".join(map(str, loc)))

    with contextlib.suppress(yaml.YAMLError):  # load_config says what is wrong with it
        walk(yaml.safe_load(path.read_text()) or {}, ())
    return env, ssm


def load_persons(household: Household) -> tuple[list[Loaded], list[str]]:
    loaded, problems = [], []
    for person in household.persons:
        env_refs, ssm_refs = references(person.config_path)
        item = Loaded(person, None, env_refs, ssm_refs)
        try:
            item.own_env = set(read_secrets(person))
            with person_env(household, person) as path:
                item.cfg = load_config(path)
        except PersysError as exc:
            problems.append(f"{person.name}: {exc}")
        loaded.append(item)
    return loaded, problems


def problems_of(household: Household) -> list[str]:
    """Every isolation problem of the household (empty: each person keeps to their own)."""
    loaded, problems = load_persons(household)
    ok = [x for x in loaded if x.cfg is not None]
    problems += _homes(ok) + _databases(ok) + _stores(household, ok) + _keys(ok)
    problems += _secrets(household, loaded) + _notifiers(ok)
    return problems


def require_isolated(household: Household) -> None:
    problems = problems_of(household)
    if problems:
        raise HouseholdError(f"household {household.root}: persons are not kept apart:\n"
                             + "\n".join(f"  - {p}" for p in problems))


def _pairs(owners: dict[object, list[str]], what: str, fix: str) -> list[str]:
    return [f"{' and '.join(names)} share {what(key) if callable(what) else what}; {fix}"
            for key, names in owners.items() if len(names) > 1]


def _homes(ok: list[Loaded]) -> list[str]:
    owners: dict[Path, list[str]] = {}
    for x in ok:
        owners.setdefault(x.cfg.home, []).append(x.person.name)
    return _pairs(owners, lambda h: f"the home {h}",
                  "give each person their own `home:` (the default, .persys next to their "
                  "persys.yaml, is theirs alone)")


def database_identity(dsn: str) -> tuple[str, str, str] | None:
    fields = dsn_fields(dsn)
    if not fields:
        return None
    return (fields.get("host", "local socket"), fields.get("port", "5432"),
            fields.get("dbname", fields.get("user", "")))


def _databases(ok: list[Loaded]) -> list[str]:
    owners: dict[tuple, list[str]] = {}
    for x in ok:
        for tier in ("core", "main"):
            dsn = getattr(x.cfg.tiers, tier).dsn
            ident = database_identity(dsn.get_secret_value()) if dsn else None
            if ident:
                names = owners.setdefault(ident, [])
                if x.person.name not in names:
                    names.append(x.person.name)
    return _pairs(owners, lambda i: f"the database {i[2]} on {i[0]}:{i[1]} (tiers.core/main.dsn)",
                  "give each person their own databases (a person's moves would delete "
                  "another's rows)")


def store_location(url: str) -> tuple[str, tuple[str, ...]]:
    """(store, path parts) of a file:// or s3:// URL, to tell whether one holds another."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(os.path.abspath(Path(parts.path).expanduser()))
        return "file", path.parts
    return f"{parts.scheme}://{parts.netloc}", tuple(p for p in parts.path.split("/") if p)


def _stores_of(x: Loaded) -> dict[str, str]:
    a, v = x.cfg.tiers.archive, x.cfg.voice
    found = {"tiers.archive.url": x.cfg.archive_url}
    if a.secondary_url:
        found["tiers.archive.secondary_url"] = a.secondary_url
    if v.store_url and v.store_url.startswith(("file://", "s3://")):
        found["voice.store_url"] = v.store_url
    return found


def _stores(household: Household, ok: list[Loaded]) -> list[str]:
    problems = []
    located = [(x.person.name, key, store_location(url)) for x in ok
               for key, url in _stores_of(x).items()]
    for i, (name, key, (store, parts)) in enumerate(located):
        for other, other_key, (other_store, other_parts) in located[i + 1:]:
            shorter = min(len(parts), len(other_parts))
            if other != name and store == other_store and parts[:shorter] == other_parts[:shorter]:
                problems.append(f"{name}'s {key} and {other}'s {other_key} are the same place "
                                "or one inside the other; give each person their own prefix "
                                "(e.g. <bucket>/<person>)")
    root = household.settings.archive_root
    if root:
        for x in ok:
            want = store_location(f"{root}/{x.person.name}")
            store, parts = store_location(x.cfg.archive_url)
            if store != want[0] or parts[:len(want[1])] != want[1]:
                problems.append(f"{x.person.name}: tiers.archive.url must be under "
                                f"{root}/{x.person.name} (household.yaml archive_root)")
    return problems


def _keys(ok: list[Loaded]) -> list[str]:
    problems, owners = [], {}
    buckets: dict[str, list[str]] = {}
    for x in ok:
        for key in x.cfg.tiers.archive.encryption_keys:
            names = owners.setdefault(key, [])
            if x.person.name not in names:
                names.append(x.person.name)
        store = store_location(x.cfg.archive_url)[0]
        if store != "file":
            buckets.setdefault(store, []).append(x.person.name)
    problems += _pairs(owners, "an archive encryption key (tiers.archive.encryption_key)",
                       "make a key per person: python -c \"import os,base64;"
                       "print(base64.b64encode(os.urandom(32)).decode())\"")
    for store, names in buckets.items():
        bare = [n for n in names if not next(x for x in ok if x.person.name == n)
                .cfg.tiers.archive.encryption_keys]
        if len(names) > 1 and bare:
            problems.append(f"{', '.join(bare)}: the archive bucket {store} is shared with "
                            f"{', '.join(n for n in names if n not in bare)}, so each "
                            "person's files need their own tiers.archive.encryption_key")
    return problems


def _secrets(household: Household, loaded: list[Loaded]) -> list[str]:
    problems = []
    ssm: dict[str, list[str]] = {}
    shared_env: dict[str, list[str]] = {}
    prefix = household.settings.ssm_prefix
    for x in loaded:
        for name, key in x.ssm_refs.items():
            ssm.setdefault(name, []).append(x.person.name)
            mine = prefix.replace("{person}", x.person.name) if prefix else None
            if mine and not name.startswith(mine):
                problems.append(f"{x.person.name}: {key} reads ssm:{name}, outside "
                                f"{mine} (household.yaml ssm_prefix); move the parameter")
        for name in x.env_refs:
            if name not in x.own_env and name not in household.settings.shared_env:
                shared_env.setdefault(name, []).append(x.person.name)
    problems += _pairs(ssm, lambda n: f"the SSM parameter {n}",
                       "give each person their own parameter (household.yaml ssm_prefix)")
    problems += _pairs(shared_env, lambda n: f"the variable {n} from the shared environment",
                       "put each person's value in <household>/<person>/secrets.env")
    return problems


def _notifiers(ok: list[Loaded]) -> list[str]:
    chats: dict[str, list[str]] = {}
    phones: dict[str, list[str]] = {}
    for x in ok:
        if x.cfg.telegram.chat_id and x.cfg.telegram.token:
            chats.setdefault(x.cfg.telegram.chat_id, []).append(x.person.name)
        sms = x.cfg.notifications.sms
        if sms:
            phones.setdefault(sms.phone_number.get_secret_value(), []).append(x.person.name)
    return (_pairs(chats, "a Telegram chat (telegram.chat_id)",
                   "give each person their own chat: alerts and briefings are personal")
            + _pairs(phones, "an SMS phone number (notifications.sms.phone_number)",
                     "each person's rare alerts go to their own phone"))
