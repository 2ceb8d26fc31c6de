"""Spark on lake's tables: the local Spark environment (env) and the catalog settings for a profile (conf)."""
