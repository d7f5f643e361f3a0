"""The fuzzing harness: Hypothesis, bounded in time, over the readers of hostile input.

Every target feeds generated input (structured, then mutated: truncated, bytes flipped,
compressed) to a reader through its public entry point and asserts what a user must be able to
rely on:

- no traceback: the reader returns, or raises a SeawallError (exit 2 on the command line);
- one-line errors: that error's message is one non-empty line;
- bounded memory: one call raises the process's peak memory (its high-water mark, ru_maxrss) by
  less than MAX_GROWTH, whatever the input claims (sizes, counts, compression ratios). Cheap
  enough to run on every example, unlike tracemalloc, and it catches what matters: an input of a
  few kB that makes a reader take hundreds of MB. The first call of each target is exempt: it
  pays once for imports, compiled rules and memory pools (about 110 MB for detect).

`make test` runs each target for a few derandomized examples (the same inputs each run);
`make fuzz` runs many random ones (SEAWALL_FUZZ_EXAMPLES, default there 500 per target) and keeps
the failing inputs in .cache/hypothesis to replay them.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from seawall.core.errors import SeawallError

MAX_GROWTH = 128 << 20  # bytes the peak memory may grow in one call on inputs of a few 100 kB
EXAMPLES = int(os.environ.get("SEAWALL_FUZZ_EXAMPLES", "0") or 0)
LONG = EXAMPLES > 0

settings.register_profile(
    "seawall-fuzz",
    max_examples=EXAMPLES if LONG else 12,
    derandomize=not LONG,  # `make test`: the same inputs each run; `make fuzz`: new ones
    deadline=timedelta(seconds=60),  # one input: a hang shows as a failure, not as a stuck run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
    database=DirectoryBasedExampleDatabase(".cache/hypothesis") if LONG else None,
    print_blob=True,
)
FUZZ = settings.get_profile("seawall-fuzz")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_warm: set[str] = set()


def check_reader(call: Callable[[], Any], target: str) -> Any:
    """Run one reader call: it returns, or raises a SeawallError with a one-line message; the peak
    memory grows by less than MAX_GROWTH. Anything else fails the example (Hypothesis then shrinks
    the input). The first call of each `target` is not held to the memory bound: it pays for
    imports, compiled rules and memory pools once."""
    bounded = target in _warm
    _warm.add(target)
    before = _peak()
    try:
        return call()
    except SeawallError as exc:
        message = str(exc)
        assert message.strip(), f"{type(exc).__name__} without a message"
        assert "\n" not in message and "\r" not in message, f"multi-line error: {message!r}"
        return None
    finally:
        grown = _peak() - before
        assert grown < MAX_GROWTH or not bounded, f"peak memory grew by {grown >> 20} MiB for one small input"


# -- mutations -------------------------------------------------------------------------------------

@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` as it is, cut short, with bytes overwritten, or with bytes inserted."""
    how = draw(st.sampled_from(["same", "truncate", "flip", "insert", "flip"]))
    if not data or how == "same":
        return data
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


NASTY_TEXT = st.sampled_from(["", ".", "..", "/", "//", ".wh.", ".wh..wh..opq", "\x00", "\x1b[2J", "\u202e",
                              "\udcff", "A" * 300, "é", "\n", "%s", "${x}", "~", "*", "-1", "1e309"])
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT)

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                         st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                          st.dictionaries(TEXT, inner, max_size=6)),
                    max_leaves=30)
