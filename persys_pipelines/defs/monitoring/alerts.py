"""The notifier the monitoring sensors and assets share (persys.yaml `notify:`)."""

from __future__ import annotations

from ...lib.config import Config
from ...lib.monitoring.notify import Notifier


def notifier(cfg: Config) -> Notifier:
    return Notifier.from_config(cfg)
