"""Sigma condition trees (from pySigma) -> one vectorized Polars boolean expression per rule.

Sigma semantics: strings compare case-insensitively (`|cased` keeps case), `*`/`?` wildcards,
modifiers already applied by pySigma (contains/startswith/endswith/all/base64/base64offset/
windash/re/cidr/exists/fieldref/gt/gte/lt/lte). A list-valued field matches when any element
matches. A missing field never matches, so `not field: x` is true for an event without it.

The compiler never evaluates attacker data: values become literals in Polars expressions.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sigma import conditions as C
from sigma import types as T
from sigma.types import SpecialChars

LOWER_SUFFIX = "\x00lc"


class Unsupported(Exception):
    """The rule uses something the engine cannot evaluate; the message says what."""


@dataclass(slots=True)
class FieldUse:
    """Columns a compiled rule reads: raw fields and the fields it needs lower-cased."""

    fields: set[str] = field(default_factory=set)
    lower: set[str] = field(default_factory=set)
    keywords: bool = False


def lower_name(name: str) -> str:
    return name + LOWER_SUFFIX


def _plain(value: T.SigmaString) -> str | None:
    """The literal text if the string has no wildcards, else None."""
    if not all(isinstance(p, str) for p in value.s):
        return None
    return "".join(p for p in value.s if isinstance(p, str))


def _wildcard_shape(value: T.SigmaString) -> tuple[str, str] | None:
    """`*x*` -> ("contains", x), `x*` -> ("startswith", x), `*x` -> ("endswith", x)."""
    parts = list(value.s)
    lead = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
    trail = len(parts) > 1 and parts[-1] is SpecialChars.WILDCARD_MULTI
    inner = parts[1 if lead else 0 : len(parts) - (1 if trail else 0)]
    if not inner or not all(isinstance(p, str) for p in inner):
        return None
    text = "".join(p for p in inner if isinstance(p, str))
    if lead and trail:
        return ("contains", text)
    if lead:
        return ("endswith", text)
    if trail:
        return ("startswith", text)
    return None


def _to_regex(value: T.SigmaString) -> str:
    out = []
    for part in value.s:
        if part is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        elif isinstance(part, str):
            out.append(re.escape(part))
        else:
            raise Unsupported(f"placeholder {part!r} in a value (needs a processing pipeline)")
    return "(?s)^" + "".join(out) + "$"


def _any_of(tests: list[Callable[[pl.Expr], pl.Expr]]) -> Callable[[pl.Expr], pl.Expr]:
    if len(tests) == 1:
        return tests[0]

    def any_test(e: pl.Expr) -> pl.Expr:
        return pl.any_horizontal([t(e) for t in tests])

    return any_test


def check_regex(pattern: str) -> None:
    try:
        pl.select(pl.lit("probe").str.contains(pattern))
    except Exception as exc:
        raise Unsupported(
            f"regular expression not supported by the Rust regex engine "
            f"(look-around or back-references?): {pattern[:80]!r}"
        ) from exc


def _ipv4_int(expr: pl.Expr) -> pl.Expr:
    parts = expr.str.extract_groups(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
    total: pl.Expr = pl.lit(0, pl.Int64)
    for i in range(4):
        total = total * 256 + parts.struct.field(str(i + 1)).cast(pl.Int64, strict=False)
    return total


def cidr_test(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Callable[[pl.Expr], pl.Expr]:
    """A test of address texts: inside `net`. IPv4 as integers; IPv6 by its leading groups as
    text (as addresses are usually written, lower case, no leading zeros), a partial group as an
    alternation of its possible values."""
    if isinstance(net, ipaddress.IPv4Network):
        lo, hi = int(net.network_address), int(net.broadcast_address)
        return lambda e: _ipv4_int(e).is_between(lo, hi)
    full, rest = divmod(net.prefixlen, 16)
    groups = [g.lstrip("0") or "0" for g in net.network_address.exploded.split(":")[:full]]
    head = re.escape(":".join(groups) + (":" if groups else ""))
    if rest:
        base = int(net.network_address.exploded.split(":")[full], 16)
        span = 1 << (16 - rest)
        if span > 4096:
            raise Unsupported(f"IPv6 CIDR {net} too wide to match as text")
        alts = "|".join(f"{v:x}" for v in range(base, base + span))
        pattern = f"^{head}(?:{alts}):"
    else:
        pattern = f"^{head}"
    return lambda e: e.str.to_lowercase().str.contains(pattern)


class Compiler:
    """Compiles the condition trees of one source's rules; knows which fields are lists."""

    def __init__(self, is_list: Callable[[str], bool], keyword_field: str | None) -> None:
        self.is_list = is_list
        self.keyword_field = keyword_field

    def compile(self, tree: Any, use: FieldUse) -> pl.Expr:
        return self._node(tree, use)

    # -- tree --------------------------------------------------------------------------
    def _node(self, node: Any, use: FieldUse) -> pl.Expr:
        if isinstance(node, C.ConditionOR):
            return self._or(node.args, use)
        if isinstance(node, C.ConditionAND):
            exprs = [self._node(a, use) for a in node.args]
            return pl.all_horizontal(exprs) if len(exprs) > 1 else exprs[0]
        if isinstance(node, C.ConditionNOT):
            return ~self._node(node.args[0], use)
        if isinstance(node, C.ConditionFieldEqualsValueExpression):
            return self._field(node.field, node.value, use)
        if isinstance(node, C.ConditionValueExpression):
            return self._keyword(node.value, use)
        raise Unsupported(f"condition element {type(node).__name__}")

    def _or(self, args: list[Any], use: FieldUse) -> pl.Expr:
        # plain equalities on one field collapse into one is_in
        # and the other string tests of one list-valued field run in one pass over its elements
        plain: dict[str, list[str]] = {}
        per_element: dict[tuple[str, bool], list[Callable[[pl.Expr], pl.Expr]]] = {}
        rest: list[pl.Expr] = []
        for a in args:
            if (
                isinstance(a, C.ConditionFieldEqualsValueExpression)
                and a.field
                and isinstance(a.value, T.SigmaString)
                and not isinstance(a.value, T.SigmaCasedString)
                and _plain(a.value) is not None
            ):
                plain.setdefault(a.field, []).append((_plain(a.value) or "").lower())
            elif (
                isinstance(a, C.ConditionFieldEqualsValueExpression)
                and a.field
                and isinstance(a.value, T.SigmaString)
                and self.is_list(a.field)
            ):
                fn, lower = self._string_test(a.value)
                per_element.setdefault((a.field, lower), []).append(fn)
            else:
                rest.append(self._node(a, use))
        for name, values in plain.items():
            rest.append(self._is_in(name, values, use))
        for (name, lower), fns in per_element.items():
            rest.append(self._apply(name, _any_of(fns), use, lower))
        return pl.any_horizontal(rest) if len(rest) > 1 else rest[0]

    # -- leaves -----------------------------------------------------------------------
    def _apply(self, name: str, fn: Callable[[pl.Expr], pl.Expr], use: FieldUse, lower: bool) -> pl.Expr:
        use.fields.add(name)
        col = name
        if lower:
            use.lower.add(name)
            col = lower_name(name)
        expr = pl.col(col).list.eval(fn(pl.element())).list.any() if self.is_list(name) else fn(pl.col(col))
        return expr.fill_null(False)

    def _is_in(self, name: str, values: list[str], use: FieldUse) -> pl.Expr:
        needs_lower = any(v != v.upper() for v in values)  # digits-only values compare as they are
        if len(values) == 1:
            v = values[0]
            return self._apply(name, lambda e: e == v, use, needs_lower)
        return self._apply(name, lambda e: e.is_in(values), use, needs_lower)

    def _string(self, name: str, value: T.SigmaString, use: FieldUse) -> pl.Expr:
        fn, lower = self._string_test(value)
        return self._apply(name, fn, use, lower)

    def _string_test(self, value: T.SigmaString) -> tuple[Callable[[pl.Expr], pl.Expr], bool]:
        """The test of one value (or list element) against a Sigma string, and whether it reads
        the lower-cased column."""
        cased = isinstance(value, T.SigmaCasedString)
        plain = _plain(value)
        if plain is not None:
            v = plain if cased else plain.lower()
            return (lambda e: e == v), not cased
        shape = _wildcard_shape(value)
        if shape is not None:
            kind, text = shape
            t = text if cased else text.lower()
            if kind == "contains":
                return (lambda e: e.str.contains(t, literal=True)), not cased
            if kind == "startswith":
                return (lambda e: e.str.starts_with(t)), not cased
            return (lambda e: e.str.ends_with(t)), not cased
        pattern = _to_regex(value)
        if not cased:
            pattern = "(?i)" + pattern
        check_regex(pattern)
        return (lambda e: e.str.contains(pattern)), False

    def _field(self, name: str | None, value: Any, use: FieldUse) -> pl.Expr:
        if name is None:
            return self._keyword(value, use)
        if isinstance(value, T.SigmaExpansion):
            exprs = [self._field(name, v, use) for v in value.values]
            return pl.any_horizontal(exprs) if len(exprs) > 1 else exprs[0]
        if isinstance(value, T.SigmaString):
            return self._string(name, value, use)
        if isinstance(value, T.SigmaRegularExpression):
            flags = ""
            for flag in value.flags:
                flags += {"IGNORECASE": "i", "MULTILINE": "m", "DOTALL": "s"}.get(flag.name, "")
            pattern = (f"(?{flags})" if flags else "") + str(value.regexp)
            check_regex(pattern)
            return self._apply(name, lambda e: e.str.contains(pattern), use, False)
        if isinstance(value, T.SigmaBool):
            v = "true" if value.boolean else "false"
            return self._apply(name, lambda e: e == v, use, True)
        if isinstance(value, T.SigmaNumber):
            v = str(value.number)
            return self._apply(name, lambda e: e == v, use, False)
        if isinstance(value, T.SigmaNull):
            use.fields.add(name)
            col = pl.col(name)
            if self.is_list(name):
                return col.is_null() | (col.list.len() == 0)
            return col.is_null() | (col == "")
        if isinstance(value, T.SigmaExists):
            use.fields.add(name)
            present = pl.col(name).is_not_null()
            return present if value.exists else ~present
        if isinstance(value, T.SigmaCompareExpression):
            number = float(value.number.number)
            op = value.op
            ops: dict[Any, Callable[[pl.Expr], pl.Expr]] = {
                T.SigmaCompareExpression.CompareOperators.LT: lambda e: e < number,
                T.SigmaCompareExpression.CompareOperators.LTE: lambda e: e <= number,
                T.SigmaCompareExpression.CompareOperators.GT: lambda e: e > number,
                T.SigmaCompareExpression.CompareOperators.GTE: lambda e: e >= number,
            }
            cmp = ops[op]
            return self._apply(name, lambda e: cmp(e.cast(pl.Float64, strict=False)), use, False)
        if isinstance(value, T.SigmaCIDRExpression):
            return self._cidr(name, value, use)
        if isinstance(value, T.SigmaFieldReference):
            if value.starts_with or value.ends_with:
                raise Unsupported("fieldref with startswith/endswith")
            if self.is_list(name) or self.is_list(value.field):
                raise Unsupported("fieldref on a list-valued field")
            use.fields.update((name, value.field))
            return (pl.col(name) == pl.col(value.field)).fill_null(False)
        raise Unsupported(f"value type {type(value).__name__} (modifier not supported)")

    def _cidr(self, name: str, value: T.SigmaCIDRExpression, use: FieldUse) -> pl.Expr:
        return self._apply(name, cidr_test(value.network), use, value.network.version == 6)

    def _keyword(self, value: Any, use: FieldUse) -> pl.Expr:
        if self.keyword_field is None:
            raise Unsupported("keyword (field-less) search: this source has no text to search")
        use.keywords = True
        name = self.keyword_field
        if isinstance(value, T.SigmaExpansion):
            exprs = [self._keyword(v, use) for v in value.values]
            return pl.any_horizontal(exprs)
        if isinstance(value, T.SigmaString):
            parts = list(value.s)
            if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
                parts.insert(0, SpecialChars.WILDCARD_MULTI)
            if parts[-1] is not SpecialChars.WILDCARD_MULTI:
                parts.append(SpecialChars.WILDCARD_MULTI)
            wrapped = T.SigmaString("")
            wrapped.s = parts
            if isinstance(value, T.SigmaCasedString):
                wrapped = T.SigmaCasedString.from_sigma_string(wrapped)
            return self._string(name, wrapped, use)
        if isinstance(value, T.SigmaRegularExpression):
            return self._field(name, value, use)
        if isinstance(value, T.SigmaNumber):
            return self._string(name, T.SigmaString(f"*{value.number}*"), use)
        raise Unsupported(f"keyword of type {type(value).__name__}")
