"""PostgreSQL DSNs as people paste them: checked at config load, shown without the password.

Both forms are read with libpq's own parser (`psycopg.conninfo.conninfo_to_dict`), so what
passes here is what `connect` will read. libpq's parse errors quote the text around the fault,
which may be part of the password, so they are never passed on: messages say which key is wrong
and how to fix it, from our own words only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

# What a URL's user:password may hold as is (RFC 3986 userinfo); anything else is %XX-encoded.
_USERINFO_OK = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*")
SHOWN = ("host", "port", "user", "dbname")  # only these reach a message (not options, sslkey)
ENCODE_HINT = ("""python -c "import urllib.parse;print(urllib.parse.quote('PASSWORD', """
               """safe=''))\"""")


def is_url(dsn: str) -> bool:
    return "://" in dsn


def dsn_fields(dsn: str) -> dict[str, str] | None:
    """libpq's reading of the DSN (host, port, user, password, dbname, ...), None if it fails."""
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except ProgrammingError:
        return None


def dsn_password(dsn: str) -> str | None:
    """The password inside a DSN, so error texts can be scrubbed of it."""
    return (dsn_fields(dsn) or {}).get("password")


def dsn_problem(key: str, dsn: str) -> str | None:
    """Why `dsn` (the value of `key`, e.g. tiers.core.dsn) cannot be used as written, or None.

    A URL whose password holds `/ ? # @ %` or a space is refused even when libpq would guess
    a reading: libpq, SQLAlchemy and urllib each guess differently, and a wrong guess sends the
    password's tail as a host name into logs.
    """
    if is_url(dsn):
        userinfo = dsn.split("://", 1)[1].rpartition("@")[0]
        if userinfo and not _USERINFO_OK.fullmatch(userinfo):
            return (f"{key}: the user name or password holds a character a URL cannot carry as "
                    "is (/ ? # @ % or a space); percent-encode the password, e.g. with "
                    f"{ENCODE_HINT}, and put the result in its place")
        if dsn_fields(dsn) is None:
            return (f"{key}: not a valid postgresql:// URL; check the host, port and database, "
                    f"and percent-encode the password (e.g. with {ENCODE_HINT})")
        return None
    if dsn_fields(dsn) is None:
        return (f"{key}: not a valid key=value connection string; quote a password holding "
                "spaces or quotes as password='...' (a ' inside as \\'), or use a postgresql:// "
                f"URL with the password percent-encoded (e.g. with {ENCODE_HINT})")
    return None


def safe_dsn(dsn: str) -> str:
    """A DSN for messages: host, port, user and database; the password is never shown."""
    fields = dsn_fields(dsn)
    if fields is None:
        return "(a DSN that does not parse; see tiers.<tier>.dsn)"
    if is_url(dsn):
        scheme = urlsplit(dsn).scheme or "postgresql"
        hosts = fields.get("host", "").split(",")
        ports = fields.get("port", "5432").split(",")
        ports += [ports[-1]] * (len(hosts) - len(ports))  # libpq: one port serves all hosts
        where = ",".join(f"{f'[{h}]' if ':' in h else h}:{p or '5432'}"
                         for h, p in zip(hosts, ports, strict=False)
                         if h and not h.startswith("/"))
        sockets = [h for h in hosts if h.startswith("/")]
        return (f"{scheme}://{fields.get('user', '')}@{where}/{fields.get('dbname', '')}"
                + (f"?host={','.join(sockets)}" if sockets else ""))
    return " ".join(f"{k}={fields[k]}" for k in SHOWN if k in fields)
