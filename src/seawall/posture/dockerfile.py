"""Dockerfiles and Containerfiles: parsed instruction by instruction, with line continuations."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from seawall.core import Resource
from seawall.posture.base import Context, load_checks
from seawall.posture.credentials import secret_in
from seawall.posture.loader import Document
from seawall.secrets import redact

NAME = "dockerfile"
_IGNORE = re.compile(r"#\s*seawall\.io/ignore:\s*([\w,\s-]+)")
_PIPE_SHELL = re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b")
_INSECURE = re.compile(r"\bcurl\b[^;&|]*\s(-k|--insecure)\b|\bwget\b[^;&|]*\s--no-check-certificate\b")
_SUDO = re.compile(r"(^|[;&|]\s*|\s)sudo\s")


@dataclass(slots=True)
class Instruction:
    cmd: str
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    heredoc: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        if heredoc is not None:  # RUN <<EOF ... EOF: body belongs to the instruction
            if raw.strip() == heredoc:
                heredoc = None
            elif out:
                out[-1].args += "\n" + raw
            continue
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comments inside a continuation are dropped by docker too
        if not buf:
            start = n
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        full = " ".join(part.strip() for part in buf)
        buf = []
        cmd, _, args = full.partition(" ")
        out.append(Instruction(cmd.upper(), args.strip(), start))
        m = re.search(r"<<-?\s*[\"']?(\w+)[\"']?", args)
        if m and cmd.upper() in ("RUN", "COPY"):
            heredoc = m.group(1)
    return out


def _kv_pairs(args: str) -> list[tuple[str, str]]:
    """ENV/ARG/LABEL key=value pairs (also the legacy `ENV key value` form)."""
    try:
        parts = shlex.split(args, posix=True)
    except ValueError:
        parts = args.split()
    if parts and "=" not in parts[0]:
        return [(parts[0], " ".join(parts[1:]))] if len(parts) > 1 else [(parts[0], "")]
    out = []
    for part in parts:
        key, _, value = part.partition("=")
        out.append((key, value))
    return out


def accepts(doc: Document) -> bool:
    return doc.fmt == "dockerfile"


def check(doc: Document, ctx: Context) -> None:
    assert doc.text is not None
    checks = load_checks(NAME)
    sup: set[str] = set()
    for m in _IGNORE.finditer(doc.text):
        sup.update(x for x in re.split(r"[,\s]+", m.group(1)) if x)
    res = Resource(type="Dockerfile", name=doc.path)
    instructions = parse(doc.text)

    def rep(cid: str, line: int, ev: str) -> None:
        ctx.report(checks[cid], res, doc.path, line, ev, suppress=sup)

    stages: set[str] = set()
    last_from = 1
    last_user: Instruction | None = None
    has_health = False
    for ins in instructions:
        if ins.cmd == "FROM":
            last_from = ins.line
            last_user = None
            words = [w for w in ins.args.split() if not w.startswith("--")]
            image = words[0] if words else ""
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
            if image.lower() in stages or image == "scratch" or "$" in image or "@" in image:
                continue
            last = image.rsplit("/", 1)[-1]
            tag = last.split(":", 1)[1] if ":" in last else None
            if tag is None or tag == "latest":
                rep("SW-DF-004", ins.line, f"FROM {image}")
        elif ins.cmd == "USER":
            last_user = ins
        elif ins.cmd == "HEALTHCHECK" and not ins.args.upper().startswith("NONE"):
            has_health = True
        elif ins.cmd == "ADD":
            srcs = [w for w in ins.args.split() if not w.startswith("--")][:-1]
            urls = [s for s in srcs if re.match(r"^(https?|ftp)://", s)]
            if urls:
                rep("SW-DF-002", ins.line, f"ADD {' '.join(urls)}")
        elif ins.cmd == "EXPOSE":
            if any(p.split("/")[0] == "22" for p in ins.args.split()):
                rep("SW-DF-009", ins.line, f"EXPOSE {ins.args}")
        elif ins.cmd in ("ENV", "ARG"):
            for key, value in _kv_pairs(ins.args):
                val = value.strip()
                if not val:
                    continue
                found = secret_in(key, val)
                if found is not None:
                    rep("SW-DF-005", ins.line, f"{ins.cmd} {key}={redact(found.secret)}")
        elif ins.cmd == "RUN":
            body = ins.args
            if _PIPE_SHELL.search(body):
                rep("SW-DF-003", ins.line, f"RUN {body[:120]}")
            if _INSECURE.search(body):
                rep("SW-DF-010", ins.line, f"RUN {body[:120]}")
            if _SUDO.search(" " + body):
                rep("SW-DF-008", ins.line, f"RUN {body[:120]}")
            for segment in re.split(r"&&|;|\|\|", body):
                words = segment.split()
                if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
                    pkgs = [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
                    unpinned = [p for p in pkgs if "=" not in p and not p.endswith(".deb") and "$" not in p]
                    if unpinned:
                        rep("SW-DF-006", ins.line, f"unpinned: {' '.join(unpinned[:6])}")
            if re.search(r"\bapt(-get)?\s+(-\S+\s+)*(update|install)\b", body) and \
                    "/var/lib/apt/lists" not in body:
                rep("SW-DF-007", ins.line, "apt-get without rm -rf /var/lib/apt/lists/*")
    if instructions:
        if last_user is None:
            rep("SW-DF-001", last_from, "no USER instruction in the final stage")
        else:
            user = last_user.args.split(":", 1)[0].strip()
            if user in ("root", "0"):
                rep("SW-DF-001", last_user.line, f"USER {last_user.args}")
        if not has_health:
            rep("SW-DF-011", last_from, "no HEALTHCHECK instruction")


def run(docs: list[Document], ctx: Context) -> None:
    for doc in docs:
        check(doc, ctx)
