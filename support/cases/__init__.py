"""Case tables as data, run case by case by ``tests/infra`` and counted by ``python -m
reliability`` for docs/RELIABILITY.md."""
