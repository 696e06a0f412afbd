"""Bank statements in OFX/QFX, read by ofxtools after their header is put right.

Banks write OFX headers every way but the spec's: the whole file on one line, no newlines
between header fields, a space after the colon, an XML declaration in front of an OFX 1 (SGML)
header, `ENCODING:UTF-8` with `CHARSET:UTF-8` in version 1, no blank line before `<OFX>`.
`normalize` reads the header's fields tolerantly and writes the canonical header ofxtools
expects (the body decoded with the charset the bank declared, or UTF-8, re-encoded as UTF-8);
an OFX 2 (XML) file passes as it is. Rows: the `transactions` stream, keyed by account and
FITID, so a newer statement that overlaps an older one adds only the new transactions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from .rows import ImportFileError, Row, Tally

_FIELD = re.compile(r"([A-Z]+)\s*:\s*([^\s<]*)")
_OFX_TAG = re.compile(rb"<OFX>", re.IGNORECASE)
_V2 = re.compile(rb"<\?OFX[^>]*VERSION\s*=\s*\"?2", re.IGNORECASE)
_V1_FIELDS = ("OFXHEADER", "DATA", "VERSION", "SECURITY", "ENCODING", "CHARSET", "COMPRESSION",
              "OLDFILEUID", "NEWFILEUID")
_DEFAULTS = {"OFXHEADER": "100", "DATA": "OFXSGML", "VERSION": "102", "SECURITY": "NONE",
             "ENCODING": "USASCII", "CHARSET": "NONE", "COMPRESSION": "NONE",
             "OLDFILEUID": "NONE", "NEWFILEUID": "NONE"}
_CODECS = {"1252": "cp1252", "ISO-8859-1": "latin_1", "UTF-8": "utf-8", "NONE": "utf-8"}


def normalize(raw: bytes, name: str) -> bytes:
    """The file with a header ofxtools reads (module docstring)."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    start = _OFX_TAG.search(raw)
    if not raw.strip():
        raise ImportFileError(f"{name}: the file is empty; download the statement again")
    if start is None:
        raise ImportFileError(f"{name}: no <OFX> element: not an OFX/QFX statement")
    head, body = raw[:start.start()], raw[start.start():]
    if _V2.search(head):
        return raw.lstrip()
    text = head.decode("ascii", "replace")
    if "OFXHEADER" not in text:
        raise ImportFileError(f"{name}: neither an OFX 1 header (OFXHEADER:100 …) nor an OFX "
                              "2 declaration (<?OFX … VERSION=\"2xx\"?>) before <OFX>")
    fields = dict(_DEFAULTS)
    fields.update({k: v for k, v in _FIELD.findall(text[text.index("OFXHEADER"):])
                   if k in fields and v})
    charset = fields["CHARSET"].upper()
    codec = _CODECS.get(charset, "utf-8")
    if fields["ENCODING"].upper() in ("UTF-8", "UNICODE"):
        codec = "utf-8"
    try:
        decoded = body.decode(codec)
    except UnicodeDecodeError:
        decoded = body.decode("cp1252", "replace")
    fields.update(ENCODING="USASCII", CHARSET="NONE")  # body now UTF-8: ofxtools' NONE
    header = "\r\n".join(f"{k}:{fields[k]}" for k in _V1_FIELDS)
    return f"{header}\r\n\r\n{decoded}".encode()


def parse(path: Path, zone: ZoneInfo, tally: Tally) -> Iterator[Row]:
    from ofxtools.Parser import OFXTree

    name = str(path)
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(normalize(path.read_bytes(), name)))
        ofx = tree.convert()
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 (ofxtools raises many kinds; all mean "broken")
        raise ImportFileError(f"{name}: ofxtools cannot read the statement: "
                              f"{type(exc).__name__}: {str(exc)[:300]}; nothing was imported"
                              ) from None
    statements = list(getattr(ofx, "statements", []) or [])
    if not statements:
        raise ImportFileError(f"{name}: the OFX file holds no bank or card statement")
    for stmt in statements:
        account = getattr(stmt.account, "acctid", None) or "account"
        currency = getattr(stmt, "curdef", None) or ""
        for txn in stmt.transactions or []:
            tally.records += 1
            fitid = getattr(txn, "fitid", None)
            posted = getattr(txn, "dtposted", None)
            if not fitid or posted is None or txn.trnamt is None:
                tally.drop("transactions without FITID, DTPOSTED or TRNAMT")
                continue
            merchant = getattr(txn, "name", None) or getattr(getattr(txn, "payee", None),
                                                              "name", None)
            category = (getattr(txn, "trntype", None) or "other").lower()
            yield (f"ofx|{account}|{fitid}", posted.date(),
                   (posted.date().isoformat(), str(txn.trnamt), currency, category, merchant,
                    getattr(txn, "memo", None), str(account)))
