"""persys.yaml's values and messages: `env:`/`ssm:` references resolved, pydantic's errors
turned into "key (value): problem; fix" lines."""

from __future__ import annotations

import os
import types
import typing
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ..errors import scrub

# ---------------------------------------------------------------------------------------------
# env: and ssm: values


# key → SSM parameter name of every ssm: value read in this process (`persys doctor` lists them)
SSM_USED: dict[str, str] = {}


def resolve_values(node: Any, loc: tuple, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: resolve_values(v, (*loc, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_values(v, (*loc, i), problems) for i, v in enumerate(node)]
    if isinstance(node, str) and node.startswith("env:"):
        name = node[4:]
        if name not in os.environ:
            problems.append(
                f"{_dotted(loc)}: environment variable {name} is not set; "
                f"export {name}=... or change the value"
            )
            return None
        return os.environ[name]
    if isinstance(node, str) and node.startswith("ssm:"):
        try:
            value = read_ssm_parameter(node[4:])
            SSM_USED[_dotted(loc)] = node[4:]
            return value
        except Exception as exc:  # boto3 raises many kinds; the key and parameter matter
            problems.append(
                f"{_dotted(loc)}: could not read SSM parameter {node[4:]} "
                f"({type(exc).__name__}: {_short(exc)}); check the name, AWS region and "
                "credentials (AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID)"
            )
            return None
    return node


@lru_cache(maxsize=256)
def read_ssm_parameter(name: str) -> str:
    """A SecureString (or plain) parameter, decrypted; cached for the process."""
    import boto3

    client = boto3.client("ssm")
    return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _short(exc: Exception) -> str:
    """boto3's first line, scrubbed: a ParamValidation error can quote what was sent."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return scrub(text)[:200]


# ---------------------------------------------------------------------------------------------
# pydantic errors → "key (value): problem; fix"


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def describe_error(err: dict, root: type[BaseModel]) -> str:
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    key = _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required key is missing; add it"
    value = err.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" ({value!r})"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{key}{shown}: {msg[0].lower()}{msg[1:]}"


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the union member it tried (e.g. 'list[SecretStr]') into the location
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})


def _allowed_keys(root: type[BaseModel], loc: tuple) -> list[str]:
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
