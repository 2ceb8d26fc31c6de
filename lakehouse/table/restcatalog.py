"""pyiceberg's REST catalog, noting where each table it hands out lives and what keys came with it.

With a warehouse given as a name (`warehouse: lakewh`), only the catalog knows where tables are: the
location of every table loaded or created is kept (`locations`), so the facade can allow exactly
those in a locked DuckDB (`allowed_directories`). Keys the catalog vends with a table (its IO
properties differ from the profile's) go to `io.vended`, scoped to the table's location, and
`refresh_expiring` loads again the tables whose keys are about to expire.
"""

from __future__ import annotations

import threading
from typing import Any

from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.update import TableRequirement, TableUpdate

from lakehouse.io import vended

_KEYS = ("s3.access-key-id", "s3.secret-access-key", "s3.session-token")


class LakeRestCatalog(RestCatalog):
    """A RestCatalog whose tables' locations and vended keys are noted as they arrive."""

    checks_lake_requirements = True  # producers.require stages lake's own requirements for commit_table

    def __init__(self, name: str, **properties: str) -> None:
        self.locations: dict[str, tuple[str, ...]] = {}  # location -> the table identifier there
        self._notes = threading.Lock()
        super().__init__(name, **properties)

    def load_table(self, identifier: str | tuple[str, ...]) -> Table:
        return self._noted(super().load_table(identifier))

    def create_table(self, *args: Any, **kwargs: Any) -> Table:
        return self._noted(super().create_table(*args, **kwargs))

    def register_table(self, *args: Any, **kwargs: Any) -> Table:
        return self._noted(super().register_table(*args, **kwargs))

    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        """lake's own requirements (`lake-assert-*`: a rollback's target still live, an expiry's snapshots
        untagged) are not in the REST protocol: a server ignores them (SeaweedFS) or refuses the whole
        commit. They are checked here against the catalog's current metadata just before the commit and
        left out of it: not one step with the swap as on a SQL catalog, but the race window shrinks to
        one round trip. A failed check raises CommitFailedException, so the retry loop says why."""
        ours = tuple(r for r in requirements if str(getattr(r, "type", "")).startswith("lake-"))
        if ours:
            current = super().load_table(table.name()).metadata
            for requirement in ours:
                requirement.validate(current)
            requirements = tuple(r for r in requirements if r not in ours)
        return super().commit_table(table, requirements, updates)

    def _noted(self, table: Table) -> Table:
        location = table.metadata.location
        with self._notes:
            self.locations[location] = table.name()
        io = table.io.properties
        if any(io.get(k) and io.get(k) != self.properties.get(k) for k in _KEYS):
            vended.remember(location, io)
        else:
            vended.forget(location, io.get("s3.endpoint"))
        return table

    def refresh_expiring(self) -> None:
        """Load again every table whose vended keys expire within `vended.REFRESH_MARGIN`."""
        for location, identifier in list(self.locations.items()):
            found = vended.vended_for(location, self.properties.get("s3.endpoint"))
            if found is not None and found.expiring():
                self.load_table(identifier)
