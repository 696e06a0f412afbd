"""What changed in the followed repositories since the last look, kept in a cursor.

The cursor (JSON, the sensor's) holds per repository the branch's head, the tags and the CI
state of the head. The first look only learns (nothing is announced: a new follower is not
told the whole history); later looks announce new commits (one message for all of them), new
or moved tags, and the head's CI state once it settles (success, failure, error). A
repository whose API fails keeps its cursor and is asked again next time; the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config.notifications import FollowedRepository
from ..errors import PersysError
from .forge import Forge

SETTLED = ("success", "failure", "error")
ICONS = {"success": "✅", "failure": "❌", "error": "⚠️"}


@dataclass(frozen=True)
class Event:
    repo: str
    kind: str  # commits, tag, status
    key: str  # the alert key: each event is told once
    subject: str
    body: str
    spoken: str  # the sentence of the voice note


@dataclass
class Tick:
    events: list[Event] = field(default_factory=list)
    moved: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # repo → old, new head
    errors: list[str] = field(default_factory=list)
    cursor: str = "{}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def look(forge: Forge, repo: FollowedRepository, seen: dict | None
         ) -> tuple[list[Event], dict]:
    """One repository: its events since `seen` and what to remember now."""
    commits = forge.commits()
    head = commits[0].sha if commits else None
    tags = forge.tags() if "tags" in repo.events else {}
    state = forge.status(head) if head and "statuses" in repo.events else None
    now = {"head": head, "tags": tags, "status": state.state if state else None}
    if seen is None:
        return [], now
    events: list[Event] = []
    if "commits" in repo.events and head and head != seen.get("head"):
        shas = [c.sha for c in commits]
        new = commits[:shas.index(seen["head"])] if seen.get("head") in shas else commits
        count = f"{len(new)}+" if seen.get("head") not in shas else str(len(new))
        lines = [f"{c.sha[:8]} {c.title} ({c.author})" for c in new[:10]]
        events.append(Event(
            repo.name, "commits", f"deploy:{repo.name}:commits:{head}",
            f"🚀 {repo.name}: {count} new commit{'s' if len(new) != 1 else ''} on {repo.branch}",
            "\n".join(lines + ([new[0].url] if new[0].url else [])),
            f"{repo.name} has {_plural(len(new), 'new commit')} on {repo.branch}: "
            f"{new[0].title}."))
    for name, sha in sorted(tags.items()):
        if seen.get("tags", {}).get(name) != sha:
            events.append(Event(
                repo.name, "tag", f"deploy:{repo.name}:tag:{name}:{sha}",
                f"🏷️ {repo.name}: tag {name}", f"{name} → {sha[:8]}",
                f"{repo.name} was tagged {name}."))
    if state and state.state in SETTLED and (head != seen.get("head")
                                            or state.state != seen.get("status")):
        failing = [c for c, s in state.contexts if s in ("failure", "error")]
        detail = "\n".join(f"{c}: {s}" for c, s in state.contexts)
        events.append(Event(
            repo.name, "status", f"deploy:{repo.name}:status:{head}:{state.state}",
            f"{ICONS[state.state]} {repo.name}: CI {state.state} on {head[:8]}", detail,
            f"{repo.name}: the checks {'passed' if state.state == 'success' else 'failed'}"
            + (f" in {', '.join(failing)}" if failing else "") + "."))
    return events, now


def tick(repos: list[FollowedRepository], cursor: str | None,
         make_forge: Callable[[FollowedRepository], Forge] = Forge) -> Tick:
    """Every followed repository once; a failing one keeps its place in the cursor."""
    try:
        seen_all = json.loads(cursor) if cursor else {}
    except json.JSONDecodeError:
        seen_all = {}  # a cursor from another version: learn again, announce nothing
    out = Tick()
    new_all: dict = {}
    for repo in repos:
        seen = seen_all.get(repo.name)
        forge = make_forge(repo)
        try:
            events, now = look(forge, repo, seen)
        except PersysError as exc:
            out.errors.append(str(exc))
            if seen is not None:
                new_all[repo.name] = seen
            continue
        finally:
            forge.close()
        out.events += events
        if seen is not None and now["head"] and now["head"] != seen.get("head"):
            out.moved[repo.name] = (seen.get("head"), now["head"])
        new_all[repo.name] = now
    out.cursor = json.dumps(new_all, sort_keys=True)
    return out
