"""The `seawall` console script."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Annotated, Any, cast

import typer
import typer.core

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
    "registry": "seawall.cli.registry",
    "agent": "seawall.cli.agent",
    "export": "seawall.cli.export",
}

app = typer.Typer(
    name="seawall",
    help="Container security: scan images, audit configuration, detect attacks in logs and flows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every verb
)

# Exit codes (docs/scan.md): 0 ok, 1 findings at or above --fail-on, 2 usage or input error,
# 130 interrupted (Ctrl-C), 141 output pipe closed early (`seawall ... | head`), 143 terminated.
INTERRUPTED = 130  # the shell's code for SIGINT
PIPE_CLOSED = 141  # the shell's code for SIGPIPE
TERMINATED = 143  # the shell's code for SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that every `with` block (temp dirs,
    registry downloads, worker pools) and every handler of Ctrl-C cleans up on the way out."""


_terminated = False  # Typer turns a KeyboardInterrupt into exit code 130: this tells SIGTERM apart


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminated
    _terminated = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def _flag_type(self: Any, ctx: Any) -> str | None:
    """On/off flags take no value: their help rows show no `<bool>` type (Typer shows one)."""
    if getattr(self, "is_flag", False):
        return None
    return _typer_type(self, ctx)


_typer_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

_registered: set[str] = set()


def register_verbs(argv: Sequence[str]) -> None:
    """Register the verb named first on the command line, or every verb when there is none."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    wanted = [first] if first in VERBS else list(VERBS)
    for name in wanted:
        if name not in _registered:
            importlib.import_module(VERBS[name]).register(app)
            _registered.add(name)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"seawall {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", "-V", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Container security: scan images, audit configuration, detect attacks in logs and flows."""


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(f"seawall {__version__}")


def _stopped(exc: BaseException) -> int:
    """Ctrl-C or SIGTERM (click wraps them in Abort): one line, the shell's exit code."""
    terminated = _terminated or isinstance(exc, Terminated)
    print("seawall: terminated" if terminated else "seawall: interrupted", file=sys.stderr)
    return TERMINATED if terminated else INTERRUPTED


def _pipe_closed() -> int:
    """The reader of stdout went away (`| head`): stop quietly; nothing more can be written, and
    Python's own flush at exit must not fail again, so stdout now points at /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return PIPE_CLOSED


def _usage_error(exc: Exception) -> int:
    """A click usage error: its message as one line (help was already shown for a bare verb)."""
    message = str(cast(Any, exc).format_message()).strip()
    if type(exc).__name__ == "NoArgsIsHelpError":
        if message:
            print(message, file=sys.stderr)  # the help text itself, when Typer did not print it
        return 2
    print(f"seawall: error: {printable(message) or type(exc).__name__}", file=sys.stderr)
    return int(getattr(exc, "exit_code", 2)) or 2


def _run() -> int:
    try:
        register_verbs(sys.argv[1:])
        code = app(standalone_mode=False)
        if code == INTERRUPTED:  # typer turns Ctrl-C (and SIGTERM, see Terminated) into this code
            return _stopped(KeyboardInterrupt())
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        # Typer (like click) answers a closed output pipe with exit 1, after wrapping stdout
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return _pipe_closed()
        raise
    except SeawallError as exc:
        print(f"seawall: error: {printable(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:
        return _stopped(exc)
    except BrokenPipeError:
        return _pipe_closed()
    except Exception as exc:
        if os.environ.get("SEAWALL_DEBUG"):
            raise
        # typer vendors its own click: recognise its exceptions by shape, not by class
        if type(exc).__name__ == "Abort":  # click turns Ctrl-C into Abort
            return _stopped(exc)
        if callable(getattr(exc, "format_message", None)):
            return _usage_error(exc)
        print(printable(f"seawall: error: internal error: {type(exc).__name__}: {exc}"[:500]),
              file=sys.stderr)
        return 2


def main() -> None:
    """Entry point: user errors are one line on stderr and exit 2, never a traceback."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    code = _run()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _pipe_closed()
    sys.exit(code)


if __name__ == "__main__":
    main()
