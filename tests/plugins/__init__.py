"""Fixtures shared across test folders, as pytest plugins that tests/conftest.py registers
(``pytest_plugins``): tests request them by name and never import them."""
