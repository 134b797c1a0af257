"""Read a QAPI schema file (``qapi/migration.json``) as data.

QAPI schemas are a sequence of JSON-like expressions with single-quoted strings, ``#`` comments
and no commas between top-level expressions (QEMU's ``scripts/qapi/parser.py``). This is a small
tokenizer and recursive-descent reader of exactly that syntax: dicts, lists, strings, true/false.
"""

from __future__ import annotations

from typing import Any


class QapiError(ValueError):
    """The file is not a QAPI schema this reader understands."""


def _tokens(src: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    i, line, n = 0, 1, len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r\f":
            i += 1
        elif c == "#":
            while i < n and src[i] != "\n":
                i += 1
        elif c in "{}[]:,":
            out.append((c, c, line))
            i += 1
        elif c == "'":
            j = i + 1
            buf = []
            while j < n and src[j] != "'":
                if src[j] == "\\" and j + 1 < n:
                    j += 1
                if src[j] == "\n":
                    raise QapiError(f"line {line}: newline in string")
                buf.append(src[j])
                j += 1
            if j >= n:
                raise QapiError(f"line {line}: unterminated string")
            out.append(("str", "".join(buf), line))
            i = j + 1
        elif src.startswith("true", i):
            out.append(("val", True, line))
            i += 4
        elif src.startswith("false", i):
            out.append(("val", False, line))
            i += 5
        else:
            raise QapiError(f"line {line}: unexpected character {c!r}")
    return out


def parse(src: str) -> list[dict[str, Any]]:
    """The top-level expressions of a schema, in order."""
    toks = _tokens(src)
    pos = 0

    def value() -> Any:
        nonlocal pos
        if pos >= len(toks):
            raise QapiError("unexpected end of file")
        kind, v, line = toks[pos]
        pos += 1
        if kind in ("str", "val"):
            return v
        if kind == "{":
            d: dict[str, Any] = {}
            if toks[pos][0] == "}":
                pos += 1
                return d
            while True:
                k = value()
                if not isinstance(k, str):
                    raise QapiError(f"line {line}: a key must be a string")
                if toks[pos][0] != ":":
                    raise QapiError(f"line {toks[pos][2]}: expected ':'")
                pos += 1
                d[k] = value()
                sep = toks[pos][0]
                pos += 1
                if sep == "}":
                    return d
                if sep != ",":
                    raise QapiError(f"line {toks[pos - 1][2]}: expected ',' or '}}'")
        if kind == "[":
            lst: list[Any] = []
            if toks[pos][0] == "]":
                pos += 1
                return lst
            while True:
                lst.append(value())
                sep = toks[pos][0]
                pos += 1
                if sep == "]":
                    return lst
                if sep != ",":
                    raise QapiError(f"line {toks[pos - 1][2]}: expected ',' or ']'")
        raise QapiError(f"line {line}: unexpected {v!r}")

    exprs: list[dict[str, Any]] = []
    try:
        while pos < len(toks):
            e = value()
            if not isinstance(e, dict):
                raise QapiError("a top-level expression must be a dict")
            exprs.append(e)
    except IndexError:
        raise QapiError("unexpected end of file") from None
    return exprs


def enum_members(exprs: list[dict[str, Any]], name: str) -> list[str]:
    """The member names of enum ``name`` (members may be strings or ``{'name': ...}`` dicts)."""
    for e in exprs:
        if e.get("enum") == name:
            out = []
            for m in e.get("data", []):
                member = m.get("name") if isinstance(m, dict) else m
                if not isinstance(member, str):
                    raise QapiError(f"enum {name}: a member without a name")
                out.append(member)
            return out
    raise QapiError(f"no enum {name!r}")


def c_name(prefix: str, member: str) -> str:
    """QAPI's C enumerator name: ``MIGRATION_STATUS_POSTCOPY_DEVICE`` for ``postcopy-device``."""
    return prefix + member.upper().replace("-", "_").replace(".", "_")
