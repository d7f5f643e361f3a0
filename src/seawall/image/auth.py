"""Registry credentials and the Distribution auth flows (Bearer token, Basic).

Credentials come from, in order: explicit options (--username/--password), the
SEAWALL_REGISTRY_USERNAME/PASSWORD environment, Amazon ECR (boto3 get_authorization_token for
ACCOUNT.dkr.ecr.REGION.amazonaws.com hosts), and Docker's config.json (`auths`, base64 `auth`,
honoring DOCKER_CONFIG). Secrets are never printed: repr() hides them and errors name the user only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core.errors import AuthError, InputError
from seawall.image.options import SourceOptions, env_credentials

ECR_HOST = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)"
                      r"\.amazonaws\.com(?:\.cn)?$")
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = "options"  # where they came from (for messages)

    def basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "bearer" | "basic"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge:
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


def ecr_region(host: str) -> tuple[str, str] | None:
    """(account, region) for an Amazon ECR registry host, else None."""
    m = ECR_HOST.match(host.split(":", 1)[0])
    return (m.group("account"), m.group("region")) if m else None


def decode_ecr_token(token: str) -> Credentials:
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("Amazon ECR returned a malformed authorization token") from None
    if not user or not password:
        raise AuthError("Amazon ECR returned a malformed authorization token")
    return Credentials(user, password, "ecr")


def ecr_credentials(host: str) -> Credentials | None:
    parsed = ecr_region(host)
    if parsed is None:
        return None
    account, region = parsed
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    try:
        client = boto3.client("ecr", region_name=region)
        resp = client.get_authorization_token(registryIds=[account])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise AuthError(f"Amazon ECR refused get_authorization_token for {host} ({code})") from None
    except BotoCoreError as exc:
        raise AuthError(f"cannot get an Amazon ECR token for {host}: {exc}") from None
    data = resp.get("authorizationData") or []
    if not data or "authorizationToken" not in data[0]:
        raise AuthError(f"Amazon ECR returned no authorization token for {host}")
    return decode_ecr_token(data[0]["authorizationToken"])


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _strip_key(key: str) -> str:
    key = key.strip()
    for prefix in ("https://", "http://"):
        key = key.removeprefix(prefix)
    return key.split("/", 1)[0]


def docker_config_credentials(host: str, path: Path | None = None) -> Credentials | None:
    path = path or docker_config_path()
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        doc: Any = json.loads(raw)
    except ValueError:
        raise InputError(f"{path}: not valid JSON (docker config)") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {host}
    if host in DOCKER_HUB_KEYS:
        wanted |= set(DOCKER_HUB_KEYS)
    for key, entry in auths.items():
        if not isinstance(entry, dict) or (_strip_key(str(key)) not in wanted and str(key) not in wanted):
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InputError(f"{path}: malformed base64 'auth' for {key}") from None
            if user:
                return Credentials(user, password, str(path))
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"], str(path))
        if isinstance(entry.get("identitytoken"), str):
            # an OAuth refresh token: sent as the password with the <token> user
            return Credentials("<token>", entry["identitytoken"], str(path))
    return None


def find_credentials(host: str, options: SourceOptions) -> Credentials | None:
    if options.username is not None or options.password is not None:
        if not options.username or options.password is None:
            raise InputError("--username and --password must be given together")
        return Credentials(options.username, options.password, "options")
    user, password = env_credentials()
    if user or password:
        if not user or password is None:
            raise InputError("SEAWALL_REGISTRY_USERNAME and SEAWALL_REGISTRY_PASSWORD must be set together")
        return Credentials(user, password, "environment")
    try:
        ecr = ecr_credentials(host)
    except AuthError:
        fallback = docker_config_credentials(host)  # e.g. `aws ecr get-login-password | docker login`
        if fallback is None:
            raise
        return fallback
    if ecr is not None:
        return ecr
    return docker_config_credentials(host)
