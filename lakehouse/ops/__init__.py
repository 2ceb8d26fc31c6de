"""Operations that write tables: ingest, compaction, and maintenance (expire, gc, manifests, maintain, drop)."""
