"""ELT projects: model files, plans, runs with write-audit-publish, checks, lineage, provenance."""
