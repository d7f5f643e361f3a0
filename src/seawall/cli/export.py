"""`seawall export securityhub|securitylake --config FILE`: the store's findings, exported once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.core.text import printable

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="the service's seawall.yaml (database, exports:)")
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region (default: the config's)")]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint-url", help="another endpoint (a local test server, a VPC endpoint)")
]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="AWS account id (default: STS GetCallerIdentity)")
]
FullOpt = Annotated[bool, typer.Option("--full", help="consider every stored finding, not only what changed")]


def _store(config: Path):  # type: ignore[no-untyped-def]
    from seawall.service import config as config_mod
    from seawall.service.store import Store

    cfg = config_mod.load(config)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(cfg.database_url)
    store.migrate()
    return cfg, store


def _print(result) -> None:  # type: ignore[no-untyped-def]
    s = result.summary()
    line = (
        f"{result.name}: {s['sent']} sent, {s['unchanged']} unchanged, {s['failed']} failed, "
        f"{s['skipped']} skipped of {s['considered']} findings considered in {s['seconds']} s"
    )
    if result.files:
        line += f"; {len(result.files)} file(s)"
    print(printable(line))
    for f in result.files[:20]:
        print(printable(f"  {f}"))
    for e in result.errors[:10]:
        print(printable(f"seawall: warning: {e}"), file=__import__("sys").stderr)


def register(app: typer.Typer) -> None:
    export = typer.Typer(
        help="Export the service's findings: Security Hub (ASFF), Security Lake (OCSF).", no_args_is_help=True
    )
    app.add_typer(export, name="export")

    @export.command("securityhub")
    def securityhub(
        config: ConfigOpt,
        region: RegionOpt = None,
        endpoint_url: EndpointOpt = None,
        account: AccountOpt = None,
        full: FullOpt = False,
    ) -> None:
        """Findings as ASFF through BatchImportFindings; an update updates the same finding."""
        from seawall.core.errors import InputError
        from seawall.service.exports import run_securityhub, settings

        cfg, store = _store(config)
        try:
            s = settings(
                cfg.doc, "securityhub", {"region": region, "endpoint_url": endpoint_url, "account": account}
            )
            result = run_securityhub(store, s, full=full)
        finally:
            store.close()
        _print(result)
        if result.failed:
            raise InputError(
                f"securityhub: {result.failed} finding(s) not imported (sent again by the next run)"
            )

    @export.command("securitylake")
    def securitylake(
        config: ConfigOpt,
        dest: Annotated[str | None, typer.Option("--dest", help="a directory or s3://bucket/prefix")] = None,
        region: RegionOpt = None,
        endpoint_url: EndpointOpt = None,
        account: AccountOpt = None,
        full: FullOpt = False,
    ) -> None:
        """Findings as OCSF Parquet in the Security Lake custom-source layout."""
        from seawall.core.errors import InputError
        from seawall.service.exports import run_securitylake, settings

        cfg, store = _store(config)
        try:
            s = settings(
                cfg.doc,
                "securitylake",
                {"dest": dest, "region": region, "endpoint_url": endpoint_url, "account": account},
            )
            result = run_securitylake(store, s, full=full)
        finally:
            store.close()
        _print(result)
        if result.failed:
            raise InputError(
                f"securitylake: {result.failed} finding(s) not written (written by the next run)"
            )
