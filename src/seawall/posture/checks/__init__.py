"""Check metadata (YAML, one file per target module); loaded by seawall.posture.base.load_checks."""
