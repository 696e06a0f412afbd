"""The one way numbers are written for a person: counts with their noun, sizes in kB/MB.

Every command and report uses these, so "1 row", "1,237 rows" and "62.8 kB" read the same
everywhere: thousands separated by commas, a singular noun for one, sizes in kB under a
megabyte and MB above (never raw bytes next to kB in the same output).
"""

from __future__ import annotations

IRREGULAR = {"entry": "entries", "process": "processes", "is": "are", "has": "have",
             "was": "were", "category": "categories", "copy": "copies", "it": "they"}


def plural(n: int | float, singular: str, plural_form: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,237 rows`, `1 entry`; `plural_form` for other irregular nouns."""
    many = plural_form or IRREGULAR.get(singular) or f"{singular}s"
    return f"{number(n)} {singular if n == 1 else many}"


def noun(n: int | float, singular: str, plural_form: str | None = None) -> str:
    """The noun alone, agreeing with `n` (a table cell whose number stands in its own column)."""
    return singular if n == 1 else plural_form or IRREGULAR.get(singular) or f"{singular}s"


def number(n: int | float) -> str:
    """`1,237`; a float keeps one decimal unless it is whole."""
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"


def human_bytes(n: float | None) -> str:
    """The one size format of every report: kB under a megabyte, MB above."""
    if n is None:
        return "-"
    return f"{n / 1024:,.1f} kB" if abs(n) < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"
