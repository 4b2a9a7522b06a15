"""Item pipelines: stamp captures on items, spool them idempotently."""
