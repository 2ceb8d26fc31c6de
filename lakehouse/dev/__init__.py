"""The local S3 server for development, and demo data."""

from lakehouse.dev.server import down, ensure_running, status, up

__all__ = ["down", "ensure_running", "status", "up"]
