"""Evaluation and training code for the theme flags (not part of the pipeline: nothing in
``etl_project/lib`` or ``etl_project/defs`` imports it)."""
