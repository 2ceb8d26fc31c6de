"""Reading tables: SQL rewriting of table names to snapshot scans, and pushdown rules."""
