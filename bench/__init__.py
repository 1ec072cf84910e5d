"""Benchmarks: `python -m bench` (or `make bench`) runs every `bench/bench_*.py` and prints their tables.

Each module has a `main(argv)` that prints one table and returns 0. Run one alone with
`python -m bench.bench_<name>`. They read the real filings from EDGAR_CORPUS_DIR
(default ../shared/edgar-corpus).
"""
