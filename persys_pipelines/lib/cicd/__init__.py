"""Deployments announced and persys kept up to date: the person's repositories followed on
Gitea or GitHub (`forge`: their REST APIs; `watch`: what changed since the cursor: commits on a
branch, tags, CI statuses), told by Telegram text and a voice note (`announce`), and persys's
own checkout pulled, validated and reloaded, or rolled back (`self_update`). Plain Python;
may import every lower layer (config, voice, monitoring's notifier)."""

from __future__ import annotations

from ..errors import ServiceError


class ForgeError(ServiceError):
    """Gitea or GitHub refused or could not be reached; names the repository, never the token."""
