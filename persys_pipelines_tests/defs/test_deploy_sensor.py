"""The repository sensor against a fake Gitea on 127.0.0.1 that answers from a real git
repository: it learns quietly, then announces new commits, tags and CI states by Telegram
text and a voice note; for persys's own checkout (a real clone, and a real dagster-webserver
on it) it pulls, validates, reloads the code location through GraphQL, and rolls back and
alerts when validation fails."""

from __future__ import annotations

import pytest
import yaml

from persys_pipelines.definitions import build_definitions
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.cicd_fakes import (
    asset_names,
    commit,
    fake_gitea,
    git,
    make_repositories,
    project_source,
    webserver,
)
from persys_pipelines_tests.defs.test_monitoring import configure, tick
from persys_pipelines_tests.monitoring_fakes import fake_telegram

GITEA_TOKEN = "gitea-secret-token-123"


def texts(tg) -> list[str]:
    return [m["text"] for m in tg.messages if "text" in m]


@pytest.mark.slow
def test_new_commits_are_announced_pulled_validated_reloaded_or_rolled_back(
        config_path, tmp_path, monkeypatch):
    origin, dev, checkout = make_repositories(tmp_path)
    first = git(checkout, "rev-parse", "HEAD")
    monkeypatch.setenv("GITEA_TOKEN", GITEA_TOKEN)
    with fake_telegram() as tg, fake_gitea(origin, "me/tinyproj", GITEA_TOKEN) as gitea, \
            webserver(checkout, tmp_path) as graphql:
        configure(config_path, tg.base_url, notifications={"repositories": [{
            "name": "tinyproj", "provider": "gitea", "url": gitea.base_url,
            "repo": "me/tinyproj", "branch": "main", "token": "env:GITEA_TOKEN",
            "checkout": str(checkout), "graphql_url": graphql, "locations": ["tinyproj"]}]})
        defs = build_definitions(load_config(config_path), str(config_path))
        sensor = defs.get_sensor_def("repository_watch_sensor")

        cursor, _ = tick(sensor, config_path, None)  # the first look only learns
        assert texts(tg) == [] and yaml.safe_load(cursor)["tinyproj"]["head"] == first

        second = commit(dev, project_source("first", "second"), "second asset\n\nbody")
        git(dev, "tag", "v1.0")
        git(dev, "push", "-q", "origin", "v1.0")
        cursor, _ = tick(sensor, config_path, cursor)
        sent = texts(tg)
        assert any("tinyproj: 1 new commit on main" in t and "second asset (Dev)" in t
                   for t in sent), sent
        assert any("tag v1.0" in t for t in sent)
        (voice,) = tg.voices  # the spoken version: one OGG/Opus voice note for the tick
        assert b"OggS" in voice and b"tag v1.0" in voice  # caption: the subjects
        assert git(checkout, "rev-parse", "HEAD") == second  # pulled
        assert "second" in asset_names(graphql)  # validated and reloaded through GraphQL
        assert any("updated to" in t for t in sent)

        gitea.statuses[second] = ("failure", [("ci/tests", "failure"), ("ci/lint", "success")])
        before = len(tg.messages)
        cursor, _ = tick(sensor, config_path, cursor)
        new = texts(tg)[before:] if len(tg.messages) > before else []
        assert any("CI failure on " + second[:8] in t and "ci/tests: failure" in t
                   for t in texts(tg)), texts(tg)
        cursor, _ = tick(sensor, config_path, cursor)  # told once
        assert len([t for t in texts(tg) if "CI failure" in t]) == 1, new

        broken = commit(dev, project_source("first", "second", "third", broken=True), "oops")
        cursor, _ = tick(sensor, config_path, cursor)
        assert git(checkout, "rev-parse", "HEAD") == second  # rolled back
        alert = next(t for t in texts(tg) if "rolled back" in t)
        assert second[:8] in alert and broken[:8] in alert and "missing_asset" in alert
        assert asset_names(graphql) == {"first", "second"}  # the running code is untouched
        assert all(GITEA_TOKEN not in t for t in texts(tg))

    # Gitea refusing the token: said, cursor kept, nothing announced
    monkeypatch.setenv("GITEA_TOKEN", "wrong")
    with fake_telegram() as tg2, fake_gitea(origin, "me/tinyproj", GITEA_TOKEN) as gitea2:
        configure(config_path, tg2.base_url, notifications={"repositories": [{
            "name": "tinyproj", "provider": "gitea", "url": gitea2.base_url,
            "repo": "me/tinyproj", "token": "env:GITEA_TOKEN"}]})
        defs = build_definitions(load_config(config_path), str(config_path))
        after, _ = tick(defs.get_sensor_def("repository_watch_sensor"), config_path, cursor)
        assert yaml.safe_load(after)["tinyproj"] == yaml.safe_load(cursor)["tinyproj"]
        assert texts(tg2) == []
