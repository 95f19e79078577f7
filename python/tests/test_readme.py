"""The README's Python examples run as written (every ```python block of README.md, in order, in one
namespace, from the repository root), so they cannot rot."""

import os
import re

from conftest import REPO


def test_readme_python_examples_run(assets, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 2, "the README's Python section is gone"
    monkeypatch.chdir(REPO)
    # The examples read a sweep's results: give them a small real one.
    results = tmp_path / "quick.jsonl"
    import subprocess

    from conftest import build_dir

    subprocess.run([str(build_dir() / "kvlab"), "sweep", "configs/quick.toml", "--out", str(results),
                    "--stop-after", "3"], check=True, capture_output=True)
    monkeypatch.setenv("KVLAB_RESULTS", str(results))
    namespace = {}
    for block in blocks:
        exec(compile(block.replace("results/quick.jsonl", os.environ["KVLAB_RESULTS"]), "README.md", "exec"),
             namespace)
