"""Deployment notifications: the sensor that follows `notifications.repositories` (new
commits, tags, CI states, told by Telegram text and a voice note) and keeps persys's own
checkout at its branch's head (pull, validate, reload; roll back and alert on a failed
validation). Defined only when repositories are configured; the work is lib/cicd."""

from __future__ import annotations

import os

import dagster as dg

from ...lib.cicd import announce, self_update, watch
from ...lib.config import Config
from ...lib.voice.briefing import telegram_client
from ..resources import NotifierResource, PersysConfigResource, VoiceEngineResource

DEFAULT_LOCATION = "persys_pipelines"  # workspace.yaml's location name outside a household


def locations_of(repo) -> list[str]:
    if repo.locations:
        return list(repo.locations)
    return [os.environ.get("PERSYS_PERSON") or DEFAULT_LOCATION]


def repository_sensor(interval_s: int) -> dg.SensorDefinition:
    @dg.sensor(name="repository_watch_sensor", minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Announces new commits, tags and CI states of the followed "
                           "repositories; updates persys's own checkout (pull, validate, "
                           "reload, or roll back).")
    def _sensor(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource,
                notifier: NotifierResource, voice_engine: VoiceEngineResource):
        cfg = persys_config.load()
        repos = cfg.notifications.repositories
        tick = watch.tick(repos, context.cursor)
        notes = list(tick.errors)
        alerts = notifier.handle()
        announce.tell(tick.events, alerts)
        client = telegram_client(cfg.telegram, max_wait_s=10, timeout_s=60)
        spoken = [e for e in tick.events if next(r for r in repos if r.name == e.repo).voice]
        if spoken and client is not None:
            try:
                engine = announce.voice_note(spoken, client, cfg.voice.local,
                                             voice_engine.handle())
                notes.append(f"voice note ({engine})")
            except Exception as exc:  # noqa: BLE001 (the texts went out; the note is extra)
                notes.append(f"voice note not sent ({type(exc).__name__})")
        for repo in repos:
            if repo.checkout is None or repo.name not in tick.moved:
                continue
            result = self_update.update(repo.checkout, repo.remote, repo.branch,
                                        repo.graphql_url, locations_of(repo))
            notes.append(f"{repo.name}: {result.status} {result.old[:8]}→{result.new[:8]}")
            if result.alarming:
                alerts.notify(f"self-update:{repo.name}:{result.new}:{result.status}",
                              f"⚠️ persys: update of {repo.name} {result.status}",
                              f"{result.old[:8]} → {result.new[:8]} in {repo.checkout}\n"
                              f"{result.detail}")
            elif result.status == "updated":
                alerts.notify(f"self-update:{repo.name}:{result.new}:updated",
                              f"🔄 persys: updated to {result.new[:8]}", result.detail)
        context.update_cursor(tick.cursor)
        for note in notes:
            context.log.info(note)
        return dg.SkipReason("; ".join([f"{len(tick.events)} events", *notes]))

    return _sensor


def definitions(cfg: Config) -> dg.Definitions:
    n = cfg.notifications
    return dg.Definitions(
        sensors=[repository_sensor(n.repository_interval_s)] if n.repositories else [])
