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

from .cloud_tasks_to_cloud_run import CloudTasksToCloudRun
from .cloud_tasks_to_cloud_run_job import CloudTasksToCloudRunJob
from .invoker_service_account import InvokerServiceAccount
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
from .task_queue import TaskQueue
from .worker_service import WorkerService

DOCUMENTED = (ServiceOptions, QueueOptions, SecretEnv, StartupProbe, JobOptions,
              DeadLetterOptions, TaskNameStoreOptions, AlertOptions)
CONSTRUCTS = (WorkerService, TaskQueue, InvokerServiceAccount, CloudTasksToCloudRun,
              CloudTasksToCloudRunJob)
_PARAM = re.compile(r"^:param (\w+):(.*?)(?=^:param |\Z)", re.DOTALL | re.MULTILINE)


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under it in the class body."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for statement, following in zip(body, body[1:], strict=False):
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
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
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


def param_docs(cls: type) -> dict[str, tuple[str, str | None]]:
    """Keyword -> (meaning, the ``Default:`` text or None), from ``:param`` lines of
    ``cls.__init__``'s docstring."""
    docs = {}
    for name, text in _PARAM.findall(inspect.getdoc(vars(cls)["__init__"]) or ""):
        text = " ".join(text.split()).replace("``", "`")
        text = re.sub(r":class:`(\w+)`", r"`\1`", text)
        meaning, _, default = text.partition("Default:")
        docs[name] = (meaning.strip(), default.strip().rstrip(".") or None)
    return docs


def keywords_table(cls: type) -> str:
    """``| keyword | default | meaning |`` for every keyword of ``cls(scope, id_, ...)``.

    A literal default comes from the signature (the code that runs); a derived one (the
    signature says None or empty) from the docstring's ``Default:``."""
    docs = param_docs(cls)
    lines = ["| keyword | default | meaning |", "|---|---|---|"]
    for param in inspect.signature(vars(cls)["__init__"]).parameters.values():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        meaning, documented = docs.get(param.name, ("", None))
        if param.default is inspect.Parameter.empty:
            default = "required"
        elif param.default not in (None, ()):
            default = f"`{param.default!r}`"
        else:
            default = documented or "none"
        lines.append(f"| `{param.name}` | {default} | {meaning} |")
    return "\n".join(lines)


def readme_blocks() -> dict[str, str]:
    """Marker (``options:Name``, ``keywords:Name``) -> table, for every documented class."""
    blocks = {f"options:{cls.__name__}": options_table(cls) for cls in DOCUMENTED}
    blocks.update({f"keywords:{cls.__name__}": keywords_table(cls) for cls in CONSTRUCTS})
    return blocks
