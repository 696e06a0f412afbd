"""A local stand-in for a Supabase project's HTTP side on 127.0.0.1: the PostgREST select the
REST probe sends, and the Storage endpoints the `supabase` client calls for upload, download,
info, list, remove and signed URLs (including fetching a signed URL without any key).

Answers are shaped like Supabase's: the API gateway's 401 `{"message": "Invalid API key"}`
for a wrong key, Storage's `{"statusCode", "error", "message"}` errors.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, unquote, urlsplit

from persys_pipelines_tests.http_fakes import FakeHandler, serving

SERVICE_KEY = "sb-service-role-key-for-tests-0123456789"


@dataclass
class FakeSupabase:
    base_url: str = ""
    key: str = SERVICE_KEY
    buckets: dict[str, dict[str, bytes]] = field(default_factory=lambda: {"voice": {}})
    rest_rows: list[dict] = field(default_factory=list)
    rest_status: int = 200  # 503: the project is paused / restoring
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token → (bucket, path)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


@contextmanager
def fake_supabase(**kwargs) -> Iterator[FakeSupabase]:
    state = FakeSupabase(**kwargs)

    class Handler(FakeHandler):
        def _parts(self) -> tuple[list[str], dict]:
            url = urlsplit(self.path)
            return [unquote(p) for p in url.path.strip("/").split("/")], parse_qs(url.query)

        def _authorised(self) -> bool:
            ok = (self.headers.get("apikey") == state.key
                  and self.headers.get("Authorization") == f"Bearer {state.key}")
            if not ok:
                self.reply_json(401, {"message": "Invalid API key",
                                      "hint": "Double check your Supabase `anon` or "
                                              "`service_role` API key."})
            return ok

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _storage_error(self, code: int, error: str, message: str) -> None:
            self.reply_json(code, {"statusCode": str(code), "error": error, "message": message})

        def _bucket(self, name: str) -> dict[str, bytes] | None:
            if name not in state.buckets:
                self._storage_error(400, "Bucket not found", "Bucket not found")
                return None
            return state.buckets[name]

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parts, query = self._parts()
            state.requests.append(("GET", "/".join(parts)))
            if parts[:4] == ["storage", "v1", "object", "sign"]:  # a signed URL: no key needed
                found = state.tokens.get(query.get("token", [""])[0])
                if found is None or found != (parts[4], "/".join(parts[5:])):
                    return self._storage_error(400, "InvalidSignature", "invalid signature")
                return self.reply(200, state.buckets[found[0]][found[1]], "audio/ogg")
            if not self._authorised():
                return None
            if parts[:2] == ["rest", "v1"]:
                if state.rest_status != 200:
                    return self.reply(state.rest_status, b"upstream unavailable", "text/plain")
                if parts[2] != "daily_summaries":
                    return self.reply_json(404, {"code": "42P01", "message": f'relation '
                                                 f'"public.{parts[2]}" does not exist'})
                limit = int(query.get("limit", ["100"])[0])
                return self.reply(200, json.dumps(state.rest_rows[:limit]).encode(),
                                  "application/json")
            if parts[:3] == ["storage", "v1", "object"]:
                info = parts[3] == "info"
                rest = parts[4:] if info else parts[3:]
                bucket = self._bucket(rest[0])
                if bucket is None:
                    return None
                path = "/".join(rest[1:])
                if path not in bucket:
                    return self._storage_error(404, "not_found", "Object not found")
                if info:
                    return self.reply_json(200, {"name": path, "size": len(bucket[path])})
                return self.reply(200, bucket[path], "application/octet-stream")
            return self.reply_json(404, {"message": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            parts, _ = self._parts()
            state.requests.append(("POST", "/".join(parts)))
            body = self._body()
            if not self._authorised():
                return None
            if parts[:4] == ["storage", "v1", "object", "sign"]:
                bucket = self._bucket(parts[4])
                path = "/".join(parts[5:])
                if bucket is None:
                    return None
                if path not in bucket:
                    return self._storage_error(404, "not_found", "Object not found")
                token = secrets.token_urlsafe(16)
                state.tokens[token] = (parts[4], path)
                expires = json.loads(body)["expiresIn"]
                return self.reply_json(200, {"signedURL": f"/object/sign/{parts[4]}/{path}"
                                                          f"?token={token}&e={expires}"})
            if parts[:4] == ["storage", "v1", "object", "list"]:
                bucket = self._bucket(parts[4])
                if bucket is None:
                    return None
                prefix = json.loads(body).get("prefix", "").strip("/")
                names = {}
                for key, data in bucket.items():
                    if prefix and not key.startswith(prefix + "/"):
                        continue
                    head, _, tail = key[len(prefix) + 1 if prefix else 0:].partition("/")
                    names[head] = None if tail else {"id": key, "name": head,
                                                     "metadata": {"size": len(data)}}
                return self.reply(200, json.dumps(
                    [v or {"id": None, "name": k} for k, v in sorted(names.items())]).encode(),
                    "application/json")
            if parts[:3] == ["storage", "v1", "object"]:
                bucket = self._bucket(parts[3])
                if bucket is None:
                    return None
                path = "/".join(parts[4:])
                if path in bucket and self.headers.get("x-upsert") != "true":
                    return self._storage_error(409, "Duplicate", "The resource already exists")
                form = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
                (upload,) = [p for p in form.iter_parts() if p.get_filename()]
                bucket[path] = upload.get_payload(decode=True)
                return self.reply_json(200, {"Key": f"{parts[3]}/{path}", "Id": path})
            return self.reply_json(404, {"message": "not found"})

        def do_DELETE(self) -> None:  # noqa: N802
            parts, _ = self._parts()
            body = self._body()
            if not self._authorised():
                return None
            bucket = self._bucket(parts[3])
            if bucket is None:
                return None
            gone = [bucket.pop(p) and {"name": p} for p in json.loads(body)["prefixes"]
                    if p in bucket]
            return self.reply_json(200, gone)

    with serving(Handler) as state.base_url:
        yield state
