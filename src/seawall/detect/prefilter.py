"""Exact byte-level prefilter: which lines can a rule possibly match, without decoding them.

For every rule we derive, from its condition tree, a set of lower-case literals such that any
event the rule matches has at least one of them in its (lower-cased) JSON line:

* `field: value` (plain, wildcard or `|contains`-like, case-insensitive) needs a fragment of
  the value; `field: true/false` needs that word;
* any predicate that is false on a missing field (everything but `not`, `|exists: false` and
  `field: null`) needs the field's key in the line (`name"`, the end of `"name"`);
* `a and b` needs what either needs (the rarer one is taken); `a or b` needs what both need
  (the union); `not a` needs nothing we can tell.

This holds byte for byte only where the decoded text equals the raw bytes, so a line is
always kept (never filtered) when it has any non-ASCII byte (Unicode lower-casing, repaired
UTF-8) or an escape that decodes to a character a literal may hold
(`\\u0070ods`, `\\/`); other escapes (`\\"`, `\\\\`, `\\n` ...) decode to characters no literal
holds, so the text around them is the same in the line and in the value. Literals never contain JSON
structure (quotes, backslashes, brackets, braces, commas, a leading colon, edge whitespace) or
consist of number characters only, so that they cannot match across tokens of an object that
a rule reads as JSON text, nor inside a number that the decoder re-formats. Common and derived
columns (computed, not raw text) never give literals.

Which of the valid literals to use is only a question of speed: the rarer the better, so
frequencies are estimated on a sample of the input. The result never depends on the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import polars as pl
from sigma import conditions as C
from sigma import types as T

from seawall.telemetry.base import text_series

_STRUCTURAL = frozenset('"\\{}[],')
_NUMERIC = frozenset("0123456789.+-eE")

NEEDLE_COST = 0.002
SAMPLE_BYTES = 64 << 10
PATTERN_NEEDLES = 24  # needles per regular expression (the SIMD literal search stays in use)

Literals = frozenset[str]
KeysOf = Callable[[str], tuple[str, ...] | None]  # raw field -> its JSON key names, or None
PairKey = Callable[[str], str | None]  # raw field -> the key holding its string value, or None


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def usable(lit: str) -> bool:
    """A value fragment that can stand for the value in the raw line (see module doc)."""
    if not lit or lit[0] == ":" or lit[0].isspace() or lit[-1].isspace():
        return False
    if any(not 32 <= ord(c) < 127 or c in _STRUCTURAL for c in lit):
        return False
    return not all(c in _NUMERIC for c in lit)


def _key_literal(name: str) -> str | None:
    # `name"`: the end of the key (a leading quote would slow the literal search down)
    if not name or any(not 32 <= ord(c) < 127 or c in '"\\' for c in name):
        return None
    return name.lower() + '"'


def _fragments(value: T.SigmaString) -> list[str]:
    out, cur = [], ""
    for part in value.s:
        if isinstance(part, str):
            cur += part
        else:
            out.append(cur)
            cur = ""
    out.append(cur)
    return [f.lower() for f in out if usable(f.lower())]


class Estimator:
    """Fraction of sample lines (lower-cased) holding a literal; literal sets cost their sum."""

    def __init__(self, sample: list[bytes]) -> None:
        # (estimates only: long lines are cut, so a sample stays small whatever the input)
        text, _ = text_series("sample", [line[:SAMPLE_BYTES] for line in sample])
        self.sample = text.str.to_lowercase()
        self.size = len(sample)
        self.cache: dict[str, float] = {}

    def freq(self, lit: str) -> float:
        f = self.cache.get(lit)
        if f is None:
            hits = int(self.sample.str.contains(lit, literal=True).sum()) if self.size else 0
            f = self.cache[lit] = hits / self.size if self.size else 0.0
        return f

    def share(self, lits: Iterable[str]) -> float:
        """Estimated share of lines holding one of the literals (at most)."""
        return min(1.0, sum(self.freq(x) for x in lits))

    def cost(self, lits: Iterable[str]) -> float:
        """What a literal set costs the prefilter: the lines it keeps, and a little per needle
        (the matcher is fastest with few needles)."""
        lits = list(lits)
        return self.share(lits) + NEEDLE_COST * len(lits)


class LiteralFinder:
    def __init__(
        self, keys_of: KeysOf, keyword_field: str | None, est: Estimator, pair_key: PairKey | None = None
    ) -> None:
        self.keys_of = keys_of
        self.keyword_field = keyword_field
        self.est = est
        self.pair_key = pair_key or (lambda name: None)

    def rule(self, conditions: list[Any]) -> Literals | None:
        """Literals one of which every event matched by any of the conditions contains."""
        out: set[str] = set()
        for tree in conditions:
            lits = self.node(tree)
            if lits is None:
                return None
            out |= lits
        return frozenset(out)

    def node(self, node: Any) -> Literals | None:
        if isinstance(node, C.ConditionOR):
            out: set[str] = set()
            for a in node.args:
                lits = self.node(a)
                if lits is None:
                    return None
                out |= lits
            return frozenset(out)
        if isinstance(node, C.ConditionAND):
            options = [x for x in (self.node(a) for a in node.args) if x is not None]
            return min(options, key=self.est.cost) if options else None
        if isinstance(node, C.ConditionFieldEqualsValueExpression):
            if node.field is None:
                return self._keyword(node.value)
            return self._leaf(node.field, node.value)
        if isinstance(node, C.ConditionValueExpression):
            return self._keyword(node.value)
        return None  # NOT, and anything unknown

    def _values(self, value: Any) -> Literals | None:
        """Value literals: one per alternative of the value, or None."""
        values = value.values if isinstance(value, T.SigmaExpansion) else [value]
        out = set()
        for v in values:
            if isinstance(v, T.SigmaBool):
                out.add("true" if v.boolean else "false")
            elif isinstance(v, T.SigmaString):
                frags = _fragments(v)
                if not frags:
                    return None
                out.add(min(frags, key=self.est.freq))
            else:
                return None
        return frozenset(out)

    def _keyword(self, value: Any) -> Literals | None:
        # only the raw line itself (`_raw`) is the same text the prefilter looks at
        if self.keyword_field != "_raw":
            return None
        return self._values(value)

    def _leaf(self, field: str, value: Any) -> Literals | None:
        keys = self.keys_of(field)
        if keys is None:
            return None  # a computed column: nothing to say about the raw text
        if isinstance(value, T.SigmaNull) or (isinstance(value, T.SigmaExists) and not value.exists):
            return None  # true when the field is missing
        options: list[Literals] = []
        if isinstance(value, T.SigmaFieldReference):
            other = self.keys_of(value.field)
            if other:
                options += [frozenset([k]) for k in map(_key_literal, other) if k]
        else:
            vals = self._values(value)
            if vals is not None:
                options.append(vals)
        # every other predicate is false when the field is missing: its keys are in the line
        options += [frozenset([k]) for k in map(_key_literal, keys) if k]
        pairs = self._pairs(field, value)
        if pairs is not None:
            options.append(pairs)
        return min(options, key=self.est.cost) if options else None

    def _pairs(self, field: str, value: Any) -> Literals | None:
        """`key":"value` literals (the key and the start of its string value, adjacent as in
        compact JSON: lines with white space around a colon are always kept, see candidate_rows)
        for an equality or startswith test of a plain string field -- much rarer than the value
        alone when the value is a common word (`create`, `secrets`)."""
        key = self.pair_key(field)
        if key is None or any(not 32 <= ord(c) < 127 or c in '"\\' for c in key):
            return None
        values = value.values if isinstance(value, T.SigmaExpansion) else [value]
        out = set()
        for v in values:
            if not isinstance(v, T.SigmaString) or not v.s:
                return None
            head: list[str] = []
            for part in v.s:  # the literal start of the value, up to its first wildcard
                if not isinstance(part, str):
                    break
                head.append(part)
            text = "".join(head).lower()
            exact = len(head) == len(v.s)
            if not text or (not exact and v.s[len(head)] is not T.SpecialChars.WILDCARD_MULTI):
                return None
            if not usable(text) or text in ("true", "false", "null") or _looks_numeric(text):
                return None  # (the JSON value may be a literal, unquoted)
            out.add(f'{key.lower()}":"{text}')
        return frozenset(out)


# escapes that decode to characters a literal may hold (any, or '/'). Raw control characters
# need no check: both JSON decoders reject them, so such a line never reaches the prefilter.
_UNSAFE = ("\\u", "\\/")
_SPACED = r'"\s+:|":\s'  # JSON that is not compact around a key's colon
_META = frozenset("\\.+*?()|[]{}^$#&-~")


def needle_patterns(needles: Iterable[str]) -> tuple[list[str], list[str]]:
    """(alternations of the longer needles, a few each, for Rust's SIMD literal search;
    short needles, searched one by one). The text searched is lower-cased first."""
    escaped = ["".join("\\" + c if c in _META else c for c in n) for n in sorted(needles) if len(n) > 2]
    short = sorted(n for n in needles if len(n) <= 2)
    groups = ["|".join(escaped[i : i + PATTERN_NEEDLES]) for i in range(0, len(escaped), PATTERN_NEEDLES)]
    return groups, short


def candidate_rows(lines: list[bytes], rows: pl.Series, patterns: tuple[list[str], list[str]]) -> pl.Series:
    """The rows whose lower-cased line may hold a needle (see needle_patterns), or has any
    non-ASCII byte or an escape that may hide one (kept unconditionally)."""
    if rows.len() == len(lines):
        text, _ = text_series("l", lines)
    else:
        text, _ = text_series("l", [lines[i] for i in rows.to_list()])
    keep = text.str.len_bytes() != text.str.len_chars()
    for unsafe in _UNSAFE:
        keep = keep | text.str.contains(unsafe, literal=True)
    keep = keep | text.str.contains(_SPACED)  # `"key": "value"`: no `key":"value` literal to find
    low = text.str.to_lowercase()  # ASCII lines (the only ones tested) lower-case byte for byte
    groups, short = patterns
    for pattern in groups:
        keep = keep | low.str.contains(pattern)
    for needle in short:
        keep = keep | low.str.contains(needle, literal=True)
    return rows.filter(keep)
