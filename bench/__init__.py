"""Benchmarks, run as modules from the repository root: ``python -m bench.synth``,
``python -m bench.worker``, ``python -m bench.enqueue`` (``make bench`` runs all three)."""
