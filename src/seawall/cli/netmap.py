"""`seawall netmap`: the service map of flow data (VPC Flow Logs, Hubble, pcap) as JSON, DOT or HTML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.common import check_output, load_suppressions, suppress_findings, warn, write_atomically
from seawall.core.errors import InputError

FORMATS = ("json", "dot", "html")


def register(app: typer.Typer) -> None:
    @app.command("netmap")
    def netmap(
        files: Annotated[
            list[Path],
            typer.Argument(help="Flow files: VPC Flow Logs (plain/gzip), Hubble JSON, pcap/pcapng"),
        ],
        source: Annotated[str, typer.Option("--source", help="vpc-flow, hubble or pcap")],
        inventory: Annotated[
            list[Path] | None,
            typer.Option(
                "--inventory",
                help="kubectl get pods,services,nodes -o json / aws ecs describe-tasks / docker inspect",
            ),
        ] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="json, dot or html")] = "json",
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
        ] = None,
        save_baseline: Annotated[
            Path | None,
            typer.Option(
                "--save-baseline",
                help="Save the learned edges and egress as a baseline for `detect --baseline`",
            ),
        ] = None,
        with_findings: Annotated[
            bool,
            typer.Option(
                "--findings/--no-findings", help="Run the detectors and show their findings on the map"
            ),
        ] = True,
        baseline: Annotated[
            Path | None, typer.Option("--baseline", help="Baseline for the new-edge detector")
        ] = None,
        intel: Annotated[
            list[Path] | None, typer.Option("--intel", help="IP/CIDR list or STIX 2.1 bundle")
        ] = None,
        context: Annotated[
            list[Path] | None,
            typer.Option("--context", help="Organisation context / infrastructure (YAML, JSON, or AWS "
                         "ip-ranges.json; repeatable)"),
        ] = None,
        learning_period: Annotated[
            str | None,
            typer.Option("--learning-period", help="Learn this long (e.g. 24h), then alert on new edges, "
                         "destinations and periodic connections"),
        ] = None,
        vpc_format: Annotated[
            str | None,
            typer.Option("--vpc-format", help="VPC flow log format for files without a header line"),
        ] = None,
        max_external: Annotated[
            int, typer.Option(help="External endpoints drawn before folding into 'internet'")
        ] = 40,
        ignore_file: Annotated[Path | None, typer.Option(
            "--ignore-file", help="Accepted findings, as for every verb (default: ./.seawallignore when "
            "present): they are left off the map.", show_default=False)] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No warnings on stderr")] = False,
    ) -> None:
        """Build the service map: which workload talks to which (and to the internet), on which ports."""
        from seawall import network
        from seawall.network import servicemap

        if fmt not in FORMATS:
            raise InputError(f"unknown netmap format {fmt!r}; use {', '.join(FORMATS)}")
        check_output(output)
        suppressions = load_suppressions(ignore_file)
        from seawall.network.options import parse_period

        options = network.NetworkOptions(
            inventory=list(inventory or []), baseline=baseline, intel=list(intel or []),
            vpc_format=vpc_format, context=list(context or []), learning_period=parse_period(learning_period),
        )
        analysis = network.analyze(source, [str(f) for f in files], options)
        findings = network.run_detectors(analysis, options) if with_findings else []
        findings, expired = suppress_findings(findings, suppressions)
        if save_baseline is not None:
            network.save_baseline(analysis, save_baseline)
        doc = servicemap.build(analysis, max_external=max_external)
        if with_findings:
            doc["findings"] = [f.to_dict() for f in findings]
        if fmt == "json":
            text = servicemap.to_json(doc)
        elif fmt == "dot":
            text = servicemap.to_dot(doc)
        else:
            text = servicemap.to_html(doc, doc.get("findings"))
        if not quiet:
            for message in analysis.all_warnings() + expired:
                warn(message)
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_atomically(output, text)
