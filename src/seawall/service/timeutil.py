"""Times in the store: ISO 8601 UTC strings of one fixed width, so that they sort as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now_iso() -> str:
    return datetime.now(UTC).strftime(FORMAT)


def to_iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(FORMAT)


def parse_iso(text: str) -> datetime:
    """ISO 8601 with or without zone (UTC assumed), 'Z' accepted; ValueError if not a time."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def normalize(text: str | None) -> str | None:
    """Any ISO time -> the store's fixed-width form (None and unparseable -> None)."""
    if not text:
        return None
    try:
        return to_iso(parse_iso(text))
    except ValueError:
        return None


def shift(text: str, seconds: float) -> str:
    return to_iso(parse_iso(text) + timedelta(seconds=seconds))


def ago(seconds: float) -> str:
    return to_iso(datetime.now(UTC) - timedelta(seconds=seconds))
