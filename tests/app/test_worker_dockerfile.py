"""The worker image, checked by reading its files (no Docker engine here) and by running the
worker with nothing but the image's pinned packages on the path."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.processes import free_port, stop_process
from tests.app.image import APP, INSTRUCTIONS, image_files, instructions, pinned_site, pins


def test_base_image_is_a_pinned_slim_python_311():
    (base,) = instructions("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?", base), base


def test_runs_as_a_non_root_user():
    users = instructions("USER")
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # USER comes after the last RUN, so nothing later runs as root.
    last_user = max(i for i, line in enumerate(INSTRUCTIONS) if line.upper().startswith("USER "))
    last_run = max(i for i, line in enumerate(INSTRUCTIONS) if line.upper().startswith("RUN "))
    assert last_user > last_run


def test_listens_on_port_from_the_environment():
    env = " ".join(instructions("ENV"))
    assert re.search(r"\bPORT=8080\b", env)
    (cmd,) = instructions("CMD")
    assert cmd.startswith("exec uvicorn app.worker.main:app ")
    assert '--port "${PORT:-8080}"' in cmd
    assert "--host 0.0.0.0" in cmd
    log_config = cmd.split("--log-config ", 1)[1].split()[0]
    assert (APP.parent / log_config).is_file()
    assert "PYTHONUNBUFFERED=1" in env  # log lines reach Cloud Logging at once


def test_image_holds_only_the_worker_and_its_pinned_requirements():
    copies = instructions("COPY")
    sources = [copy.split()[0] for copy in copies]
    # app/job/: the job entrypoint (python -m app.job) runs the worker's handlers from this image.
    assert sources == ["app/requirements.txt", "app/__init__.py", "app/worker/", "app/job/"]
    (install, *_) = [run for run in instructions("RUN") if "pip install" in run]
    assert "--no-deps" in install and "-r /srv/app/requirements.txt" in install


def test_dockerignore_is_an_allow_list():
    lines = [
        line.strip()
        for line in (APP / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!app/__init__.py", "!app/requirements.txt", "!app/worker/", "!app/job/"} <= set(lines)


def test_image_ships_no_test_or_evidence_code():
    """Nothing from tests/, support/, bench/ or reliability/ is copied, no test helper module
    hides under app/worker/ or app/job/, and every first-party import in the image resolves to
    a file the image holds."""
    repo = APP.parent
    shipped = {file.relative_to(repo).as_posix() for file in image_files()}
    assert "app/worker/main.py" in shipped and "app/job/main.py" in shipped
    assert not {path for path in shipped if path.split("/")[0] in {"tests", "support", "bench", "reliability"}}
    assert not {path for path in shipped if Path(path).name in {"testing.py", "conftest.py"}
                or Path(path).name.startswith("test_")}
    for path in sorted(p for p in shipped if p.endswith(".py")):
        for node in ast.walk(ast.parse((repo / path).read_text())):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for module in modules:
                top = module.split(".")[0]
                assert top not in {"tests", "support", "bench", "reliability", "constructs_lib", "stacks"}, (path, module)
                if top == "app":
                    as_path = module.replace(".", "/")
                    assert {f"{as_path}.py", f"{as_path}/__init__.py"} & shipped, f"{path} imports {module}, not in the image"


def test_requirements_are_exact_pins_matching_the_tested_versions():
    for name, version in pins().items():
        assert metadata.version(name) == version, f"{name}: image pins {version}, tests ran {metadata.version(name)}"
    assert {"fastapi", "uvicorn", "google-auth", "cryptography", "pydantic", "orjson"} <= set(pins())
    # requests is there only for google-cloud-storage (the stores); certificates are fetched with urllib.
    assert "requests" in pins() and any(r.startswith("requests") for r in metadata.requires("google-cloud-storage"))
    assert "import requests" not in (APP / "worker" / "certs.py").read_text()


def test_requirements_are_a_complete_closure():
    pinned = pins()
    environment = default_environment()
    environment["extra"] = ""
    for name in pinned:
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in pinned, f"{name} needs {requirement.name}, which is not pinned"
            assert requirement.specifier.contains(pinned[dependency], prereleases=True), (name, spec)


def test_worker_runs_with_only_the_pinned_packages(tmp_path):
    """Mirror the image: a path holding just the pinned distributions' files, no site-packages."""
    site = pinned_site(tmp_path)
    port = free_port()
    # The image's own command line, with a loopback host and a free port.
    (cmd,) = instructions("CMD")
    argv = shlex.split(cmd.removeprefix("exec "))
    argv = [{"0.0.0.0": "127.0.0.1", "${PORT:-8080}": str(port)}.get(arg, arg) for arg in argv]
    assert argv[0] == "uvicorn"
    code = (
        "import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[2]]; sys.argv = json.loads(sys.argv[3]); "
        "from uvicorn.main import main; main()"
    )
    env = {"PATH": os.environ.get("PATH", ""), "WORKER_AUTH": "disabled", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "isolated.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", code, str(site), str(APP.parent), json.dumps(argv)],
            cwd=APP.parent,  # the image's WORKDIR holds app/, like the repository root
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text()
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/tasks",
                    data=b'{"kind":"send_email","data":{"to":["ada@example.com"],"subject":"hi"}}',
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=2) as response:
                    assert json.loads(response.read())["status"] == "done"
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"isolated worker did not answer:\n{log.read_text()}")
                time.sleep(0.1)
        # The token path (google-auth + cryptography) must import in isolation too.
        check = subprocess.run(
            [sys.executable, "-I", "-S", "-c",
             "import sys; sys.path[:0] = [sys.argv[1]]; "
             "from google.auth.crypt import RSAVerifier; from cryptography import x509; print('ok')",
             str(site)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert check.stdout.strip() == "ok", check.stderr
    finally:
        stop_process(process, timeout=10)
    # Every line the container writes is a Cloud Logging JSON record, uvicorn's included.
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert {"uvicorn.error", "app.worker", "app.worker.tasks"} <= {r["logger"] for r in records}
    assert all("severity" in r and "message" in r for r in records)


