"""`seawall scan image REF` and `seawall scan rootfs DIR`: vulnerabilities, secrets, config checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seawall.cli.common import check_output, finish, parse_severity, parse_severity_list, warn
from seawall.cli.imageopts import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_IMAGE_SIZE,
    DEFAULT_MAX_LAYER_RATIO,
    DEFAULT_REGISTRY_TIMEOUT,
    CACertOpt,
    ImageRefArg,
    InsecureOpt,
    MaxEntriesOpt,
    MaxFileSizeOpt,
    MaxImageSizeOpt,
    MaxLayerRatioOpt,
    PasswordOpt,
    PlatformOpt,
    QuietOpt,
    RegistryTimeoutOpt,
    UsernameOpt,
    image_limits,
    layer_progress,
    source_options,
)
from seawall.core import Report, ReportKind
from seawall.core.errors import InputError
from seawall.report import check_format, format_help

if TYPE_CHECKING:
    from seawall.scan.run import ScanOptions

FormatOpt = Annotated[str, typer.Option("--format", "-f", help=format_help(ReportKind.FINDINGS))]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the report to this file (atomically).", show_default=False)]
SeverityOpt = Annotated[str | None, typer.Option(
    "--severity", "-s", help="Only report these severities, e.g. CRITICAL,HIGH.", show_default=False)]
FailOnOpt = Annotated[str | None, typer.Option(
    "--fail-on", help="Exit 1 when a finding is at or above this severity.", show_default=False)]
IgnoreUnfixedOpt = Annotated[bool, typer.Option(
    "--ignore-unfixed", help="Drop vulnerabilities that have no fixed version yet.")]
IgnoreFileOpt = Annotated[Path | None, typer.Option(
    "--ignore-file", help="Accepted findings: ids with optional expiry and reason "
    "(default: ./.seawallignore when present).", show_default=False)]
OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="Never use the network for the advisory DB (a registry pull still happens "
    "when you scan a registry: image).")]
ScannersOpt = Annotated[str, typer.Option(
    "--scanners", help="Comma list of vuln, secret, config.")]
VexOpt = Annotated[list[Path] | None, typer.Option(
    "--vex", help="An OpenVEX or CycloneDX VEX document (repeatable): vulnerabilities it marks "
    "not_affected/fixed for a package or the image are dropped, with a count.", show_default=False)]
FailOnKevOpt = Annotated[bool, typer.Option(
    "--fail-on-kev", help="Exit 1 when a finding's CVE is in CISA's Known Exploited Vulnerabilities "
    "catalog (import it with `seawall db import` or `db update`).")]
DBOpt = Annotated[Path | None, typer.Option(
    "--db", envvar="SEAWALL_DB", help="Advisory database file (default: the user cache dir).",
    show_default=False)]


def _check_common(fmt: str, output: Path | None, fail_on: str | None) -> str:
    fmt = check_format(fmt, ReportKind.FINDINGS, "scan")
    check_output(output)
    parse_severity(fail_on)
    return fmt


def _finish(report: Report, fmt: str, output: Path | None, fail_on: str | None, quiet: bool,
            fail_on_kev: bool = False) -> None:
    if not quiet:
        for message in report.all_warnings():
            warn(message)
    finish(report, fmt, output, fail_on)
    if fail_on_kev and any(f.vulnerability is not None and f.vulnerability.kev for f in report.findings):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    scan_app = typer.Typer(name="scan", no_args_is_help=True, add_completion=False,
                           help="Scan an image or a root filesystem for vulnerabilities, secrets and "
                                "bad configuration.")
    app.add_typer(scan_app, name="scan")

    from seawall.cli.runtime import register_scan_running

    register_scan_running(scan_app)  # `seawall scan running` (seawall.runtime)

    @scan_app.command("image")
    def scan_image_cmd(
        ref: ImageRefArg,
        fmt: FormatOpt = "table",
        output: OutputOpt = None,
        severity: SeverityOpt = None,
        fail_on: FailOnOpt = None,
        ignore_unfixed: IgnoreUnfixedOpt = False,
        ignore_file: IgnoreFileOpt = None,
        offline: OfflineOpt = False,
        scanners: ScannersOpt = "vuln,secret,config",
        db: DBOpt = None,
        vex: VexOpt = None,
        fail_on_kev: FailOnKevOpt = False,
        platform: PlatformOpt = "linux/amd64",
        username: UsernameOpt = None,
        password: PasswordOpt = None,
        insecure_registry: InsecureOpt = False,
        ca_cert: CACertOpt = None,
        registry_timeout: RegistryTimeoutOpt = DEFAULT_REGISTRY_TIMEOUT,
        max_image_size: MaxImageSizeOpt = DEFAULT_MAX_IMAGE_SIZE,
        max_layer_ratio: MaxLayerRatioOpt = DEFAULT_MAX_LAYER_RATIO,
        max_entries: MaxEntriesOpt = DEFAULT_MAX_ENTRIES,
        max_file_size: MaxFileSizeOpt = DEFAULT_MAX_FILE_SIZE,
        quiet: QuietOpt = False,
    ) -> None:
        """Scan an image: known vulnerabilities of its packages, secrets, image configuration."""
        from seawall import analyzers

        fmt = _check_common(fmt, output, fail_on)
        options = _options(scanners, severity, ignore_unfixed, ignore_file, offline, db, vex)
        limits = image_limits(max_image_size, max_layer_ratio, max_entries, max_file_size)
        options.source = source_options(platform, username, password, insecure_registry, ca_cert, limits,
                                        registry_timeout)
        options.progress = lambda layers: layer_progress(layers, quiet)
        report = analyzers.get("scan").run(ref, options)
        _finish(report, fmt, output, fail_on, quiet, fail_on_kev)

    @scan_app.command("rootfs")
    def scan_rootfs_cmd(
        directory: Annotated[Path, typer.Argument(help="A root filesystem directory.",
                                                  show_default=False)],
        fmt: FormatOpt = "table",
        output: OutputOpt = None,
        severity: SeverityOpt = None,
        fail_on: FailOnOpt = None,
        ignore_unfixed: IgnoreUnfixedOpt = False,
        ignore_file: IgnoreFileOpt = None,
        offline: OfflineOpt = False,
        scanners: ScannersOpt = "vuln,secret,config",
        db: DBOpt = None,
        vex: VexOpt = None,
        fail_on_kev: FailOnKevOpt = False,
        quiet: QuietOpt = False,
    ) -> None:
        """Scan an unpacked root filesystem (a directory) like an image without a config."""
        from seawall import analyzers

        fmt = _check_common(fmt, output, fail_on)
        options = _options(scanners, severity, ignore_unfixed, ignore_file, offline, db, vex)
        report = analyzers.get("scan").run(f"rootfs:{directory}", options)
        _finish(report, fmt, output, fail_on, quiet, fail_on_kev)


def _options(scanners: str, severity: str | None, ignore_unfixed: bool, ignore_file: Path | None,
             offline: bool, db: Path | None, vex: list[Path] | None = None) -> ScanOptions:
    from seawall.scan.run import ScanOptions, parse_scanners

    if ignore_file is not None and not ignore_file.is_file():
        raise InputError(f"--ignore-file {ignore_file}: no such file")
    for path in vex or []:
        if not path.is_file():
            raise InputError(f"--vex {path}: no such file")
    return ScanOptions(scanners=parse_scanners(scanners), severities=parse_severity_list(severity),
                       ignore_unfixed=ignore_unfixed, ignore_file=ignore_file, offline=offline,
                       db_path=db, vex_files=list(vex or []))

