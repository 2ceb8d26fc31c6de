"""`lake run --engine spark`: models as Spark SQL (transpile) and written by Spark onto the audit branch (write)."""
