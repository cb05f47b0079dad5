"""What the worker image holds, read from app/Dockerfile and app/requirements.txt (no Docker
engine here): its instructions, its exact pins, the files it copies, and a path holding only
the pinned distributions' files (to run the image's code without the test environment)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

APP = Path(__file__).resolve().parents[2] / "app"
DOCKERFILE = (APP / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def instructions(keyword: str) -> list[str]:
    return [line[len(keyword) :].strip() for line in INSTRUCTIONS if line.upper().startswith(keyword + " ")]


def pins() -> dict[str, str]:
    result = {}
    for line in (APP / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", line)
            assert match, f"not an exact pin: {line!r}"
            result[canonicalize_name(match.group(1))] = match.group(2)
    return result


def image_files() -> list[Path]:
    """Every file the image's COPY instructions take from the build context."""
    files = []
    for copy in instructions("COPY"):
        source = APP.parent / copy.split()[0]
        files += sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    return [file for file in files if "__pycache__" not in file.parts]


def pinned_site(directory: Path) -> Path:
    """``directory/site``: symlinks to the files of the pinned distributions only, no
    site-packages (what ``pip install --no-deps -r app/requirements.txt`` puts in the image)."""
    site = directory / "site"
    for name in pins():
        distribution = metadata.distribution(name)
        for file in distribution.files or []:
            if file.parts[0] == ".." or file.suffix == ".pyc":
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.symlink_to(Path(distribution.locate_file(file)).resolve())
    return site
