"""Every relative link in the README and docs/ reaches a file (and a heading, with an anchor),
and every repository path they name in backticks exists: a file moved or a heading renamed
shows up here, not in a reader's 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_LEVEL = ("app/", "constructs_lib/", "stacks/", "tests/", "bench/", "reliability/",
             "support/", "tools/", "docs/", ".ci/", ".github/")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
CODE = re.compile(r"`[^`\n]+`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text("utf-8"))
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.MULTILINE)}


def prose(page: Path) -> str:
    return CODE.sub("", FENCE.sub("", page.read_text("utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_reaches_a_file_and_heading(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(page)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_repository_path_named_exists(page):
    text = FENCE.sub("", page.read_text("utf-8"))
    missing = []
    for name in re.findall(r"`([^`\s]+)`", text):
        path = name.split("::")[0]
        if (path.startswith(TOP_LEVEL) and not re.search(r"[<*{$]", path)
                and re.search(r"(\.(py|md|toml|txt|json|sh|js|yml)|/)$", path)
                and not (ROOT / path).exists()):
            missing.append(name)
    assert not missing
