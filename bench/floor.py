"""The floor: read every raw file's bytes and write them as one Parquet string column.

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


def main(raw_dir: str, out_dir: str) -> int:
    paths = sorted(p for p in Path(raw_dir).rglob("*") if p.is_file())
    contents = pa.array([p.read_bytes() for p in paths], type=pa.large_binary()).cast(pa.large_string())
    table = pa.table({"path": pa.array([str(p) for p in paths]), "content": contents})
    os.makedirs(out_dir, exist_ok=True)
    pq.write_table(table, os.path.join(out_dir, "raw.parquet"), compression="zstd")
    print(f"{len(paths)} files, {contents.nbytes} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
