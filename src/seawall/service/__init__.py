"""`seawall serve`: continuous ingestion into one findings store, incidents per workload, an API.

config.py      seawall.yaml -> ServiceConfig (listen, data_dir, database, sources, limits)
store.py       SQLAlchemy 2 tables, upserts by stable finding id, checkpoints (Alembic: migrations/)
spool.py       the receivers' durable spool: a batch is acknowledged only once fsync'ed
sources/       one module per source type behind `Source` (sources/base.py), registered in one place
pipeline.py    a source's batches -> streaming analyzer -> findings + checkpoint + snapshot, one transaction
incidents.py   findings grouped per workload and time window; states with who and when
archive.py     raw events by source and hour as zstd JSON lines; read back with DuckDB
auth.py        API tokens (only a hash stored) and roles viewer < analyst < admin (+ ingest)
metrics.py     Prometheus text format
api.py         FastAPI under /api/v1 (+ /healthz, /metrics)
server.py      the running service: uvicorn, the pipelines, retention
"""
