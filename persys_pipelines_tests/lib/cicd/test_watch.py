"""The watcher's cursor against GitHub's API shape (httpx.MockTransport at the wire): quiet
first look, one message for many commits (with `N+` when the old head scrolled out of the
page), tags new or moved, the head's CI state once settled, the Bearer token sent."""

from __future__ import annotations

import json

import httpx

from persys_pipelines.lib.cicd import watch
from persys_pipelines.lib.cicd.forge import Forge
from persys_pipelines.lib.config.notifications import FollowedRepository

REPO = FollowedRepository(name="site", provider="github", repo="me/site", branch="main",
                          token="ghp_secret_1234")


def github(state: dict) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer ghp_secret_1234"
        path = request.url.path.removeprefix("/repos/me/site")
        if path == "/commits":
            assert request.url.params["sha"] == "main"
            return httpx.Response(200, json=[{"sha": s, "html_url": f"https://gh/{s}",
                                              "commit": {"message": f"change {s}",
                                                         "author": {"name": "Al"}}}
                                             for s in state["commits"]])
        if path == "/tags":
            return httpx.Response(200, json=[{"name": n, "commit": {"sha": s}}
                                             for n, s in state["tags"].items()])
        if path.endswith("/status"):
            return httpx.Response(200, json={"state": state["ci"], "statuses": [
                {"context": "build", "state": state["ci"]}]})
        return httpx.Response(404)
    return httpx.MockTransport(handle)


def run(state: dict, cursor: str | None) -> watch.Tick:
    return watch.tick([REPO], cursor, lambda r: Forge(r, transport=github(state)))


def test_github_changes_are_told_once_each():
    state = {"commits": ["c1"], "tags": {}, "ci": "pending"}
    first = run(state, None)
    assert first.events == [] and json.loads(first.cursor)["site"]["head"] == "c1"

    state.update(commits=["c3", "c2", "c1"], tags={"v2": "c3"})
    second = run(state, first.cursor)
    kinds = {e.kind: e for e in second.events}
    assert kinds["commits"].subject == "🚀 site: 2 new commits on main"
    assert "c3 change c3 (Al)" in kinds["commits"].body and kinds["tag"].subject.endswith("v2")
    assert second.moved == {"site": ("c1", "c3")}

    state["ci"] = "failure"
    third = run(state, second.cursor)
    (status,) = third.events
    assert status.subject == "❌ site: CI failure on c3" and "build" in status.spoken
    assert run(state, third.cursor).events == []  # nothing new: nothing told

    state.update(commits=[f"n{i}" for i in range(30)], tags={"v2": "n0"})  # moved tag
    many = run(state, third.cursor)
    subjects = [e.subject for e in many.events]
    assert "🚀 site: 30+ new commits on main" in subjects and "🏷️ site: tag v2" in subjects


def test_a_refusing_forge_keeps_the_cursor():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "Bad credentials ghp_secret_1234"})

    cursor = json.dumps({"site": {"head": "c1", "tags": {}, "status": None}})
    tick = watch.tick([REPO], cursor, lambda r: Forge(r, transport=httpx.MockTransport(refuse)))
    assert tick.events == [] and json.loads(tick.cursor) == json.loads(cursor)
    (error,) = tick.errors
    assert "refused the token" in error and "ghp_secret_1234" not in error
