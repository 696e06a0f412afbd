"""Bank statements as CSV: whatever the bank's delimiter, decimal mark and date order.

Two passes over the file (nothing is kept in memory): the first finds the columns by their
usual header names (or `imports.csv_format`), the delimiter, the decimal mark (`1.234,56` or
`1,234.56`) and the date order (a day above 12 tells `dmy` from `mdy`); when the file cannot
tell (every day ≤ 12), the error says which setting to add. The second yields the rows
(`transactions` stream), each error naming the file and line. The key is the date, amount,
description and balance, numbered when the same transaction appears twice on one day.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config.imports import CsvFormat
from .rows import ImportFileError, Row, Tally, numbered

NAMES = {
    "date": ("date", "transaction date", "booking date", "posted date", "posting date",
             "value date", "buchungstag", "datum", "fecha", "date de l'opération"),
    "amount": ("amount", "value", "betrag", "importe", "montant", "amount (gbp)",
               "amount (eur)", "amount (usd)"),
    "debit": ("debit", "money out", "paid out", "withdrawal", "debit amount", "soll"),
    "credit": ("credit", "money in", "paid in", "deposit", "credit amount", "haben"),
    "description": ("description", "payee", "merchant", "name", "details", "memo",
                    "narrative", "transaction description", "verwendungszweck",
                    "beschreibung", "concepto", "libellé"),
    "category": ("category",),
    "balance": ("balance", "running balance", "saldo", "solde"),
    "currency": ("currency", "währung"),
}
_DATE = re.compile(r"^\s*(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")


def parse(path: Path, zone: ZoneInfo, tally: Tally, fmt: CsvFormat) -> Iterator[Row]:
    name = str(path)
    layout = _layout(path, name, fmt)
    return numbered(_rows(path, name, fmt, tally, *layout))


def _open(path: Path, fmt: CsvFormat):
    return open(path, encoding=fmt.encoding, newline="")


def _layout(path: Path, name: str, fmt: CsvFormat) -> tuple[str, dict[str, int], str, str]:
    """Pass 1: delimiter, column positions, decimal mark and date order."""
    try:
        with _open(path, fmt) as f:
            sample = f.read(16384)
            if not sample.strip():
                raise ImportFileError(f"{name}: the file is empty; download the statement "
                                      "again")
            delimiter = fmt.delimiter if fmt.delimiter != "auto" else _sniff(sample)
            f.seek(0)
            reader = csv.reader(f, delimiter=delimiter)
            header = [h.strip().lower() for h in next(reader)]
            cols = _columns(header, fmt, name)
            decimals, orders = set(), set()
            for row in reader:
                for field_ in ("amount", "debit", "credit"):
                    if field_ in cols and cols[field_] < len(row):
                        decimals |= _decimal_hints(row[cols[field_]])
                if cols["date"] < len(row):
                    orders |= _order_hints(row[cols["date"]])
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{name}: not {fmt.encoding} text ({exc.reason} at byte "
                              f"{exc.start}); set imports.csv_format.encoding (e.g. cp1252)"
                              ) from None
    decimal = fmt.decimal if fmt.decimal != "auto" else ("," if decimals == {","} else ".")
    if fmt.date_order != "auto":
        order = fmt.date_order
    elif len(orders) == 1:
        order = orders.pop()
    else:
        raise ImportFileError(
            f"{name}: cannot tell the date order from the file (every day is 12 or less, or "
            "dates disagree); set imports.csv_format.date_order to dmy, mdy or ymd")
    return delimiter, cols, decimal, order


def _sniff(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _columns(header: list[str], fmt: CsvFormat, name: str) -> dict[str, int]:
    cols: dict[str, int] = {}
    for field_, names in NAMES.items():
        wanted = getattr(fmt, field_, None)
        candidates = (wanted.strip().lower(),) if wanted else names
        for candidate in candidates:
            if candidate in header:
                cols[field_] = header.index(candidate)
                break
    if "date" not in cols or not ("amount" in cols or "debit" in cols or "credit" in cols):
        raise ImportFileError(
            f"{name}: line 1: no date and amount columns among {header}; name them in "
            "imports.csv_format (date:, amount: or debit:/credit:)")
    return cols


def _decimal_hints(text: str) -> set[str]:
    text = text.strip().replace(" ", "")
    if re.fullmatch(r"[-+(]?[\d.]*\d,\d{1,2}\)?", text):
        return {","}
    if re.fullmatch(r"[-+(]?[\d,]*\d\.\d{1,2}\)?", text):
        return {"."}
    return set()


def _order_hints(text: str) -> set[str]:
    m = _DATE.match(text)
    if not m:
        return set()
    a, b, c = (int(x) for x in m.groups())
    if len(m.group(1)) == 4:
        return {"ymd"}
    if a > 12:
        return {"dmy"}
    if b > 12:
        return {"mdy"}
    return set()


def _rows(path: Path, name: str, fmt: CsvFormat, tally: Tally, delimiter: str,
          cols: dict[str, int], decimal: str, order: str) -> Iterator[Row]:
    """Pass 2."""
    with _open(path, fmt) as f:
        reader = csv.reader(f, delimiter=delimiter)
        next(reader)
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            tally.records += 1

            def cell(field_: str, row: list[str] = row) -> str | None:
                i = cols.get(field_)
                return row[i].strip() if i is not None and i < len(row) else None

            day = _date(cell("date") or "", order, name, line)
            amount = _amount(cell("amount"), decimal, name, line)
            if amount is None:
                out, into = (_amount(cell(f), decimal, name, line) for f in ("debit", "credit"))
                if out is None and into is None:
                    tally.drop("rows without an amount")
                    continue
                amount = (into or Decimal(0)) - abs(out or Decimal(0))
            text = cell("description") or ""
            key = f"csv|{day}|{amount}|{text}|{cell('balance') or ''}"
            yield (key, day, (day.isoformat(), str(amount), cell("currency") or fmt.currency,
                              (cell("category") or "uncategorised").lower(), text or None,
                              None, None))


def _date(text: str, order: str, name: str, line: int) -> dt.date:
    m = _DATE.match(text)
    if m:
        a, b, c = (int(x) for x in m.groups())
        y, mo, d = {"dmy": (c, b, a), "mdy": (c, a, b), "ymd": (a, b, c)}[order]
        y += 2000 if y < 100 else 0
        try:
            return dt.date(y, mo, d)
        except ValueError:
            pass
    raise ImportFileError(f"{name}: line {line}: {text!r} is not a date in {order} order; "
                          "fix the line or set imports.csv_format.date_order")


def _amount(text: str | None, decimal: str, name: str, line: int) -> Decimal | None:
    if text is None or not text.strip():
        return None
    clean = re.sub(r"[^\d,.\-+()]", "", text)
    negative = clean.startswith("(") and clean.endswith(")")
    clean = clean.strip("()")
    clean = clean.replace(".", "").replace(",", ".") if decimal == "," else clean.replace(",", "")
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise ImportFileError(f"{name}: line {line}: amount {text!r} is not a number with "
                              f"{decimal!r} as decimal mark; fix the line or set "
                              "imports.csv_format.decimal") from None
    return -value if negative else value
