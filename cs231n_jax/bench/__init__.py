"""Compile-time / step-time benchmarks (lecture 8): the harness and the studies.

``cs231n-jax bench STUDY --out DIR`` runs one study (or ``all``) and writes JSON records
(``records.jsonl``), a markdown table per study and PNG plots into DIR. See ``docs/benchmarks.md``.
"""
