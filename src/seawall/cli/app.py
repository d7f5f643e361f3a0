"""The `seawall` console script."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import typer

from seawall import __version__
from seawall.core.errors import SeawallError
from seawall.core.text import printable

# verb -> module with `register(app)`; only the verb being run is imported (start-up time matters
# for every command), all of them for `--help` and for anything that is not a known verb
VERBS: dict[str, str] = {
    "scan": "seawall.cli.scan",
    "sbom": "seawall.cli.sbom",
    "db": "seawall.cli.db",
    "audit": "seawall.cli.audit",
    "detect": "seawall.cli.detect",
    "netmap": "seawall.cli.netmap",
    "respond": "seawall.cli.respond",
    "serve": "seawall.cli.serve",
    "tokens": "seawall.cli.tokens",
    "events": "seawall.cli.events",
}

app = typer.Typer(
    name="seawall",
    help="Container security: scan images, audit configuration, detect attacks in logs and flows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_registered: set[str] = set()


def register_verbs(argv: Sequence[str]) -> None:
    """Register the verb named first on the command line, or every verb when there is none."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    wanted = [first] if first in VERBS else list(VERBS)
    for name in wanted:
        if name not in _registered:
            importlib.import_module(VERBS[name]).register(app)
            _registered.add(name)


@app.callback()
def root() -> None:
    """Container security: scan images, audit configuration, detect attacks in logs and flows."""


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(f"seawall {__version__}")


INTERRUPTED = 130  # the shell's code for SIGINT


def main() -> None:
    """Entry point: user errors are one line on stderr and exit 2, never a traceback."""
    try:
        register_verbs(sys.argv[1:])
        code = app(standalone_mode=False)
        if code == INTERRUPTED:  # typer turns Ctrl-C into this exit code
            print("seawall: interrupted", file=sys.stderr)
        if isinstance(code, int) and code:
            sys.exit(code)
    except SeawallError as exc:
        print(f"seawall: error: {printable(exc.message)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("seawall: interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("SEAWALL_DEBUG"):
            raise
        # typer vendors its own click: recognise its exceptions by shape, not by class
        if type(exc).__name__ == "Abort":  # click turns Ctrl-C into Abort
            print("seawall: interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED)
        format_message = getattr(exc, "format_message", None)
        if callable(format_message):
            print(f"seawall: error: {printable(str(format_message()))}", file=sys.stderr)
            sys.exit(int(getattr(exc, "exit_code", 2)) or 2)
        print(printable(f"seawall: error: internal error: {type(exc).__name__}: {exc}"[:500]),
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
