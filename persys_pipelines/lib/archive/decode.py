"""Vectorised decoders for the text forms `format.export_arrow` reads from COPY: uuid text
→ 16 bytes, PostgreSQL array text → Arrow lists, JSON arrays → Arrow lists.

They take only what the export's guards let through (`format.Column.guard`): one-dimensional
arrays with lower bound 1, so an element list is the whole value.
"""

from __future__ import annotations

import functools
import io

from ..errors import ArchiveError
from ..lazy import lazy_module

np, pa, pc = lazy_module("numpy"), lazy_module("pyarrow"), lazy_module("pyarrow.compute")
pajson = lazy_module("pyarrow.json")


class ArchiveFormatError(ArchiveError):
    """A column or value cannot be archived or restored exactly; names table, column and,
    when one row is the cause, its key and value."""


@functools.cache
def _hex_values():
    """ASCII byte → its hex digit's value, 255 for anything else."""
    table = np.full(256, 255, np.uint8)
    for digits, first in ((b"0123456789", 0), (b"abcdef", 10), (b"ABCDEF", 10)):
        table[np.frombuffer(digits, np.uint8)] = np.arange(first, first + len(digits))
    return table


_DASHES = [8, 13, 18, 23]


def uuid_text_to_binary(arr: pa.Array, where: str) -> pa.Array:
    """36-character uuid strings → 16-byte binary, vectorised (NULLs kept)."""
    n = len(arr)
    if n == 0:
        return pa.array([], pa.binary(16))
    filled = pc.fill_null(arr, "00000000-0000-0000-0000-000000000000") if arr.null_count else arr
    if pc.min(pc.utf8_length(filled)).as_py() != 36 or pc.max(pc.utf8_length(filled)).as_py() != 36:
        raise ArchiveFormatError(f"{where}: a uuid value is not 36 characters")
    offsets = np.frombuffer(filled.buffers()[1], np.int32)[filled.offset:filled.offset + n + 1]
    data = np.frombuffer(filled.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, 36)
    nibbles = _hex_values()[np.delete(data, _DASHES, axis=1)]
    if (nibbles == 255).any():
        raise ArchiveFormatError(f"{where}: a uuid value is not hexadecimal")
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    validity = arr.buffers()[0] if arr.null_count else None
    if validity is not None and arr.offset:
        validity = pc.is_valid(arr).buffers()[1]
    return pa.Array.from_buffers(pa.binary(16), n, [validity, pa.py_buffer(packed.tobytes())],
                                 null_count=arr.null_count)


_SIMPLE_ARRAY = r'^\{[^{}"\\]*\}$'  # no quoted element, no nesting: split on commas


def text_lists(arr: pa.Array, where: str) -> pa.Array:
    """`text[]` in PostgreSQL's array text form (`{a,b,NULL}`) → list<string>, vectorised.

    PostgreSQL quotes every element holding a comma, quote, brace, backslash or space, an
    empty string, and the word NULL; when no value has a quote the elements are split on
    commas and `NULL` is a NULL element. A column with quoted elements is parsed row by row.
    """
    if len(arr) == 0:
        return pa.array([], pa.list_(pa.string()))
    if pc.all(pc.match_substring_regex(arr, _SIMPLE_ARRAY)).as_py() is not False:
        inner = pc.utf8_slice_codeunits(arr, 1, -1)
        inner = pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()), inner)
        split = pc.split_pattern(inner, ",")
        lengths = pc.fill_null(pc.list_value_length(split), 0).to_numpy(zero_copy_only=False)
        offsets = np.zeros(len(arr) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        values = pc.list_flatten(split)
        values = pc.if_else(pc.equal(values, "NULL"), pa.scalar(None, pa.string()), values)
        mask = pc.is_null(arr) if arr.null_count else None
        return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pa.array([None if v is None else parse_text_array(v, where) for v in arr.to_pylist()],
                    pa.list_(pa.string()))


def parse_text_array(text: str, where: str) -> list[str | None]:
    """One-dimensional PostgreSQL array text → its elements (quotes, escapes, NULL).

    Explicit bounds (`[0:1]={a,b}`) would be lost in a list: such a value never comes here
    (the export keeps its column as text), and is refused if it does."""
    if text.startswith("["):
        raise ArchiveFormatError(f"{where}: {text[:40]!r} has explicit bounds, which a list "
                                 "cannot keep")
    if not (text.startswith("{") and text.endswith("}")):
        raise ArchiveFormatError(f"{where}: {text[:40]!r} is not an array value")
    out: list[str | None] = []
    i, end = 1, len(text) - 1
    while i < end:
        if text[i] == '"':
            i += 1
            chars = []
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                chars.append(text[i])
                i += 1
            out.append("".join(chars))
            i += 1
        else:
            j = text.find(",", i)
            j = end if j < 0 else j
            token = text[i:j]
            if "{" in token:
                raise ArchiveFormatError(f"{where}: a nested array cannot be kept as a list")
            out.append(None if token == "NULL" else token)
            i = j
        i += 1  # the comma
    return out


def json_lists(arr: pa.Array, arrow_type: pa.DataType, where: str) -> pa.Array:
    """JSON array texts (`array_to_json`) → an Arrow list column via the JSON reader."""
    if len(arr) == 0:
        return pa.array([], arrow_type)
    lines = pc.binary_join_element_wise('{"v":', arr, "}\n", "")
    if lines.null_count:
        lines = pc.fill_null(lines, '{"v":null}\n')
    n = len(lines)
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset:lines.offset + n + 1]
    body = memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]
    try:
        parsed = pajson.read_json(
            io.BytesIO(body),
            parse_options=pajson.ParseOptions(explicit_schema=pa.schema([("v", arrow_type)]),
                                              newlines_in_values=False),
        )
    except pa.ArrowInvalid as exc:
        raise ArchiveFormatError(
            f"{where}: an array value does not fit {arrow_type}: {exc}") from None
    out = parsed.column("v").combine_chunks()
    if len(out) != len(arr):
        raise ArchiveFormatError(f"{where}: {len(out)} arrays parsed for {len(arr)} rows")
    return out
