"""etl_project: AI-interview transcripts to a validated, hive-partitioned Parquet warehouse."""

__version__ = "0.1.0"
