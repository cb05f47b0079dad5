"""Shared test and evidence helpers: key material and tokens, the worker load generator,
process checks, and the case tables both the tests and ``python -m reliability`` run.

Used by ``tests/``, ``bench/`` and ``reliability/`` only: the product (``constructs_lib``,
``stacks``, ``app``) never imports it (tests/test_layout.py) and the worker image never
copies it (tests/app/test_worker_dockerfile.py).
"""
