"""`make bench`: the pipeline's ingest, export and query figures beside what raw DuckDB does on the same data.

Run `python -m benchmarks.run --help`. Results go to `benchmarks/results/latest.json` and `docs/benchmarks.md`.
"""
