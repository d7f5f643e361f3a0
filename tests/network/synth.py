"""A generated, realistic day of VPC flow records for a small microservice app, with an attack
story inside; used by the tests, the demo and as a self-check of the detectors.

App (namespace `shop` on EKS, 3 nodes, AWS VPC CNI so pods have VPC addresses):
ALB -> frontend:8080 -> api:8000 -> db:5432; a `report` CronJob every 15 minutes; every pod
resolves names through CoreDNS (kube-system); api calls a payment provider on the internet.

Story (`story=True`): pod api-...-x3 (10.0.2.33) is compromised at 09:00. It beacons to
203.0.113.50:443 every ~60 s, scans 10.0.1.0/24 at 14:00 (mostly rejected), talks to the
kubelet (10250) of node ip-10-0-1-10 and at 16:00 sends 500 MB to 198.51.100.77:443.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from pathlib import Path
from typing import Any

FORMAT = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
    "action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr "
    "flow-direction traffic-path"
)
DAY = int(dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp())

NODES = {
    "ip-10-0-1-10.eu-west-1.compute.internal": "10.0.1.10",
    "ip-10-0-2-10.eu-west-1.compute.internal": "10.0.2.10",
    "ip-10-0-3-10.eu-west-1.compute.internal": "10.0.3.10",
}
PODS = {  # workload -> (kind, namespace, port, protocol, pod ips)
    "frontend": ("Deployment", "shop", 8080, "TCP", ["10.0.1.21", "10.0.2.22", "10.0.3.23"]),
    "api": ("Deployment", "shop", 8000, "TCP", ["10.0.1.31", "10.0.2.32", "10.0.2.33"]),
    "db": ("StatefulSet", "shop", 5432, "TCP", ["10.0.3.41"]),
    "report": ("CronJob", "shop", None, "TCP", ["10.0.3.51"]),
    "coredns": ("Deployment", "kube-system", 53, "UDP", ["10.0.1.61", "10.0.2.61"]),
}
ALB = ["10.0.0.5", "10.0.0.6"]
PAYMENT = "52.94.10.20"
C2 = "203.0.113.50"
DROP = "198.51.100.77"
COMPROMISED = "10.0.2.33"


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[tuple[int, str]] = []

    def conn(
        self,
        t: float,
        client: str,
        server: str,
        dport: int,
        proto: int = 6,
        up: int = 2000,
        down: int = 8000,
        action: str = "ACCEPT",
        internal_server: bool = True,
        sport: int | None = None,
        duration: int = 1,
    ) -> None:
        """One connection as VPC Flow Logs record it: on the client ENI (egress + its reply) and on
        the server ENI (ingress + its reply) when the server is in the VPC."""
        rng = self.rng
        sport = sport or rng.randint(32768, 60999)
        start = int(t)
        end = start + max(duration, 1)
        p_up, p_down = max(1, up // 1200), max(1, down // 1200)
        flags_c = 19 if proto == 6 else 0  # SYN|ACK|FIN
        flags_s = 19 if proto == 6 else 0
        enis = [("eni-0c1" + client.replace(".", "")[-8:], "egress", "ingress")]
        if internal_server:
            enis.append(("eni-0c1" + server.replace(".", "")[-8:], "ingress", "egress"))
        for eni, dir_up, dir_down in enis:
            if action == "REJECT":
                if dir_up == "ingress":  # the security group of the target drops the SYN
                    self._row(
                        eni, client, server, sport, dport, proto, 1, 60, start, end, "REJECT", 2, dir_up
                    )
                continue
            self._row(eni, client, server, sport, dport, proto, p_up, up, start, end, action, flags_c, dir_up)
            self._row(
                eni, server, client, dport, sport, proto, p_down, down, start, end, action, flags_s, dir_down
            )

    def _row(
        self,
        eni: str,
        src: str,
        dst: str,
        sport: int,
        dport: int,
        proto: int,
        packets: int,
        nbytes: int,
        start: int,
        end: int,
        action: str,
        flags: int,
        direction: str,
    ) -> None:
        # VPC Flow Logs cut long flows into 60 s aggregation windows
        windows = max(1, (end - start + 59) // 60)
        for w in range(windows):
            s = start + 60 * w
            e = min(end, s + 60)
            path = "-" if direction != "egress" else ("8" if not dst.startswith("10.") else "1")
            line = (
                f"5 123456789012 {eni} {src} {dst} {sport} {dport} {proto} {max(1, packets // windows)} "
                f"{max(40, nbytes // windows)} {s} {e} {action} OK vpc-0a1b2c3d subnet-0a1b2c3d "
                f"{'i-0abc1234def567890' if direction else '-'} {flags} IPv4 {src} {dst} {direction} "
                f"{path}"
            )
            self.rows.append((s, line))


def generate_day(story: bool, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    w = _Writer(rng)
    fe, api, db, rep, dns = (PODS[k][4] for k in ("frontend", "api", "db", "report", "coredns"))
    for minute in range(24 * 60):
        t0 = DAY + minute * 60
        # ALB health checks + requests, kept alive: one connection per ALB node and target per minute
        for alb in ALB:
            for pod in fe:
                w.conn(
                    t0 + rng.uniform(0, 59),
                    alb,
                    pod,
                    8080,
                    up=rng.randint(20_000, 60_000),
                    down=rng.randint(200_000, 600_000),
                    duration=rng.randint(5, 50),
                )
        for pod in fe:
            w.conn(
                t0 + rng.uniform(0, 59),
                pod,
                rng.choice(api),
                8000,
                up=rng.randint(10_000, 30_000),
                down=rng.randint(50_000, 200_000),
                duration=rng.randint(1, 30),
            )
        if minute % 2 == 0:
            for pod in api:
                w.conn(
                    t0 + rng.uniform(0, 59),
                    pod,
                    db[0],
                    5432,
                    up=rng.randint(5_000, 20_000),
                    down=rng.randint(20_000, 90_000),
                    duration=rng.randint(10, 110),
                )
        if minute % 5 == 0:
            for pod in fe + api + rep[:0]:
                w.conn(t0 + rng.uniform(0, 59), pod, rng.choice(dns), 53, proto=17, up=80, down=160)
        if rng.random() < 0.15:  # payment calls: Poisson-like, a few an hour
            w.conn(
                t0 + rng.uniform(0, 59),
                rng.choice(api),
                PAYMENT,
                443,
                up=rng.randint(3_000, 9_000),
                down=rng.randint(4_000, 12_000),
                internal_server=False,
                duration=rng.randint(1, 3),
            )
        if minute % 15 == 0:  # report CronJob
            t: float = t0 + 2
            w.conn(t, rep[0], rng.choice(dns), 53, proto=17, up=80, down=160)
            w.conn(t + 1, rep[0], rng.choice(api), 8000, up=2_000, down=40_000, duration=3)
            w.conn(t + 5, rep[0], db[0], 5432, up=4_000, down=400_000, duration=20)
    if story:
        # beacon: 09:00 .. 23:59, every 60 s +-5 %
        t = DAY + 9 * 3600 + 7.0
        while t < DAY + 86_000:
            w.conn(
                t,
                COMPROMISED,
                C2,
                443,
                up=rng.randint(600, 900),
                down=rng.randint(300, 700),
                internal_server=False,
            )
            t += 60 * (1 + rng.uniform(-0.05, 0.05))
        # scan of 10.0.1.0/24 at 14:00
        t = DAY + 14 * 3600
        ports = [22, 80, 443, 2375, 3306, 5432, 6379, 8080, 8443, 10250]
        for host in range(1, 65):
            ip = f"10.0.1.{host}"
            for port in ports:
                t += 0.05
                opened = (ip in fe and port == 8080) or (ip == "10.0.1.10" and port == 10250)
                w.conn(t, COMPROMISED, ip, port, up=120, down=120, action="ACCEPT" if opened else "REJECT")
        # the kubelet of node ip-10-0-1-10: /pods, /exec
        for k in range(6):
            w.conn(
                DAY + 14 * 3600 + 600 + k * 40,
                COMPROMISED,
                "10.0.1.10",
                10250,
                up=4_000,
                down=rng.randint(30_000, 90_000),
                duration=20,
            )
        # 500 MB out at 16:00, in one long upload
        w.conn(
            DAY + 16 * 3600,
            COMPROMISED,
            DROP,
            443,
            up=500 * 1024 * 1024,
            down=2_000_000,
            internal_server=False,
            duration=1800,
        )
    w.rows.sort(key=lambda r: r[0])
    return [FORMAT] + [line for _, line in w.rows]


def inventory() -> dict[str, Any]:
    """`kubectl get pods,services,nodes -A -o json` of the app."""
    items: list[dict[str, Any]] = []
    for name, ip in NODES.items():
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name},
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": ip},
                        {"type": "Hostname", "address": name},
                    ]
                },
            }
        )
    suffixes = ["x1", "x2", "x3"]
    for wl, (kind, ns, port, proto, ips) in PODS.items():
        for i, ip in enumerate(ips):
            if kind == "Deployment":
                rs = f"{wl}-7d9f8c6b5"
                pod, owner = f"{rs}-{suffixes[i]}abc", {"kind": "ReplicaSet", "name": rs}
                labels = {"app": wl, "pod-template-hash": "7d9f8c6b5"}
            elif kind == "StatefulSet":
                pod, owner, labels = f"{wl}-{i}", {"kind": "StatefulSet", "name": wl}, {"app": wl}
            else:
                job = f"{wl}-29391840"
                pod, owner, labels = f"{job}-qz7x{i}", {"kind": "Job", "name": job}, {"app": wl}
            container: dict[str, Any] = {"name": wl, "image": f"registry.example.com/{wl}:1.4.2"}
            if port:
                container["ports"] = [{"containerPort": port, "protocol": proto}]
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": pod,
                        "namespace": ns,
                        "labels": labels,
                        "ownerReferences": [{**owner, "apiVersion": "apps/v1", "controller": True}],
                    },
                    "spec": {"containers": [container], "nodeName": list(NODES)[int(ip.split(".")[2]) - 1]},
                    "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
                }
            )
        if port:
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "kube-dns" if wl == "coredns" else wl, "namespace": ns},
                    "spec": {
                        "clusterIP": f"172.20.{len(items)}.10",
                        "selector": {"app": wl},
                        "ports": [{"port": port, "targetPort": port, "protocol": proto}],
                    },
                }
            )
    return {"apiVersion": "v1", "kind": "List", "items": items}


def write(directory: Path, story: bool = True, seed: int = 1, name: str | None = None) -> tuple[Path, Path]:
    """Writes `<name>.log.gz` (flows) and `inventory.json`; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    flows = directory / f"{name or ('day-with-story' if story else 'day-clean')}.log.gz"
    with gzip.open(flows, "wt", encoding="utf-8", compresslevel=6) as out:
        out.write("\n".join(generate_day(story, seed)) + "\n")
    inv = directory / "inventory.json"
    inv.write_text(json.dumps(inventory(), indent=1), encoding="utf-8")
    return flows, inv


# -- the same probing story as default v2 records and as custom v7 records with ECS fields -------

V2_FIELDS = FORMAT.split()[:14]
V7_FIELDS = [*V2_FIELDS, "tcp-flags", "flow-direction", "ecs-cluster-name", "ecs-service-name", "ecs-task-id"]
PROBER = "10.0.4.25"  # task of ECS service prod/billing (awsvpc: its own ENI)
PROBER_TASK = "6c1d8e2f4a5b4c3d9e8f7a6b5c4d3e2f"
PROBE_PORTS = (22, 2375, 6443, 10250)
BASTION, NODE = "10.0.4.11", "10.0.4.12"  # answer on 22 and on 10250
DB = "10.0.5.20"


def probe_records(seed: int = 3) -> list[dict[str, Any]]:
    """A day of an ECS service (billing: calls its database every minute and a payment API) whose
    task, at 13:00, probes 200 hosts of its /24 on four admin ports, gets into a bastion (ssh) and a
    node's kubelet, and at 15:00 uploads 300 MB to the internet. Each ENI logs its own side: the
    task's ENI sees its egress and what comes back; 30 existing hosts log their side (a security
    group REJECT, or the answer); the other 170 addresses have no ENI at all."""
    rng = random.Random(seed)
    recs: list[dict[str, Any]] = []
    existing = {f"10.0.4.{h}" for h in range(10, 40)} - {PROBER}

    def rec(eni_own: str, src: str, dst: str, sp: int, dp: int, t: int, pk: int, by: int, action: str,
            flags: int, ecs: bool) -> None:
        direction = "egress" if src == eni_own else "ingress"
        recs.append({"eni": "eni-0" + eni_own.replace(".", "")[-9:], "src": src, "dst": dst, "sp": sp,
                     "dp": dp, "t": t, "pk": pk, "by": by, "action": action, "flags": flags,
                     "direction": direction, "ecs": ecs})

    def conn(t: int, client: str, server: str, port: int, up: int, down: int, answered: bool = True,
             server_logged: bool = True, reject: bool = False, duration: int = 2) -> None:
        sp = rng.randint(32768, 60999)
        end = t + duration
        client_ecs, server_ecs = client == PROBER, server == PROBER
        rec(client, client, server, sp, port, t, max(1, up // 1200), up, "ACCEPT", 3 if answered else 2,
            client_ecs)
        if answered:
            rec(client, server, client, port, sp, t, max(1, down // 1200), down, "ACCEPT", 19, client_ecs)
        if server_logged:
            rec(server, client, server, sp, port, t, max(1, up // 1200), up, "REJECT" if reject else "ACCEPT",
                2 if reject else 3, server_ecs)
            if answered:
                rec(server, server, client, port, sp, t, max(1, down // 1200), down, "ACCEPT", 19, server_ecs)
        del end

    for minute in range(24 * 60):
        t = DAY + minute * 60 + rng.randint(0, 50)
        conn(t, PROBER, DB, 5432, rng.randint(2_000, 6_000), rng.randint(8_000, 40_000))
        if rng.random() < 0.2:
            conn(t + 5, PROBER, PAYMENT, 443, rng.randint(3_000, 9_000), rng.randint(4_000, 12_000),
                 server_logged=False)
    t = DAY + 13 * 3600
    for host in range(1, 201):
        ip = f"10.0.4.{host}"
        if ip == PROBER:
            continue
        for port in PROBE_PORTS:
            t += 1
            opened = (ip == BASTION and port == 22) or (ip == NODE and port == 10250)
            if opened:
                conn(t, PROBER, ip, port, 3_000, 20_000, duration=30)
            elif ip in existing:
                conn(t, PROBER, ip, port, 60, 0, answered=False, reject=True)
            else:
                conn(t, PROBER, ip, port, 60, 0, answered=False, server_logged=False)
    conn(DAY + 15 * 3600, PROBER, DROP, 443, 300 * 1024 * 1024, 1_000_000, server_logged=False, duration=50)
    recs.sort(key=lambda r: (r["t"], r["eni"]))
    return recs


def write_probe_story(directory: Path) -> tuple[Path, Path, Path]:
    """(v2 log, v7 log with ECS fields, `aws ecs describe-tasks` inventory) of `probe_records`."""
    directory.mkdir(parents=True, exist_ok=True)
    recs = probe_records()
    v2, v7 = [" ".join(V2_FIELDS)], [" ".join(V7_FIELDS)]
    for r in recs:
        base = (f"2 123456789012 {r['eni']} {r['src']} {r['dst']} {r['sp']} {r['dp']} 6 {r['pk']} {r['by']} "
                f"{r['t']} {r['t'] + 60} {r['action']} OK")
        v2.append(base)
        ecs = f"prod billing {PROBER_TASK}" if r["ecs"] else "- - -"
        v7.append(f"7{base[1:]} {r['flags']} {r['direction']} {ecs}")
    p2, p7 = directory / "probe-v2.log.gz", directory / "probe-v7.log.gz"
    for path, lines in ((p2, v2), (p7, v7)):
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    inv = directory / "ecs-tasks.json"
    inv.write_text(json.dumps({"tasks": [{
        "taskArn": f"arn:aws:ecs:eu-west-1:123456789012:task/prod/{PROBER_TASK}",
        "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
        "group": "service:billing",
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/billing:7",
        "attachments": [{"type": "ElasticNetworkInterface", "details": [
            {"name": "networkInterfaceId", "value": "eni-0" + PROBER.replace(".", "")[-9:]},
            {"name": "privateIPv4Address", "value": PROBER}]}],
        "containers": [{"name": "billing", "networkInterfaces": [{"privateIpv4Address": PROBER}]}],
    }], "failures": []}))
    return p2, p7, inv


# -- a benign day: the system traffic of an EKS cluster and of an ECS service ---------------------

EKS_NODES = {"ip-10-1-1-10.eu-west-1.compute.internal": "10.1.1.10",
             "ip-10-1-2-10.eu-west-1.compute.internal": "10.1.2.10",
             "ip-10-1-3-10.eu-west-1.compute.internal": "10.1.3.10"}
CONTROL_PLANE = ["10.1.1.200", "10.1.2.200"]  # EKS control-plane ENIs in the cluster's subnets
NTP_POOL = ["162.159.200.1", "162.159.200.123", "204.2.134.162", "45.79.1.70"]
AWS_ENDPOINTS = {  # ec2, ssm, ec2messages, logs, ecs, ecr api, s3 (eu-west-1): AWS service ranges
    "ec2": "52.95.120.10", "ssm": "52.95.121.20", "ec2messages": "52.95.121.30", "logs": "52.95.122.40",
    "ecs": "52.95.123.50", "ecr": "52.95.124.60", "s3": "52.218.30.70"}
MIRROR = "54.239.30.80"  # Amazon Linux repositories (CloudFront)
ALB_ENIS = ["10.1.0.5", "10.1.0.6"]
EKS_PODS = {  # workload -> (kind, namespace, pod ips, port)
    "coredns": ("Deployment", "kube-system", ["10.1.1.31", "10.1.2.31"], 53),
    "metrics-server": ("Deployment", "kube-system", ["10.1.3.32"], 10250),
    "prometheus": ("StatefulSet", "monitoring", ["10.1.2.33"], 9090),
    "frontend": ("Deployment", "shop", ["10.1.1.41", "10.1.2.41", "10.1.3.41"], 8080),
    "api": ("Deployment", "shop", ["10.1.1.42", "10.1.3.42"], 8000),
}
ECS_TASKS = {"10.1.4.21": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "10.1.4.22": "0f9e8d7c6b5a49382716a5b4c3d2e1f0"}
RDS = "10.1.5.20"


def benign_records(seed: int = 5, hours: int = 24, extra: Any = None) -> list[str]:
    """v2 records (each ENI its own side) of a day with no attack: NTP to public pool servers every
    1024 s from every node (chrony: a new source port each time), kubelets and the API server talking
    both ways, metrics-server and Prometheus scraping, CoreDNS, the VPC CNI and the SSM agent polling
    AWS APIs, image pulls and package updates, ALB health checks of pods and ECS tasks, the ECS agent,
    the awslogs driver shipping logs, the ECS service using its database."""
    rng = random.Random(seed)
    rows: list[tuple[int, str]] = []
    internal = {*EKS_NODES.values(), *CONTROL_PLANE, *ALB_ENIS, *ECS_TASKS, RDS,
                *(ip for _, _, ips, _ in EKS_PODS.values() for ip in ips)}

    def rec(eni_ip: str, src: str, dst: str, sp: int, dp: int, proto: int, by: int, t: int) -> None:
        line = (f"2 123456789012 eni-0{eni_ip.replace('.', '')[-9:]} {src} {dst} {sp} {dp} {proto} "
                f"{max(1, by // 1200)} {by} {t} {t + 60} ACCEPT OK")
        rows.append((t, line))

    def conn(t: float, client: str, server: str, port: int, proto: int = 6, up: int = 800,
             down: int = 2000) -> None:
        ti = int(t)
        sp = rng.randint(32768, 60999)
        for side in (client, server):
            if side in internal:
                rec(side, client, server, sp, port, proto, up, ti)
                rec(side, server, client, port, sp, proto, down, ti)

    def every(period: float, jitter: float, fn: Any) -> None:
        t = DAY + rng.uniform(0, period)
        while t < DAY + hours * 3600:
            fn(t)
            t += period * (1 + rng.uniform(-jitter, jitter))

    nodes = list(EKS_NODES.values())
    pods = {w: ips for w, (_, _, ips, _) in EKS_PODS.items()}
    for node in nodes:
        every(1024, 0.02, lambda t, n=node: conn(t, n, rng.choice(NTP_POOL), 123, proto=17, up=76, down=76))
        every(60, 0.1, lambda t, n=node: conn(t, n, rng.choice(CONTROL_PLANE), 443, up=4_000, down=9_000))
        every(120, 0.1, lambda t, n=node: conn(t, rng.choice(CONTROL_PLANE), n, 10250, up=900, down=3_000))
        every(60, 0.05, lambda t, n=node: conn(t, pods["metrics-server"][0], n, 10250, up=600, down=8_000))
        every(60, 0.05, lambda t, n=node: conn(t, pods["prometheus"][0], n, 9100, up=300, down=40_000))
        every(60, 0.15, lambda t, n=node: conn(t, n, AWS_ENDPOINTS["ec2"], 443, up=2_000, down=6_000))
        every(300, 0.2, lambda t, n=node: conn(t, n, AWS_ENDPOINTS["ssm"], 443, up=1_500, down=2_000))
        every(300, 0.2, lambda t, n=node: conn(t, n, AWS_ENDPOINTS["ec2messages"], 443, up=900, down=1_200))
        every(21600, 0.1, lambda t, n=node: conn(t, n, MIRROR, 443, up=20_000, down=8_000_000))
        every(5400, 0.3, lambda t, n=node: conn(t, n, AWS_ENDPOINTS["ecr"], 443, up=5_000, down=30_000))
        every(5400, 0.3, lambda t, n=node: conn(t, n, AWS_ENDPOINTS["s3"], 443, up=5_000, down=90_000_000))
    for w, ips in pods.items():
        for ip in ips:
            every(60, 0.3, lambda t, i=ip: conn(t, i, rng.choice(pods["coredns"]), 53, proto=17, up=80,
                                                down=160))
            if w == "frontend":
                for alb in ALB_ENIS:
                    every(30, 0.05, lambda t, i=ip, a=alb: conn(t, a, i, 8080, up=200, down=600))
                every(15, 0.5, lambda t, i=ip: conn(t, i, rng.choice(pods["api"]), 8000, up=3_000,
                                                    down=20_000))
    every(30, 0.05, lambda t: conn(t, pods["prometheus"][0], rng.choice(pods["api"]), 8000, up=300,
                                   down=9_000))
    for task in ECS_TASKS:
        for alb in ALB_ENIS:
            every(30, 0.05, lambda t, i=task, a=alb: conn(t, a, i, 8080, up=200, down=600))
        every(10, 0.2, lambda t, i=task: conn(t, i, RDS, 5432, up=2_000, down=12_000))
        every(10, 0.1, lambda t, i=task: conn(t, i, AWS_ENDPOINTS["logs"], 443, up=3_000, down=500))
        every(60, 0.1, lambda t, i=task: conn(t, i, AWS_ENDPOINTS["ecs"], 443, up=1_000, down=1_000))
    if extra is not None:  # a test's own story on top of the day: extra(conn, every)
        extra(conn, every)
    rows.sort(key=lambda r: r[0])
    return [" ".join(V2_FIELDS)] + [line for _, line in rows]


def benign_inventory() -> dict[str, Any]:
    """`kubectl get pods,services,nodes,endpoints -A -o json` of the cluster."""
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
         "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}
        for name, ip in EKS_NODES.items()
    ]
    items.append({"apiVersion": "v1", "kind": "Endpoints",
                  "metadata": {"name": "kubernetes", "namespace": "default"},
                  "subsets": [{"addresses": [{"ip": ip} for ip in CONTROL_PLANE],
                               "ports": [{"name": "https", "port": 443}]}]})
    for w, (kind, ns, ips, port) in EKS_PODS.items():
        for i, ip in enumerate(ips):
            owner = ({"kind": "ReplicaSet", "name": f"{w}-7c9d8b6f5"} if kind == "Deployment"
                     else {"kind": kind, "name": w})
            items.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"{w}-7c9d8b6f5-x{i}abc" if kind == "Deployment"
                                       else f"{w}-{i}",
                                       "namespace": ns, "labels": {"app": w},
                                       "ownerReferences": [{**owner, "controller": True}]},
                          "spec": {"containers": [{"name": w, "ports": [{"containerPort": port}]}]},
                          "status": {"podIP": ip, "podIPs": [{"ip": ip}]}})
    return {"apiVersion": "v1", "kind": "List", "items": items}


def benign_ecs_tasks() -> dict[str, Any]:
    return {"tasks": [{
        "taskArn": f"arn:aws:ecs:eu-west-1:123456789012:task/web/{task}",
        "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/web", "group": "service:web",
        "containers": [{"name": "web", "networkInterfaces": [{"privateIpv4Address": ip}],
                        "networkBindings": [{"containerPort": 8080}]}],
    } for ip, task in ECS_TASKS.items()], "failures": []}


def aws_ip_ranges() -> dict[str, Any]:
    """A small file in the shape of AWS's ip-ranges.json (the service ranges of the day above)."""
    def prefix(cidr: str, region: str, service: str) -> dict[str, str]:
        return {"ip_prefix": cidr, "region": region, "service": service, "network_border_group": region}

    return {"syncToken": "1793577600", "createDate": "2026-11-02-00-00-00", "prefixes": [
        prefix("52.95.0.0/16", "eu-west-1", "AMAZON"), prefix("52.218.0.0/17", "eu-west-1", "S3"),
        prefix("54.239.0.0/17", "GLOBAL", "CLOUDFRONT"), prefix("52.95.250.0/24", "eu-west-1", "EC2"),
    ], "ipv6_prefixes": []}


def write_benign_day(directory: Path, hours: int = 24, extra: Any = None) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {"flows": directory / "benign-v2.log.gz", "k8s": directory / "kubectl.json",
           "ecs": directory / "ecs-tasks.json", "ranges": directory / "ip-ranges.json"}
    with gzip.open(out["flows"], "wt", encoding="utf-8") as fh:
        fh.write("\n".join(benign_records(hours=hours, extra=extra)) + "\n")
    out["k8s"].write_text(json.dumps(benign_inventory()))
    out["ecs"].write_text(json.dumps(benign_ecs_tasks()))
    out["ranges"].write_text(json.dumps(aws_ip_ranges()))
    return out
