"""`seawall agent --ecs-task` (the in-task sidecar) and `seawall agent task-definition FILE`
(prints the task definition with the sidecar added)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    agent_app = typer.Typer(
        name="agent",
        add_completion=False,
        invoke_without_command=True,
        help="The in-task sidecar for Fargate and pidMode task: processes, executables, "
        "connections and file drift of the task's containers from /proc.",
    )
    app.add_typer(agent_app, name="agent")

    @agent_app.callback()
    def agent_cmd(
        ctx: typer.Context,
        ecs_task: Annotated[
            bool,
            typer.Option(
                "--ecs-task", help="Watch the other containers of this ECS task (needs pidMode task)."
            ),
        ] = False,
        output: Annotated[
            str,
            typer.Option(
                "--output",
                "-o",
                help="Where events go: -, a file (JSON lines), or "
                "the service's https://HOST/api/v1/ingest/falco.",
            ),
        ] = "-",
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                envvar="SEAWALL_TOKEN",
                help="Ingest token for the service (prefer the environment).",
                show_default=False,
            ),
        ] = None,
        ca_cert: Annotated[
            Path | None,
            typer.Option("--ca-cert", help="CA of the service's certificate.", show_default=False),
        ] = None,
        interval: Annotated[
            float, typer.Option("--interval", min=0.05, help="Seconds between /proc polls.")
        ] = 1.0,
        drift_interval: Annotated[
            float,
            typer.Option(
                "--drift-interval",
                min=0.0,
                help="Seconds between drift walks of the containers' roots (0: never).",
            ),
        ] = 60.0,
        cgroup_match: Annotated[
            str | None,
            typer.Option(
                "--cgroup-match",
                help="Only processes whose cgroup "
                "matches this regular expression (default: all but "
                "the agent's own).",
                show_default=False,
            ),
        ] = None,
        processes: Annotated[
            bool, typer.Option("--processes", help="Ship every process start, not only notable ones.")
        ] = False,
        max_events: Annotated[
            float,
            typer.Option(
                "--max-events-per-second", min=1.0, help="Events over this rate are dropped (and counted)."
            ),
        ] = 100.0,
        duration: Annotated[
            float | None,
            typer.Option("--duration", min=0.1, help="Stop after this many seconds.", show_default=False),
        ] = None,
    ) -> None:
        """Run the sidecar (until SIGTERM, or --duration)."""
        if ctx.invoked_subcommand is not None:
            return
        from seawall.core.errors import InputError
        from seawall.runtime.agent import Agent, AgentOptions

        if not ecs_task and cgroup_match is None:
            raise InputError(
                "agent: say what to watch: --ecs-task (the other containers of this task), or "
                "--cgroup-match REGEX"
            )
        if ca_cert is not None and not ca_cert.is_file():
            raise InputError(f"--ca-cert {ca_cert}: no such file")
        import re

        if cgroup_match is not None:
            try:
                re.compile(cgroup_match)
            except re.error as exc:
                raise InputError(f"--cgroup-match: not a regular expression ({exc})") from None
        options = AgentOptions(
            output=output,
            token=token,
            ca_cert=ca_cert,
            interval=interval,
            drift_interval=drift_interval,
            cgroup_match=cgroup_match,
            processes=processes,
            max_events_per_second=max_events,
            duration=duration,
        )
        agent = Agent(options)
        stopping = {"now": False}

        def on_term(signum: int, frame: object) -> None:
            stopping["now"] = True

        signal.signal(signal.SIGTERM, on_term)

        def on_ready(watching: Agent) -> None:
            typer.echo(
                f"seawall agent: watching {len(watching.container_start)} container(s), "
                f"{watching.stats.processes_seen} process(es) at start",
                err=True,
            )

        stats = agent.run(stop=lambda: stopping["now"], ready=on_ready)
        typer.echo(
            f"seawall agent: {stats.polls} polls, {stats.processes_seen} processes, {stats.events} events "
            f"({stats.shipped} shipped, {stats.dropped} dropped, {stats.ship_errors} failed posts)",
            err=True,
        )

    @agent_app.command("task-definition")
    def task_definition_cmd(
        file: Annotated[
            Path,
            typer.Argument(
                help="`aws ecs describe-task-definition` JSON (or a task definition to register).",
                show_default=False,
            ),
        ],
        image: Annotated[str, typer.Option("--image", help="The seawall image the sidecar runs.")] = (
            "public.ecr.aws/seawall/seawall:0.1.0"
        ),
        service_url: Annotated[
            str | None,
            typer.Option("--service-url", help="The service's falco ingest URL.", show_default=False),
        ] = None,
        token_secret_arn: Annotated[
            str | None,
            typer.Option(
                "--token-secret-arn",
                help="Secrets Manager/SSM ARN holding the ingest token.",
                show_default=False,
            ),
        ] = None,
        memory: Annotated[int, typer.Option("--memory", min=32, help="MiB for the sidecar.")] = 64,
    ) -> None:
        """Print the task definition with the sidecar added (pidMode task), ready for
        `aws ecs register-task-definition --cli-input-json`."""
        from seawall.bounded import read_file_capped
        from seawall.core.errors import InputError
        from seawall.runtime.agent import task_definition_patch

        try:
            doc = json.loads(read_file_capped(file, 8 << 20, f"task definition {file}"))
        except (ValueError, RecursionError):
            raise InputError(f"{file}: malformed JSON") from None
        if not isinstance(doc, dict):
            raise InputError(f"{file}: expected a task definition object")
        patched = task_definition_patch(doc, image, service_url, token_secret_arn, memory=memory)
        typer.echo(json.dumps(patched, indent=2, sort_keys=True))
