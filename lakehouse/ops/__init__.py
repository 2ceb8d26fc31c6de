"""Operations that write tables: ingest, compaction, maintenance."""
