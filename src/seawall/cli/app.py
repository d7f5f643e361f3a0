"""The `seawall` console script."""

from __future__ import annotations

import os
import sys

import typer

from seawall import __version__
from seawall.cli import audit, db, detect, netmap, sbom, scan
from seawall.core.errors import SeawallError

app = typer.Typer(
    name="seawall",
    help="Container security: scan images, audit configuration, detect attacks in logs and flows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for verb in (scan, sbom, db, audit, detect, netmap):
    verb.register(app)


@app.callback()
def root() -> None:
    """Container security: scan images, audit configuration, detect attacks in logs and flows."""


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(f"seawall {__version__}")


def main() -> None:
    """Entry point: user errors are one line on stderr and exit 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except SeawallError as exc:
        print(f"seawall: error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("seawall: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("SEAWALL_DEBUG"):
            raise
        # typer vendors its own click: recognise its exceptions by shape, not by class
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        format_message = getattr(exc, "format_message", None)
        if callable(format_message):
            print(f"seawall: error: {format_message()}", file=sys.stderr)
            sys.exit(int(getattr(exc, "exit_code", 2)) or 2)
        print(f"seawall: error: internal error: {type(exc).__name__}: {exc}"[:500],
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
