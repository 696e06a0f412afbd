"""Gitea's and GitHub's REST APIs, the few calls a deployment watcher needs.

Gitea's API follows GitHub's for these: `GET …/commits?sha=<branch>` (newest first, each with
`sha`, `commit.message`, `commit.author.name`, `html_url`), `GET …/tags` (`name`,
`commit.sha`) and `GET …/commits/<ref>/status` (the combined `state` and each context's state).
Only the base path and the token header differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ..config.notifications import FollowedRepository
from ..errors import scrub
from . import ForgeError

PAGE = 30  # commits, tags per call: more than enough between two ticks


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: str
    url: str

    @property
    def title(self) -> str:
        return self.message.strip().splitlines()[0][:120] if self.message.strip() else ""


@dataclass(frozen=True)
class Status:
    state: str  # success, failure, error, pending (GitHub's combined state)
    contexts: tuple[tuple[str, str], ...]  # (context, state) of each check


class Forge:
    """One followed repository's API; `transport` is for tests that need no server."""

    def __init__(self, repo: FollowedRepository, transport: httpx.BaseTransport | None = None):
        self.repo = repo
        self._token = repo.token.get_secret_value() if repo.token else None
        headers = {"Accept": "application/json"}
        if repo.provider == "github":
            headers["Accept"] = "application/vnd.github+json"
            base = f"{repo.url}/repos/{repo.repo}"
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
        else:
            base = f"{repo.url}/api/v1/repos/{repo.repo}"
            if self._token:
                headers["Authorization"] = f"token {self._token}"
        self._client = httpx.Client(base_url=base, headers=headers, timeout=repo.timeout_s,
                                    transport=transport)

    def __repr__(self) -> str:
        return f"Forge({self.repo.provider}:{self.repo.repo})"

    def close(self) -> None:
        self._client.close()

    def commits(self) -> list[Commit]:
        """The branch's newest commits, newest first."""
        key = "per_page" if self.repo.provider == "github" else "limit"
        rows = self._get("/commits", {"sha": self.repo.branch, key: PAGE})
        return [Commit(r["sha"], (r.get("commit") or {}).get("message", ""),
                       ((r.get("commit") or {}).get("author") or {}).get("name", ""),
                       r.get("html_url", "")) for r in rows]

    def tags(self) -> dict[str, str]:
        """Tag name → commit sha."""
        key = "per_page" if self.repo.provider == "github" else "limit"
        rows = self._get("/tags", {key: PAGE})
        return {r["name"]: (r.get("commit") or {}).get("sha", "") for r in rows}

    def status(self, sha: str) -> Status:
        body = self._get(f"/commits/{sha}/status", {})
        contexts = tuple((s.get("context", "?"), s.get("state") or s.get("status") or "?")
                         for s in body.get("statuses") or [])
        return Status(body.get("state") or "pending", contexts)

    def _get(self, path: str, params: dict):
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ForgeError(f"{self.repo.name}: could not reach {self.repo.url} "
                             f"({type(exc).__name__})") from None
        if response.status_code == 401 or response.status_code == 403:
            raise ForgeError(f"{self.repo.name}: {self.repo.url} refused the token (HTTP "
                             f"{response.status_code}); check notifications.repositories"
                             f"[{self.repo.name}].token")
        if response.status_code == 404:
            raise ForgeError(f"{self.repo.name}: {self.repo.repo} or branch "
                             f"{self.repo.branch} not found on {self.repo.url}")
        if response.status_code >= 400:
            detail = scrub(response.text[:200], [self._token] if self._token else [])
            raise ForgeError(f"{self.repo.name}: HTTP {response.status_code} from "
                             f"{self.repo.url}: {detail}")
        try:
            return response.json()
        except ValueError:  # an HTML error page, a proxy's login form
            raise ForgeError(f"{self.repo.name}: {self.repo.url} did not answer JSON (HTTP "
                             f"{response.status_code}); is url the server's address?") from None
