"""seawall: container security for the registry, orchestration, host and container."""

__version__ = "0.1.0"
