"""Benchmark of the etl_project core against a naive script and an I/O floor (``make bench``).

Modules:

* :mod:`bench.generate` -- seeded, offline synthetic corpus (resampled real turns + damage);
* :mod:`bench.naive`    -- the baseline script a typical analyst writes (pandas + ftfy + re);
* :mod:`bench.floor`    -- read the raw bytes, write one Parquet string column;
* :mod:`bench.worker`   -- one measured run (core / naive / floor) in its own process;
* :mod:`bench.compare`  -- core-vs-naive output comparison (fails loudly on real differences);
* :mod:`bench.run`      -- the driver: generate, run interleaved and repeated, report.
"""
