"""Another engine's writes: positional delete files written with pyarrow and committed with pyiceberg.

pyiceberg 0.12 has no merge-on-read delete (`delete()` falls back to copy-on-write), so the delete
file is written here by hand, and a fast append is pointed at a DELETES manifest.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestContent, ManifestWriterV2
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation
from pyiceberg.typedef import Record

from conformance.manifests import DATA, live_entries
from conformance.storage import filesystem, read_parquet
from lakehouse.core.config import Profile

FILE_PATH_ID, POS_ID = 2147483546, 2147483545


class _DeleteManifestWriter(ManifestWriterV2):
    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


def delete_rows(profile: Profile, table: Table, ids: set[int]) -> int:
    """Delete the rows with these ids through positional delete files; returns how many positions."""
    schema = pa.schema(
        [
            pa.field(
                "file_path",
                pa.string(),
                nullable=False,
                metadata={b"PARQUET:field_id": str(FILE_PATH_ID).encode()},
            ),
            pa.field("pos", pa.int64(), nullable=False, metadata={b"PARQUET:field_id": str(POS_ID).encode()}),
        ]
    )
    snapshot = table.current_snapshot()
    assert snapshot is not None
    files = []
    for e in live_entries(profile, snapshot.manifest_list):
        if e.content != DATA:
            continue
        data_ids = read_parquet(profile, e.path).column("id").to_pylist()
        positions = [i for i, v in enumerate(data_ids) if v in ids]
        if not positions:
            continue
        path = f"{table.location().rstrip('/')}/data/deletes-{uuid.uuid4().hex}.parquet"
        fs, inner = filesystem(profile, path)
        fs.create_dir(inner.rsplit("/", 1)[0], recursive=True)
        deletes = pa.table({"file_path": [e.path] * len(positions), "pos": positions}, schema=schema)
        pq.write_table(deletes, inner, filesystem=fs)
        size = fs.get_file_info(inner).size
        df = DataFile.from_args(
            content=DataFileContent.POSITION_DELETES, file_path=path, file_format=FileFormat.PARQUET,
            partition=Record(*e.partition.values()), record_count=len(positions), file_size_in_bytes=size,
        )  # fmt: skip
        df.spec_id = e.spec_id
        files.append(df)
    with table.transaction() as tx:
        producer = tx.update_snapshot().fast_append()
        producer._operation = Operation.DELETE
        producer.new_manifest_writer = lambda spec: _DeleteManifestWriter(  # type: ignore[method-assign]
            spec,
            producer.schema(),
            producer.new_manifest_output(),
            producer._snapshot_id,
            producer._compression,
        )
        with producer:
            for df in files:
                producer.append_data_file(df)
    return sum(f.record_count for f in files)
