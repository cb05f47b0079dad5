"""Reference tables for the README, built from the code so they cannot drift.

Each option object documents a field with the string right under it; this module reads
those strings (``ast``) and the defaults (``dataclasses``) and writes one Markdown table per
class. ``python -m constructs_lib options`` prints them; a test checks the README holds
exactly these tables between its ``<!-- options:Name -->`` markers.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from typing import Any

from .options import (
    AlertOptions,
    DeadLetterOptions,
    JobOptions,
    QueueOptions,
    SecretEnv,
    ServiceOptions,
    StartupProbe,
    TaskNameStoreOptions,
)

DOCUMENTED = (ServiceOptions, QueueOptions, SecretEnv, StartupProbe, JobOptions,
              DeadLetterOptions, TaskNameStoreOptions, AlertOptions)


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under it in the class body."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            text = " ".join(following.value.value.split())
            # the table has a default column; Markdown wants single backticks
            text = re.sub(r"\s*Default:.*$", "", text).replace("``", "`")
            docs[statement.target.id] = text
    return docs


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        return f"`{field.default!r}`"
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = field.default_factory()  # type: ignore[misc]
        return "none" if value in ({}, [], ()) else f"`{value!r}`"
    return "required"


def options_table(cls: type) -> str:
    """``| keyword | default | meaning |`` for every field of ``cls``."""
    docs = field_docs(cls)
    lines = ["| keyword | default | meaning |", "|---|---|---|"]
    for field in dataclasses.fields(cls):
        meaning = docs.get(field.name, "")
        lines.append(f"| `{field.name}` | {_default(field)} | {meaning} |")
    return "\n".join(lines)


def readme_blocks() -> dict[str, str]:
    """Marker name -> table, for every documented class."""
    return {cls.__name__: options_table(cls) for cls in DOCUMENTED}
