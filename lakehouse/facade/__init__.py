"""The `Lakehouse` facade, one file per group of methods; `lakehouse.lake.Lakehouse` combines them."""
