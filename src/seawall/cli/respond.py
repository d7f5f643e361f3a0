"""`seawall respond plan|isolate|release WORKLOAD`: isolate one pod or ECS task, keep its service up."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.common import check_output, warn, write_atomically
from seawall.core.errors import InputError

FORMATS = ("text", "json")
Workload = Annotated[
    str,
    typer.Argument(
        help="k8s:NAMESPACE/pod/NAME, k8s:NAMESPACE/deployment/NAME, ecs:CLUSTER/task/ID, "
        "ecs:CLUSTER/service/NAME, or a finding id (with --findings)",
        show_default=False,
    ),
]


@dataclass
class _Common:
    sources: list[Path] | None
    findings: list[Path] | None
    config: Path | None
    fmt: str
    output: Path | None
    force: bool
    min_replicas: int
    allow_dns: bool
    forensics_cidr: list[str] | None
    deployment: bool
    service: bool
    scale_to: int | None
    cni: str | None
    kubeconfig: str | None
    context: str | None
    profile: str | None
    region: str | None
    endpoint_url: str | None
    quiet: bool


def _options(c: _Common, **extra: object):  # type: ignore[no-untyped-def]
    from seawall.respond import Options, scope

    if c.fmt not in FORMATS:
        raise InputError(f"unknown respond format {c.fmt!r}; use {', '.join(FORMATS)}")
    if c.cni is not None and c.cni not in ("cilium", "calico", "anp", "none"):
        raise InputError(f"--cni {c.cni!r}: use cilium, calico, anp or none")
    if c.min_replicas < 0 or (c.scale_to is not None and c.scale_to < 0):
        raise InputError("--min-replicas and --scale-to take a number >= 0")
    for source in c.sources or []:
        if not source.is_file():
            raise InputError(f"--from {source}: no such file")
    check_output(c.output)
    options = Options(
        sources=list(c.sources or []),
        force=c.force,
        min_replicas=c.min_replicas,
        allow_dns=c.allow_dns,
        forensics_cidr=list(c.forensics_cidr or []),
        whole=c.deployment or c.service,
        scale_to=c.scale_to,
        cni=c.cni,
        kubeconfig=c.kubeconfig,
        context=c.context,
        profile=c.profile,
        region=c.region,
        endpoint_url=c.endpoint_url,
        scope=scope.load(c.config),
    )
    for key, value in extra.items():
        setattr(options, key, value)
    return options


def _emit(c: _Common, plan) -> None:  # type: ignore[no-untyped-def]
    from seawall.respond import render

    text = render.to_json(plan) if c.fmt == "json" else render.to_text(plan)
    if c.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomically(c.output, text)


def _finish(c: _Common, plan) -> None:  # type: ignore[no-untyped-def]
    """Warnings to stderr; inputs that could not be read at all make the exit code 2."""
    if plan.warnings and not c.quiet and c.fmt == "json":
        for message in plan.warnings:
            warn(message)
    damaged = [w for w in plan.warnings if w.endswith("skipped")]
    if damaged:
        raise InputError(f"{len(damaged)} input file(s) could not be read: the plan may miss objects")


def register(app: typer.Typer) -> None:
    respond_app = typer.Typer(
        help="Isolate one workload (a pod or an ECS task) without pulling the cluster "
        "down: plan (dry run), isolate --apply, release.",
        no_args_is_help=True,
    )
    app.add_typer(respond_app, name="respond")

    def common(
        sources: Annotated[
            list[Path] | None,
            typer.Option(
                "--from",
                help="Plan offline from kubectl get ... -A -o json dumps, or aws ecs describe-tasks / "
                "ec2 describe-network-acls / elbv2 JSON (repeatable)",
            ),
        ] = None,
        findings: Annotated[
            list[Path] | None,
            typer.Option("--findings", help="A seawall JSON report, to resolve a finding id to its workload"),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(help="Config with respond.scope (default: $SEAWALL_CONFIG or the user config dir)"),
        ] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the plan here")] = None,
        force: Annotated[
            bool,
            typer.Option(
                help="Act past the guards (control plane, system add-ons, replicas); never past the scope"
            ),
        ] = False,
        min_replicas: Annotated[
            int, typer.Option("--min-replicas", help="Other ready replicas that must remain")
        ] = 1,
        allow_dns: Annotated[
            bool, typer.Option("--allow-dns", help="k8s: let the pod resolve names")
        ] = False,
        forensics_cidr: Annotated[
            list[str] | None,
            typer.Option("--forensics-cidr", help="k8s: a network that may still reach the pod (repeatable)"),
        ] = None,
        deployment: Annotated[
            bool,
            typer.Option(
                "--deployment", help="k8s:NS/deployment/NAME: isolate every replica (the service goes down)"
            ),
        ] = False,
        service: Annotated[
            bool,
            typer.Option(
                "--service", help="ecs:CLUSTER/service/NAME: isolate every task (the service goes down)"
            ),
        ] = False,
        scale_to: Annotated[
            int | None,
            typer.Option("--scale-to", help="An explicit scale-in of the deployment or ECS service"),
        ] = None,
        cni: Annotated[
            str | None,
            typer.Option(
                help="k8s policy engine with precedence: cilium, calico, anp or none (default: detected)"
            ),
        ] = None,
        kubeconfig: Annotated[str | None, typer.Option(help="k8s: kubeconfig file")] = None,
        context: Annotated[str | None, typer.Option(help="k8s: kubeconfig context")] = None,
        profile: Annotated[str | None, typer.Option(help="ecs: AWS profile")] = None,
        region: Annotated[str | None, typer.Option(help="ecs: AWS region")] = None,
        endpoint_url: Annotated[
            str | None,
            typer.Option(
                "--endpoint-url", envvar="SEAWALL_AWS_ENDPOINT_URL", help="ecs: AWS endpoint (e.g. moto)"
            ),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No warnings on stderr")] = False,
    ) -> _Common:
        return _Common(
            sources,
            findings,
            config,
            fmt,
            output,
            force,
            min_replicas,
            allow_dns,
            forensics_cidr,
            deployment,
            service,
            scale_to,
            cni,
            kubeconfig,
            context,
            profile,
            region,
            endpoint_url,
            quiet,
        )

    def _plan(workload: str, c: _Common) -> None:
        from seawall import respond

        options = _options(c)
        plan = respond.plan(workload, options, c.findings or [])
        _emit(c, plan)
        _finish(c, plan)

    def _isolate(
        workload: str,
        c: _Common,
        apply: bool,
        reason: str | None,
        actor: str | None,
        evidence_dir: Path | None,
        stop: bool,
        exec_snapshot: bool,
        isolate_host: bool,
    ) -> None:
        from seawall import respond

        options = _options(
            c, evidence_dir=evidence_dir, stop=stop, exec_snapshot=exec_snapshot, isolate_host=isolate_host
        )
        outcome = respond.isolate(
            workload, options, apply=apply, actor=actor, reason=reason, findings=c.findings or []
        )
        assert outcome.plan is not None
        _emit(c, outcome.plan)
        if outcome.applied is None:
            print(
                "seawall: dry run: nothing changed (--apply --reason TEXT carries the plan out)",
                file=sys.stderr,
            )
        else:
            print(
                f"seawall: isolated {outcome.plan.workload}: {len(outcome.applied.changes)} change(s); "
                f"evidence in "
                f"{outcome.applied.evidence}; audit record {outcome.record.get('id')}",
                file=sys.stderr,
            )
        _finish(c, outcome.plan)

    def _release(workload: str, c: _Common, apply: bool, reason: str | None, actor: str | None) -> None:
        from seawall import respond

        options = _options(c)
        outcome = respond.release(
            workload, options, apply=apply, actor=actor, reason=reason, findings=c.findings or []
        )
        for line in outcome.released:
            print(line)
        if not apply:
            print("seawall: dry run: nothing changed (--apply undoes the isolation)", file=sys.stderr)

    # typer has no shared option groups: each command repeats the common options through one signature
    import inspect
    import typing

    hints = typing.get_type_hints(common, include_extras=True)
    common_params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
        for p in inspect.signature(common).parameters.values()
    ]

    def _command(name: str, extra: list[inspect.Parameter], body, doc: str) -> None:  # type: ignore[no-untyped-def]
        def command(**kwargs):  # type: ignore[no-untyped-def]
            c = common(**{p.name: kwargs.pop(p.name) for p in common_params})
            body(c, **kwargs)

        workload_param = inspect.Parameter(
            "workload", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Workload
        )
        params = [workload_param, *extra, *common_params]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__ = doc
        command.__name__ = f"respond_{name}"
        respond_app.command(name)(command)

    def kw(name: str, annotation: object, default: object) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    apply_p = kw(
        "apply", Annotated[bool, typer.Option("--apply", help="Carry the plan out (default: dry run)")], False
    )
    reason_p = kw(
        "reason", Annotated[str | None, typer.Option(help="Why (recorded in the audit trail)")], None
    )
    actor_p = kw("actor", Annotated[str | None, typer.Option(help="Who asks (default: user@host)")], None)

    _command(
        "plan",
        [],
        lambda c, workload: _plan(workload, c),
        "Print the isolation plan: what will change, what stays reachable, what it costs. Changes nothing.",
    )
    _command(
        "isolate",
        [
            apply_p,
            reason_p,
            actor_p,
            kw(
                "evidence_dir",
                Annotated[
                    Path | None,
                    typer.Option(
                        "--evidence-dir", help="Where the evidence bundle goes (default: the user data dir)"
                    ),
                ],
                None,
            ),
            kw("stop", Annotated[bool, typer.Option(help="ecs: StopTask after the evidence")], False),
            kw(
                "exec_snapshot",
                Annotated[
                    bool,
                    typer.Option(
                        "--exec-snapshot", help="ecs: run ps/ss through ECS Exec when the task allows it"
                    ),
                ],
                False,
            ),
            kw(
                "isolate_host",
                Annotated[
                    bool,
                    typer.Option(
                        "--isolate-host",
                        help="ecs bridge/host tasks: swap the instance's security groups (every task "
                        "on the host)",
                    ),
                ],
                False,
            ),
        ],
        lambda c, workload, **kw_: _isolate(workload, c, **kw_),
        "Plan and, with --apply, isolate the workload (evidence first; every action audited).",
    )
    _command(
        "release",
        [apply_p, reason_p, actor_p],
        lambda c, workload, **kw_: _release(workload, c, **kw_),
        "Undo the workload's isolation as recorded in the audit trail (dry run without --apply).",
    )
