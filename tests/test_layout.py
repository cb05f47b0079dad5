"""The rooms of the repository and which way their imports point.

product (constructs_lib, stacks, app, main.py) <- support <- bench, reliability, tests;
tests/reliability (the quick runs of the reliability checks) also imports reliability.
Read with ``ast`` from every ``.py`` file, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = {"tests", "bench", "reliability", "support"}

# room -> top-level packages it must never import
FORBIDDEN = {
    "constructs_lib": EVIDENCE,
    "stacks": EVIDENCE,
    "app": EVIDENCE,
    "main.py": EVIDENCE,
    "support": {"tests", "bench", "reliability"},
    "bench": {"tests", "reliability"},
    "reliability": {"tests", "bench"},
    "tests": {"bench", "reliability"},
}
EXCEPTIONS = {"tests/reliability": {"reliability"}}
"""Sub-rooms allowed one more import: the tests of the reliability checks import them."""


def python_files(room: str) -> list[Path]:
    path = ROOT / room
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def sys_path_edits(path: Path) -> list[int]:
    """Lines that change ``sys.path`` (``sys.path.insert/append/...`` or an assignment)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "path" and \
                isinstance(node.value, ast.Name) and node.value.id == "sys":
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_point_one_way(room: str) -> None:
    wrong = []
    for path in python_files(room):
        relative = path.relative_to(ROOT).as_posix()
        allowed = set().union(*(extra for sub, extra in EXCEPTIONS.items()
                                if relative.startswith(sub + "/")))
        forbidden = FORBIDDEN[room] - allowed
        wrong += [f"{relative}:{line} imports {package}"
                  for line, package in imported_packages(path) if package in forbidden]
    assert not wrong, "\n".join(wrong)


def test_every_python_room_is_listed() -> None:
    """A new top-level package gets a rule here before it can import anything."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages <= set(FORBIDDEN), sorted(packages - set(FORBIDDEN))


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_nothing_edits_sys_path(room: str) -> None:
    """Modules are run as modules from the repository root (``python -m bench.synth``)."""
    edits = [f"{path.relative_to(ROOT)}:{line}"
             for path in python_files(room) for line in sys_path_edits(path)]
    assert not edits, edits


def fixture_names(path: Path) -> set[str]:
    """Functions in ``path`` decorated with ``pytest.fixture`` (called or not)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and target.attr == "fixture":
                    names.add(node.name)
    return names


def test_fixtures_are_requested_by_name_never_imported() -> None:
    """One way to share fixtures: conftest.py and the plugins tests/conftest.py registers.
    Tests import plain helpers only: nothing from a conftest or another test module, and no
    fixture."""
    wrong = []
    for path in python_files("tests"):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module):
                continue
            module = node.module if node.level == 0 else None
            leaf = node.module.split(".")[-1]
            # an underscore module beside the tests (``from _emulator import ...``)
            beside = node.level > 0 or ("." not in node.module and node.module != "__future__")
            if leaf == "conftest" or leaf.startswith("test_") or (beside and leaf.startswith("_")):
                wrong.append(f"{relative}:{node.lineno} imports {node.module}")
            elif module and module.startswith("tests."):
                source = ROOT / (module.replace(".", "/") + ".py")
                imported = {alias.name for alias in node.names} & fixture_names(source)
                wrong += [f"{relative}:{node.lineno} imports the fixture {name}"
                          for name in sorted(imported)]
    assert not wrong, "\n".join(wrong)


def test_the_rules_catch_a_wrong_import(tmp_path: Path) -> None:
    """The checker itself: a product-style module importing the support package is found."""
    module = tmp_path / "module.py"
    module.write_text("import os\nfrom support.tokens import make_key\n\n"
                      "def f():\n    import tests.x\n")
    assert imported_packages(module) == [(1, "os"), (2, "support"), (5, "tests")]
    module.write_text("import sys\nsys.path.insert(0, '.')\n")
    assert sys_path_edits(module) == [2]
    module.write_text("import pytest\n\n@pytest.fixture(scope='session')\ndef a():\n    pass\n\n"
                      "@pytest.fixture\ndef b():\n    pass\n\ndef c():\n    pass\n")
    assert fixture_names(module) == {"a", "b"}
