"""`seawall registry watch|rescan|import`: stored SBOMs by digest, re-matched without pulling layers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.common import check_output, finish, parse_severity, warn
from seawall.cli.imageopts import CACertOpt, InsecureOpt, PasswordOpt, QuietOpt, UsernameOpt, source_options
from seawall.core import Report, ReportKind
from seawall.core.text import printable
from seawall.report import check_format, format_help

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="SEAWALL_SBOM_STORE",
        help="SBOM store: a database URL (the service's) or a SQLite file "
        "(default: $SEAWALL_DATABASE_URL, else runtime.sqlite in the user cache dir).",
        show_default=False,
    ),
]
DBOpt = Annotated[
    Path | None, typer.Option("--db", envvar="SEAWALL_DB", help="Advisory database file.", show_default=False)
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help=format_help(ReportKind.FINDINGS))]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report to this file.", show_default=False)
]
FailOnOpt = Annotated[
    str | None, typer.Option("--fail-on", help="Exit 1 at or above this severity.", show_default=False)
]
AllOpt = Annotated[
    bool,
    typer.Option(
        "--all", help="Report every matched advisory, not only those new since each image's last match."
    ),
]


def _note(message: str) -> None:
    print(f"seawall: {printable(message)}", file=sys.stderr, flush=True)


def _finish(report: Report, fmt: str, output: Path | None, fail_on: str | None, quiet: bool) -> None:
    if not quiet:
        for message in report.all_warnings():
            warn(message)
    finish(report, fmt, output, fail_on)


def register(app: typer.Typer) -> None:
    reg_app = typer.Typer(
        name="registry",
        no_args_is_help=True,
        add_completion=False,
        help="Watch registries: store every image's SBOM by digest, re-match them when the "
        "advisory database changes.",
    )
    app.add_typer(reg_app, name="registry")

    @reg_app.command("watch")
    def watch_cmd(
        registry: Annotated[
            str,
            typer.Argument(
                help="HOST[:PORT] of an OCI registry, an ECR host, or ecr:REGION.", show_default=False
            ),
        ],
        repository: Annotated[
            list[str] | None,
            typer.Option(
                "--repository", help="Only repositories matching this glob; repeat.", show_default=False
            ),
        ] = None,
        interval: Annotated[
            float, typer.Option("--interval", min=0.0, help="Seconds between rounds (0: one round).")
        ] = 0.0,
        rounds: Annotated[
            int, typer.Option("--rounds", min=0, help="Rounds to run with --interval (0: until stopped).")
        ] = 0,
        store: StoreOpt = None,
        db: DBOpt = None,
        all_findings: AllOpt = False,
        region: Annotated[
            str | None, typer.Option("--region", help="AWS region (ECR).", show_default=False)
        ] = None,
        endpoint_url: Annotated[
            str | None, typer.Option("--endpoint-url", help="AWS endpoint (ECR API).", show_default=False)
        ] = None,
        username: UsernameOpt = None,
        password: PasswordOpt = None,
        insecure_registry: InsecureOpt = False,
        ca_cert: CACertOpt = None,
        fmt: FormatOpt = "table",
        output: OutputOpt = None,
        fail_on: FailOnOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Enumerate repositories and tags, store new images' SBOMs, rescan stored SBOMs on DB changes."""
        from seawall.runtime.registry import WatchOptions, watch

        fmt = check_format(fmt, ReportKind.FINDINGS, "registry watch")
        check_output(output)
        parse_severity(fail_on)
        options = WatchOptions(
            registry=registry,
            store=store,
            db_path=db,
            repositories=list(repository or []),
            interval=interval,
            rounds=rounds if interval else 1,
            all_findings=all_findings,
            region=region,
            endpoint_url=endpoint_url,
            source=source_options(
                username=username, password=password, insecure=insecure_registry, ca_cert=ca_cert
            ),
        )
        report = watch(options, progress=None if quiet else _note)
        _finish(report, fmt, output, fail_on, quiet)

    @reg_app.command("rescan")
    def rescan_cmd(
        store: StoreOpt = None,
        db: DBOpt = None,
        all_findings: AllOpt = False,
        fmt: FormatOpt = "table",
        output: OutputOpt = None,
        fail_on: FailOnOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Re-match every stored SBOM against the advisory database now (no image is pulled)."""
        from seawall.runtime.registry import rescan_store

        fmt = check_format(fmt, ReportKind.FINDINGS, "registry rescan")
        check_output(output)
        report = rescan_store(store, db, all_findings)
        if not quiet:
            for line in report.target.metadata.get("summary", [])[:50]:
                _note(line)
        _finish(report, fmt, output, fail_on, quiet)

    @reg_app.command("import")
    def import_cmd(
        files: Annotated[
            list[Path], typer.Argument(help="CycloneDX JSON files made by other tools.", show_default=False)
        ],
        store: StoreOpt = None,
    ) -> None:
        """Store SBOMs made by other tools (CycloneDX JSON) by their image digest."""
        from seawall.runtime.registry import import_cyclonedx

        for digest in import_cyclonedx(list(files), store):
            typer.echo(f"stored {digest}")
