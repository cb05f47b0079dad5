"""Shared test set-up: quiet jsii, one snapshot folder per framework, and the fixture plugins
every folder can use (tests/plugins/; a folder's own fixtures are in its conftest.py)."""

import os

from tests.frameworks import SNAPSHOT_DIRNAMES, framework_name

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

pytest_plugins = ["tests.plugins.worker", "tests.plugins.emulator", "tests.plugins.storage"]


def pytest_configure(config):
    if config.option.snapshot_dirname == "__snapshots__":  # syrupy's default: not asked for
        config.option.snapshot_dirname = SNAPSHOT_DIRNAMES[framework_name()]
