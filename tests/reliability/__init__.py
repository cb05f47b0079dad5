"""Quick runs of the reliability checks (``python -m reliability`` runs the long ones): the
only tests that import reliability/ (tests/test_layout.py)."""
