"""`notifications:` in persys.yaml: SMS for rare alerts and the repositories to follow.

Kept apart from the `notify:` channels (Telegram, e-mail) because both are rare by design:
an SMS costs money and wakes a person, so it carries only the alerts named in
lib/monitoring/sms.py, under a monthly cap; a followed repository announces deployments
(new commits on a branch, tags, CI statuses) and, for persys's own checkout, updates it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
EVENTS = ("commits", "tags", "statuses")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sms(_Strict):
    """`notifications.sms:`: AWS SNS text messages to one phone, for rare alerts only."""

    # The person's number in E.164 (+447700900123); personal, so kept like a secret (env:/ssm:)
    phone_number: SecretStr
    region: str = "us-east-1"
    endpoint_url: str | None = None  # a stand-in (tests); null: AWS itself
    monthly_cap: int = Field(10, ge=1, le=1000)  # messages a calendar month, then none
    sender_id: str | None = Field(None, pattern=r"^[A-Za-z0-9]{1,11}$")  # where supported

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: SecretStr) -> SecretStr:
        if not E164.match(value.get_secret_value()):
            raise ValueError("must be a phone number in E.164 form, e.g. +447700900123 "
                             "(a plus, the country code, no spaces)")
        return value


class FollowedRepository(_Strict):
    """One repository whose deployments are announced (`notifications.repositories[]`)."""

    name: str = Field(min_length=1, max_length=60)  # how the announcements call it
    provider: Literal["gitea", "github"]
    # Gitea: the server (https://git.example.org); GitHub: https://api.github.com
    url: str = "https://api.github.com"
    repo: str  # owner/name
    branch: str = "main"
    token: SecretStr | None = None  # read-only token (env:/ssm:); public repositories need none
    events: list[Literal["commits", "tags", "statuses"]] = list(EVENTS)
    voice: bool = True  # a voice note besides the text (ElevenLabs within budget, else local)
    # persys's own checkout on this machine: on a new commit of `branch`, pull, validate the
    # definitions, reload `location` through the webserver's GraphQL API; roll back on failure
    checkout: Path | None = None
    remote: str = "origin"
    # code locations to reload; empty: this person's (PERSYS_PERSON), else persys_pipelines
    locations: list[str] = []
    graphql_url: str = "http://127.0.0.1:3000/graphql"
    timeout_s: float = Field(15, gt=0)

    @field_validator("url", "graphql_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, value: str) -> str:
        if not REPO.match(value):
            raise ValueError("must be owner/name, e.g. alice/persys-pipelines")
        return value


class Notifications(_Strict):
    """`notifications:`: SMS for rare alerts; repositories whose deployments are announced."""

    sms: Sms | None = None
    repositories: list[FollowedRepository] = []
    repository_interval_s: int = Field(300, ge=30)  # how often the repository sensor asks
