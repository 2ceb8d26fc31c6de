"""Foundations: settings, sizes, types and SQL quoting, Hive folder names. No I/O beyond reading a file."""
