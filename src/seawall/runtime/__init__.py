"""Running containers: what is running now (inventory per runtime), drift of each live root
filesystem from its image, vulnerabilities of what actually runs, stored SBOMs re-matched when
the advisory DB changes (registry watch), image signatures, and the in-task sidecar for Fargate.

    inventory/   one module per runtime behind seawall.runtime.base.InventorySource
    livefs.py    /proc/PID/root read safely (no symlink followed, mounts skipped, bounded)
    drift.py     live root vs image layers: added/changed files, packages installed at runtime
    sbomstore.py SBOMs by digest (service database or a local SQLite file)
    running.py   `seawall scan running` (the analyzer `runtime`, analyzer.py)
    registry.py  `seawall registry watch`: _catalog + tags lists, ECR; rescan.py: re-match stored SBOMs
    agent.py     `seawall agent --ecs-task`: the sidecar for tasks with pidMode task
    signatures.py cosign / Notation signatures verified against configured keys
"""
