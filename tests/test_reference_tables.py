"""The option and keyword tables in the README, docs/reference.md and docs/job.md are the ones
the code generates (python -m constructs_lib options): a field or keyword added, renamed,
re-documented or given another default in constructs_lib shows up."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

from constructs_lib import (
    AlertOptions,
    CloudTasksToCloudRun,
    CloudTasksToCloudRunJob,
    DeadLetterOptions,
    InvokerServiceAccount,
    JobOptions,
    QueueOptions,
    ServiceOptions,
    TaskNameStoreOptions,
    TaskQueue,
    WorkerService,
)
from constructs_lib.reference import field_docs, param_docs, readme_blocks

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", ROOT / "docs" / "reference.md", ROOT / "docs" / "job.md")
BLOCK = re.compile(r"<!-- ((options|keywords):\w+) -->\n(.*?)<!-- /\2 -->", re.DOTALL)


def test_readme_and_reference_hold_every_generated_table_exactly_once():
    found = [(marker, body.strip()) for page in PAGES
             for marker, _, body in BLOCK.findall(page.read_text(encoding="utf-8"))]
    assert len(found) == len(dict(found)), "a table appears twice"
    assert dict(found) == readme_blocks(), (
        "run: python -m constructs_lib options, paste into README.md / docs/reference.md / docs/job.md")


def test_every_option_field_is_documented_once_in_the_code():
    for cls in (ServiceOptions, QueueOptions, JobOptions, DeadLetterOptions,
                TaskNameStoreOptions, AlertOptions):
        docs = field_docs(cls)
        assert set(docs) == {f.name for f in dataclasses.fields(cls)}, cls.__name__
        assert all(docs.values()), cls.__name__


def test_every_construct_keyword_is_documented_once_in_the_code():
    for cls in (WorkerService, TaskQueue, InvokerServiceAccount, CloudTasksToCloudRun,
                CloudTasksToCloudRunJob):
        keywords = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY]
        docs = param_docs(cls)
        assert list(docs) == keywords, cls.__name__
        assert all(meaning for meaning, _ in docs.values()), cls.__name__
