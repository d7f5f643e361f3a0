"""Kubernetes object helpers shared by the kubernetes* modules: kinds, pod templates, containers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from seawall.core import Resource
from seawall.posture.base import ignored_ids
from seawall.posture.loader import Document, LDict, LList

WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                  "ReplicationController", "PodTemplate", "DeploymentConfig"}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


def is_k8s(doc: Document) -> bool:
    data = doc.data
    return (isinstance(data, dict) and isinstance(data.get("kind"), str)
            and isinstance(data.get("apiVersion"), str))


@dataclass(slots=True)
class K8sObject:
    """One Kubernetes object (items of a List are objects of their own)."""

    doc: Document
    data: LDict
    _suppress: set[str] | None = field(default=None, repr=False, compare=False)
    _resource: Resource | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def meta(self) -> LDict:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, LDict) else LDict(self.data.line)

    @property
    def name(self) -> str:
        name = self.meta.get("name") or self.meta.get("generateName") or "<unnamed>"
        return str(name)

    @property
    def namespace(self) -> str | None:
        ns = self.meta.get("namespace")
        return str(ns) if ns not in (None, "") else None

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def line(self) -> int:
        """Line of metadata.name (where a reader looks for "which object"), else the object start."""
        meta = self.data.get("metadata")
        if isinstance(meta, LDict) and "name" in meta:
            return meta.ln("name")
        return self.data.line or self.doc.line

    def resource(self) -> Resource:
        """The object as a finding names it (built once: an object often has a dozen findings)."""
        if self._resource is None:
            kind, name = self.kind, self.name
            self._resource = Resource(type=kind, name=name, namespace=self.namespace,
                                      workload=f"{kind}/{name}" if kind in WORKLOAD_KINDS else None)
        return self._resource

    def suppressions(self) -> set[str]:
        if self._suppress is None:
            template = pod_template(self.data)
            tmeta = template[0].get("metadata") if template else None
            self._suppress = ignored_ids(self.meta, tmeta)
        return self._suppress

    def extra(self) -> dict[str, Any]:
        return {"helm_template": self.doc.source} if self.doc.source else {}

    def detached(self, slim: bool = False) -> K8sObject:
        """The object without the document it came from (a List dump holds a whole cluster), kept
        by a join until the input is read. `slim`: only what names and places it (kind, metadata
        name/namespace and their lines), for a join that needs no more than that and the caches
        (resource, suppressions) filled in here."""
        self.resource()
        self.suppressions()
        doc = self.doc
        data = self.data
        if slim:
            data = LDict(self.data.line)
            for key in ("apiVersion", "kind"):
                if key in self.data:
                    data[key] = self.data[key]
                    data.key_lines[key] = self.data.key_lines.get(key, self.data.line)
            meta = self.data.get("metadata")
            if isinstance(meta, LDict):
                small = LDict(meta.line)
                for key in ("name", "generateName", "namespace"):
                    if key in meta:
                        small[key] = meta[key]
                        small.key_lines[key] = meta.ln(key)
                data["metadata"] = small
                data.key_lines["metadata"] = self.data.ln("metadata")
        return K8sObject(Document(path=doc.path, data=None, line=doc.line, index=doc.index, fmt=doc.fmt,
                                  source=doc.source), data, self._suppress, self._resource)


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


T = TypeVar("T", bound="K8sObject")


def nearest(candidates: list[T], origin: K8sObject) -> list[T]:
    """The candidates a cross-object join should use from `origin`'s point of view: those in the same
    file if any, else those in the same directory, else all of them. Repositories hold overlays and
    several clusters' manifests: a binding next to its Role means that Role, not a namesake elsewhere."""
    if len(candidates) <= 1:
        return list(candidates)
    same_file = [c for c in candidates if c.path == origin.path]
    if same_file:
        return same_file
    directory = _directory(origin.path)
    same_dir = [c for c in candidates if _directory(c.path) == directory]
    return same_dir or list(candidates)


def objects(docs: list[Document]) -> Iterator[K8sObject]:
    """Every Kubernetes object in the documents, with `List` (kubectl -o json|yaml) flattened.
    Built once per document and shared by the modules that read it."""
    for doc in docs:
        found = doc.objects
        if found is None:
            found = doc.objects = list(_objects_of(doc))
        yield from found


def _objects_of(doc: Document) -> Iterator[K8sObject]:
    data = doc.data
    if not isinstance(data, LDict):
        return
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        for item in data["items"]:
            if isinstance(item, LDict) and isinstance(item.get("kind"), str):
                yield K8sObject(doc, item)
        return
    if isinstance(kind, str):
        yield K8sObject(doc, data)


def pod_template(data: Any) -> tuple[LDict, LDict] | None:
    """(template, pod spec) of any workload kind, or None."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    spec = data.get("spec")
    if kind == "Pod":
        return (data, spec) if isinstance(data, LDict) and isinstance(spec, LDict) else None
    if kind == "PodTemplate":
        template = data.get("template")
    elif kind == "CronJob":
        job = spec.get("jobTemplate") if isinstance(spec, dict) else None
        job_spec = job.get("spec") if isinstance(job, dict) else None
        template = job_spec.get("template") if isinstance(job_spec, dict) else None
    else:
        template = spec.get("template") if isinstance(spec, dict) else None
    if isinstance(template, LDict):
        tspec = template.get("spec")
        if isinstance(tspec, LDict):
            return template, tspec
    return None


@dataclass(slots=True)
class Container:
    name: str
    data: LDict
    field: str  # containers | initContainers | ephemeralContainers

    @property
    def line(self) -> int:
        """The container's first line (`- name:` in YAML, the first key in JSON)."""
        return self.data.first_line

    @property
    def sc(self) -> LDict | None:
        sc = self.data.get("securityContext")
        return sc if isinstance(sc, LDict) else None


def containers(pod_spec: LDict) -> Iterator[Container]:
    for fld in CONTAINER_FIELDS:
        items = pod_spec.get(fld)
        if not isinstance(items, LList):
            continue
        for item in items:
            if isinstance(item, LDict):
                yield Container(str(item.get("name", "?")), item, fld)


def effective(container: Container, pod_spec: LDict, key: str) -> tuple[Any, int | None]:
    """A securityContext field as the kubelet applies it: container level wins over pod level.

    Returns (value, line where it is set) or (None, None) when set nowhere."""
    sc = container.sc
    if sc is not None and key in sc:
        return sc[key], sc.ln(key)
    psc = pod_spec.get("securityContext")
    if isinstance(psc, LDict) and key in psc:
        return psc[key], psc.ln(key)
    return None, None


def labels_match(selector: Any, labels: Any) -> bool:
    """A Service-style selector (plain map) against labels; an empty selector matches nothing."""
    if not isinstance(selector, dict) or not selector or not isinstance(labels, dict):
        return False
    return all(str(labels.get(k)) == str(v) for k, v in selector.items())


def label_selector_matches(selector: Any, labels: Any) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions); `{}` matches everything."""
    if not isinstance(selector, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if str(labels.get(k)) != str(v):
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            continue
        key, op = expr.get("key"), expr.get("operator")
        values = [str(x) for x in expr.get("values") or []]
        present = key in labels
        if op == "In" and (not present or str(labels[key]) not in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
