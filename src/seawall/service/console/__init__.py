"""The web console, served by `seawall serve` in the same process, with the same tokens and roles.

    GET  /                       overview: incidents by state and severity, findings, sources, notifications
    GET  /login  POST /login     log in with a token (then a session cookie); POST /logout
    GET  /incidents              filters (state, severity, workload, namespace, technique, source, time),
                                 counts per state and severity, cursor pagination
    GET  /incidents/{id}         timeline across sources with evidence (redacted), known vulnerabilities
                                 and posture of the workload, actions, history
    POST /incidents/{id}/state   acknowledge, resolve, false positive (+ suppression), reopen   (analyst)
    GET  /incidents/{id}/isolate the isolation plan (dry run)                                   (analyst)
    POST /incidents/{id}/isolate apply or release it through `seawall respond`                  (admin)
    GET  /findings /findings/{id} /workloads /workload?key= /map /scans /sources /notifications
    POST /notifications/retry    failed messages back to the outbox                             (admin)
    GET  /audit                  the audit trail                                                (admin)
    GET  /static/{name}          CSS, JS, htmx and cytoscape.js from the wheel

session.py  login sessions and CSRF; render.py  templates and security headers (CSP);
data.py     pages and cached aggregates; netmap.py  the service map from the archived flows;
respond.py  the isolate action and the hooks of `seawall respond`; views.py  the routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from seawall.service.server import Service


def mount(app: FastAPI, service: Service) -> None:
    from seawall.service.console.views import mount as mount_views

    mount_views(app, service)
