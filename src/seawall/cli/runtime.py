"""`seawall scan running`: running containers, their drift and the vulnerabilities of what runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.common import check_output, finish, parse_severity, parse_severity_list, warn
from seawall.cli.imageopts import CACertOpt, InsecureOpt, PasswordOpt, QuietOpt, UsernameOpt, source_options
from seawall.core import ReportKind
from seawall.report import check_format, format_help

SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="Where containers run, KIND[:ADDRESS] (repeat): docker[:unix:///var/run/docker.sock], "
        "podman[:unix://...], cri[:unix:///run/containerd/containerd.sock], kubernetes[:pods.json], "
        "kubernetes-api[:https://HOST:PORT], "
        "ecs[:CLUSTER], "
        "ecs-task[:URL]. Default: the Docker/Podman sockets found here.",
        show_default=False,
    ),
]
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
KeyOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--key",
        help="Trusted public key (PEM) for image signatures (cosign, Notation); repeat.",
        show_default=False,
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help=format_help(ReportKind.FINDINGS))]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report to this file.", show_default=False)
]


def register_scan_running(scan_app: typer.Typer) -> None:
    @scan_app.command("running")
    def scan_running_cmd(
        source: SourceOpt = None,
        container: Annotated[
            list[str] | None,
            typer.Option(
                "--container", help="Only this container (name or id prefix); repeat.", show_default=False
            ),
        ] = None,
        label: Annotated[
            list[str] | None,
            typer.Option(
                "--label",
                help="Only containers with this label, KEY or KEY=VALUE (repeat: all must match).",
                show_default=False,
            ),
        ] = None,
        store: StoreOpt = None,
        db: DBOpt = None,
        drift: Annotated[
            bool,
            typer.Option(
                "--drift/--no-drift",
                help="Compare live root filesystems with their images (needs root on the containers' host).",
            ),
        ] = True,
        hash_all: Annotated[
            bool,
            typer.Option(
                "--hash-all", help="Hash every live file, not only those touched after the container started."
            ),
        ] = False,
        vulns: Annotated[
            bool, typer.Option("--vulns/--no-vulns", help="Match what runs against the advisory database.")
        ] = True,
        key: KeyOpt = None,
        inventory: Annotated[
            bool,
            typer.Option(
                "--inventory",
                help="Only list what runs (id, name, image and digest, workload, start time, privileges).",
            ),
        ] = False,
        verify_signatures: Annotated[
            bool,
            typer.Option("--verify-signatures", help="Report unsigned images (also on when --key is given)."),
        ] = False,
        region: Annotated[
            str | None, typer.Option("--region", help="AWS region (ecs source).", show_default=False)
        ] = None,
        endpoint_url: Annotated[
            str | None, typer.Option("--endpoint-url", help="AWS endpoint (ecs source).", show_default=False)
        ] = None,
        username: UsernameOpt = None,
        password: PasswordOpt = None,
        insecure_registry: InsecureOpt = False,
        ca_cert: CACertOpt = None,
        fmt: FormatOpt = "table",
        output: OutputOpt = None,
        severity: Annotated[
            str | None, typer.Option("--severity", "-s", help="Only these severities.", show_default=False)
        ] = None,
        fail_on: Annotated[
            str | None,
            typer.Option("--fail-on", help="Exit 1 at or above this severity.", show_default=False),
        ] = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Scan running containers: each image once per digest, drift of the live root filesystem,
        vulnerabilities of what actually runs, image signatures."""
        from seawall import analyzers
        from seawall.core.errors import InputError
        from seawall.runtime.running import RuntimeOptions

        fmt = check_format(fmt, ReportKind.FINDINGS, "scan running")
        check_output(output)
        parse_severity(fail_on)
        for k in key or []:
            if not k.is_file():
                raise InputError(f"--key {k}: no such file")
        options = RuntimeOptions(
            store=store,
            db_path=db,
            drift=drift,
            hash_all=hash_all,
            vulns=vulns,
            names=list(container or []),
            labels=list(label or []),
            severities=parse_severity_list(severity),
            region=region,
            endpoint_url=endpoint_url,
            keys=list(key or []),
            verify_signatures=verify_signatures,
            inventory_only=inventory,
            source=source_options(
                username=username, password=password, insecure=insecure_registry, ca_cert=ca_cert
            ),
        )
        report = analyzers.get("runtime").run(list(source or []), options)
        if inventory and fmt == "table" and output is None:
            _print_inventory(report.target.metadata.get("containers", []))
            return
        if not quiet:
            for message in report.all_warnings():
                warn(message)
        finish(report, fmt, output, fail_on)


def _print_inventory(containers: list[dict[str, object]]) -> None:
    from seawall.core.text import printable

    rows = [("RUNTIME", "NAME", "IMAGE", "DIGEST", "WORKLOAD", "STARTED", "PRIVILEGES")]
    for c in containers:
        workload = c.get("workload") or {}
        assert isinstance(workload, dict)
        key = "/".join(str(workload[k]) for k in ("namespace", "controller", "name") if workload.get(k))
        privileges = c.get("privileges") or {}
        assert isinstance(privileges, dict)
        rows.append(
            (
                str(c.get("runtime", "")),
                str(c.get("name", "")),
                str(c.get("image", "")),
                str(c.get("image_digest") or c.get("image_id") or "")[:19],
                key,
                str(c.get("started_at") or ""),
                ",".join(k for k, v in privileges.items() if v) or "-",
            )
        )
    widths = [max(len(printable(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        typer.echo("  ".join(printable(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
