"""boto3 for `respond`: one session, clients with timeouts and retries, and every API error as one
line that names the action (AccessDenied says which permission to grant)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from seawall.core.errors import AuthError, InputError, NetworkError, SeawallError

DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "AuthorizationError",
    "Client.UnauthorizedOperation",
}
BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "AuthFailure",
}
NOT_FOUND = {
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "InvalidParameterException",
    "TargetGroupNotFound",
    "InvalidNetworkAclID.NotFound",
    "InvalidNetworkAclEntry.NotFound",
    "InvalidGroup.NotFound",
    "InvalidInstanceID.NotFound",
    "ResourceNotFoundException",
    "InvalidTarget",
}


class AwsCallError(SeawallError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class Aws:
    def __init__(self, profile: str | None, region: str | None, endpoint_url: str | None) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        self.exc = botocore.exceptions
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound:
            raise InputError(f"AWS profile {profile!r} not found in the AWS config files") from None
        if self.session.get_credentials() is None:
            raise AuthError(
                "no AWS credentials found (set AWS_PROFILE/--profile, AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or run with a role)"
            )
        self.region = self.session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        self.config = botocore.config.Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra="seawall-respond",
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=self.config
            )
        return self._clients[service]

    def call(self, service: str, operation: str, **kwargs: Any) -> Any:
        client = self.client(service)
        action = f"{client.meta.service_model.signing_name or service}:{operation}"
        method = getattr(client, _snake(operation))
        try:
            return method(**kwargs)
        except self.exc.ClientError as err:
            raise self._error(err, action) from None
        except self.exc.NoCredentialsError:
            raise AuthError("no AWS credentials found") from None
        except (
            self.exc.EndpointConnectionError,
            self.exc.ConnectTimeoutError,
            self.exc.ReadTimeoutError,
            self.exc.ConnectionClosedError,
        ) as err:
            raise NetworkError(f"cannot reach AWS for {action} in {self.region}: {err}") from None
        except self.exc.ParamValidationError as err:
            raise InputError(f"{action}: {str(err)[:200]}") from None

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
        client = self.client(service)
        action = f"{client.meta.service_model.signing_name or service}:{operation}"
        try:
            for page in client.get_paginator(_snake(operation)).paginate(**kwargs):
                yield from page.get(key, [])
        except self.exc.ClientError as err:
            raise self._error(err, action) from None
        except (
            self.exc.EndpointConnectionError,
            self.exc.ConnectTimeoutError,
            self.exc.ReadTimeoutError,
        ) as err:
            raise NetworkError(f"cannot reach AWS for {action} in {self.region}: {err}") from None

    def _error(self, err: Any, action: str) -> SeawallError:
        code = str(err.response.get("Error", {}).get("Code", ""))
        message = str(err.response.get("Error", {}).get("Message", "")).replace("\n", " ")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        xml_code = re.search(r"<Code>([^<]+)</Code>", message)
        if xml_code:
            code = xml_code.group(1)
            xml_message = re.search(r"<Message>([^<]+)</Message>", message)
            message = xml_message.group(1) if xml_message else ""
        if "<html" in message.lower():
            message = "the endpoint answered with an HTML error page"
        message = message[:200]
        if code in DENIED or (status == 403 and code not in BAD_CREDENTIALS):
            return AuthError(
                f"access denied: {action} in {self.region} ({message or code}); grant {action} "
                "to the responder's role"
            )
        if code in BAD_CREDENTIALS:
            return AuthError(f"AWS rejected the credentials on {action} ({code}): {message}")
        if code in NOT_FOUND:
            return AwsCallError(f"{action}: {code}: {message}", code)
        return AwsCallError(f"{action} in {self.region} failed: {code or status}: {message}", code)

    def account(self) -> str | None:
        try:
            return str(self.call("sts", "GetCallerIdentity").get("Account"))
        except SeawallError:
            return None


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
