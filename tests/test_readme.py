"""The README's Python examples marked ``<!-- readme-test -->`` run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test -->\s*```python\n(.*?)```", re.DOTALL)
EXAMPLES = BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(index, tmp_path):
    # The jsii kernel keeps the working directory it started in, so the only change made
    # to an example is where its App writes.
    source = EXAMPLES[index].replace("cdktf.App()", f"cdktf.App(outdir={str(tmp_path)!r})")
    code = compile(source, f"README.md example {index + 1}", "exec")
    exec(code, {"__name__": f"readme_example_{index}"})  # noqa: S102 - our own docs
    if "app.synth()" in EXAMPLES[index]:
        assert list(tmp_path.glob("stacks/*/cdk.tf.json"))
