"""Credentials in configuration values (env vars of pods and task definitions, Dockerfile ENV/ARG,
ConfigMap data), found by the one secret detector (`seawall.secrets`) with its configuration rules
(its rules.yaml, the `config_only` rules included). Evidence is always redacted: no finding prints
a full secret."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from seawall.secrets import SecretMatch, SecretScanner, config_rules


@cache
def _key_rules() -> tuple[re.Pattern[str], ...]:
    """The name patterns of the rules that judge a value by its name (checked before the scanner)."""
    return tuple(r.key_regex for r in scanner().rules.rules if r.key_regex is not None and "env" in r.scope)


@cache
def scanner() -> SecretScanner:
    """seawall.secrets' rules for configuration values (`config_rules`: the scan rules and the
    `config_only` ones after them)."""
    return SecretScanner(config_rules())


@lru_cache(maxsize=8192)
def secret_in(name: str, value: str) -> SecretMatch | None:
    """The credential that `name=value` holds, if any: a value in a known credential format whatever
    its name (a key id, a token, a password in a URL), else a real-looking value under a secret-like
    name (not a placeholder, not a file path or a URL). Remembered: the same variables recur in
    every manifest of an application (the match is only read, never changed)."""
    value = value.strip()
    if not value:
        return None
    found = scanner().scan_bytes(f"{name}={value}".encode("utf-8", "replace"), scope="env")
    if found:
        return found[0]
    if value.startswith(("/", "http://", "https://")) or not any(k.search(name) for k in _key_rules()):
        return None
    found = scanner().scan_env([f"{name}={value}"])
    return found[0] if found else None


def secret_in_text(name: str, text: str) -> SecretMatch | None:
    """A credential inside a multi-line value (a file held in a ConfigMap key: .properties, .env ...)."""
    found = scanner().scan_bytes(text.encode("utf-8", "replace"), path=f"/{name}", scope="file")
    return found[0] if found else None
