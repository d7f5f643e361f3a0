"""The image's labels (OCI config `Labels`) as the report carries them in `target.metadata["labels"]`.

Labels are the image author's text: bounded (at most `MAX_LABELS`, keys and values cut at
`MAX_BYTES` UTF-8 bytes with a mark saying how long they were) and with every secret any rule finds
redacted, in values and keys, as the image history is (a label holding an AWS key is never carried
in full). Whoever prints them strips control characters (`seawall.core.text.printable`, the
console's `clean`).
"""

from __future__ import annotations

from collections.abc import Mapping

from seawall.secrets import SecretScanner, redact, redact_text

MAX_LABELS = 100
MAX_BYTES = 1024


def cut(text: str, limit: int = MAX_BYTES) -> str:
    """`text` within `limit` UTF-8 bytes, followed by a mark with its full length when cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore") + f"…[cut: {len(data)} bytes]"


def redacted_value(key: str, value: str, scanner: SecretScanner) -> str:
    """`value` with what any rule finds in it redacted, and the whole value when the label's name
    says secret (`db.password=...`, as for an ENV variable)."""
    out = redact_text(value, scanner)
    for m in scanner.scan_env([f"{key}={value}"]):
        for secret in (m.secret, m.partner):
            if secret and secret in out:
                out = out.replace(secret, redact(secret))
    return out


def image_labels(labels: Mapping[str, str], scanner: SecretScanner) -> tuple[dict[str, str], list[str]]:
    """(labels as the report carries them, warnings). Kept in the config's order."""
    out: dict[str, str] = {}
    warnings: list[str] = []
    for n, (key, value) in enumerate(labels.items()):
        if n >= MAX_LABELS:
            warnings.append(f"image config: {len(labels)} labels, the first {MAX_LABELS} kept")
            break
        out[cut(redact_text(str(key), scanner))] = cut(redacted_value(str(key), str(value), scanner))
    return out, warnings
