"""`falco-http`: Falco's `http_output` (with `json_output: true`) and Falcosidekick's webhook output.

Falco posts one alert per request as a JSON object (`rule`, `priority`, `output`, `time`,
`output_fields`, `source`, `tags`, `hostname`); Falcosidekick's webhook posts the same object
with a `uuid`. A JSON array of alerts or JSON lines are taken too. Falco's text output
(`json_output: false`) is refused with 400 and a hint.
"""

from __future__ import annotations

from typing import Any

import orjson

from seawall.service.sources.spooled import BadRequest, SpooledReceiver


def _alert(obj: Any) -> bytes:
    if not isinstance(obj, dict) or "rule" not in obj or "output" not in obj:
        raise BadRequest("expected Falco JSON alerts (rule, output, priority, time, output_fields)")
    return orjson.dumps(obj)


class FalcoHttp(SpooledReceiver):
    type = "falco-http"
    format = "falco"

    def parse(self, body: bytes, content_type: str) -> list[bytes]:
        text = body.strip()
        if not text:
            return []
        if text[:1] not in (b"{", b"["):
            raise BadRequest("not JSON: set json_output: true in falco.yaml")
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            doc = None
        if doc is not None:
            if isinstance(doc, list):
                return [_alert(o) for o in doc]
            return [_alert(doc)]
        out = []
        for line in text.split(b"\n"):
            if not line.strip():
                continue
            try:
                out.append(_alert(orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"not JSON: {exc}") from None
        return out
