"""The floor: read every raw file's bytes and write them as one Parquet string column
(row group by row group, so that 500,000 transcripts fit Parquet's 2 GiB column chunks).

No parsing, repair or splitting: the least any pipeline over these files must
do (read them all, validate the UTF-8 once in C++, write Parquet with the same
zstd compression the warehouse uses). The core is reported as a multiple of it.

Run: ``python -m bench.floor RAW_DIR OUT_DIR`` -> ``OUT_DIR/raw.parquet``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


GROUP_BYTES = 512 * 2**20  # one row group per this many bytes of files: a Parquet column chunk must stay under 2 GiB


def groups(paths: list[Path]) -> list[list[Path]]:
    out: list[list[Path]] = [[]]
    size = 0
    for p in paths:
        n = p.stat().st_size
        if out[-1] and size + n > GROUP_BYTES:
            out.append([])
            size = 0
        out[-1].append(p)
        size += n
    return out


def main(raw_dir: str, out_dir: str) -> int:
    paths = sorted(p for p in Path(raw_dir).rglob("*") if p.is_file())
    os.makedirs(out_dir, exist_ok=True)
    schema = pa.schema([("path", pa.string()), ("content", pa.large_string())])
    total = 0
    with pq.ParquetWriter(os.path.join(out_dir, "raw.parquet"), schema, compression="zstd") as writer:
        for group in groups(paths):
            contents = pa.array([p.read_bytes() for p in group], type=pa.large_binary()).cast(pa.large_string())
            total += contents.nbytes
            writer.write_table(pa.table({"path": pa.array([str(p) for p in group]), "content": contents}, schema=schema))
    print(f"{len(paths)} files, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
