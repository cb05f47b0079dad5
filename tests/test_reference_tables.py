"""The README's option tables are the ones the code generates (python -m constructs_lib
options): a field added, renamed or re-documented in constructs_lib/options.py shows up."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from constructs_lib import (
    AlertOptions,
    DeadLetterOptions,
    JobOptions,
    QueueOptions,
    ServiceOptions,
    TaskNameStoreOptions,
)
from constructs_lib.reference import field_docs, readme_blocks

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- options:(\w+) -->\n(.*?)<!-- /options -->", re.DOTALL)


def test_readme_holds_every_generated_table_exactly():
    found = {name: body.strip() for name, body in BLOCK.findall(README.read_text())}
    assert found == readme_blocks(), "run: python -m constructs_lib options, paste into README"


def test_every_option_field_is_documented_once_in_the_code():
    for cls in (ServiceOptions, QueueOptions, JobOptions, DeadLetterOptions,
                TaskNameStoreOptions, AlertOptions):
        docs = field_docs(cls)
        assert set(docs) == {f.name for f in dataclasses.fields(cls)}, cls.__name__
        assert all(docs.values()), cls.__name__
