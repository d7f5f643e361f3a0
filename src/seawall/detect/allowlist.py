"""Allowlist entries (seawall.detect.context) compiled into Polars expressions, evaluated beside
the rules: for every rule that entries name, one column holding the index of the first entry
that matches the event (null when none does)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import polars as pl

from seawall.core.errors import InputError
from seawall.detect.compiler import Unsupported, cidr_test
from seawall.detect.context import CIDR_PREFIX, PLACEHOLDER_NONE, AllowEntry

_REGEX_META = set("\\.+*?()|[]{}^$#&-~")


def glob_pattern(glob: str) -> str:
    """A glob (`*`, `?`) as an anchored regular expression for Polars (Rust regex syntax)."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in _REGEX_META:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "(?s)^" + "".join(out) + "$"


def _networks(globs: list[str]) -> list[Callable[[pl.Expr], pl.Expr]]:
    """Tests for the `cidr:` patterns (one whose network is an empty value list matches nothing)."""
    tests = []
    for g in globs:
        text = g[len(CIDR_PREFIX) :]
        if text == PLACEHOLDER_NONE:
            continue
        try:
            net = ipaddress.ip_network(text, strict=False)
            tests.append(cidr_test(net))
        except (ValueError, Unsupported) as exc:
            raise InputError(f"context: allowlist pattern {g!r}: {exc}") from None
    return tests


def _matches(globs: list[str]) -> Callable[[pl.Expr], pl.Expr]:
    networks = _networks([g for g in globs if g.startswith(CIDR_PREFIX)])
    globs = [g for g in globs if not g.startswith(CIDR_PREFIX)]
    plain = [g for g in globs if "*" not in g and "?" not in g]
    patterns = [glob_pattern(g) for g in globs if g not in plain]

    def test(e: pl.Expr) -> pl.Expr:
        parts = [inside(e).fill_null(False) for inside in networks]
        if plain:
            parts.append(e.is_in(plain))
        if patterns:
            parts.append(e.str.contains("|".join(f"(?:{p})" for p in patterns)))
        if not parts:
            return pl.lit(False)
        return pl.any_horizontal(parts) if len(parts) > 1 else parts[0]

    return test


def entry_expr(entry: AllowEntry, is_list: Callable[[str], bool]) -> pl.Expr:
    """True for the events the entry matches: each `match` field has a value (any element of a
    list) matching one of its patterns (globs, or `cidr:NET`: an address inside NET); every
    element of each `every` list matches one, and there is at least one element. (The entry's
    `%list%` references are expanded already.)"""
    parts = []
    for name, globs in entry.match:
        test = _matches(list(globs))
        col = pl.col(name)
        parts.append(
            (col.list.eval(test(pl.element())).list.any() if is_list(name) else test(col)).fill_null(False)
        )
    for name, globs in entry.every:
        test = _matches(list(globs))
        col = pl.col(name)
        if is_list(name):
            every = (col.list.len() > 0) & col.list.eval(test(pl.element())).list.all()
        else:
            every = test(col)
        parts.append(every.fill_null(False))
    return pl.all_horizontal(parts) if len(parts) > 1 else parts[0]


def allow_expr(entries: list[AllowEntry], is_list: Callable[[str], bool]) -> pl.Expr:
    """The index of the first matching entry, or null."""
    expr: pl.Expr = pl.lit(None, pl.Int16)
    for i in reversed(range(len(entries))):
        expr = pl.when(entry_expr(entries[i], is_list)).then(pl.lit(i, pl.Int16)).otherwise(expr)
    return expr
