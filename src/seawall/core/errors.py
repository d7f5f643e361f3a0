"""User-facing errors: each carries a one-line reason and maps to exit code 2."""


class SeawallError(Exception):
    """An error the user can act on; printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\n", " ").strip())

    @property
    def message(self) -> str:
        return str(self)


class InputError(SeawallError):
    """Input that cannot be read: malformed, truncated, missing, of an unknown type."""


class LimitExceeded(InputError):
    """Input over a configured safety limit (size, entry count, nesting, ...)."""


class AuthError(SeawallError):
    """Credentials missing, wrong or refused."""


class NetworkError(SeawallError):
    """A remote endpoint could not be reached or answered badly (incl. TLS failures)."""


class IntegrityError(InputError):
    """A digest or signature did not verify."""
