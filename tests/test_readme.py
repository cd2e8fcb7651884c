"""The README's Python example runs as written (on a small Darcy file under the name it uses)."""

import re
from pathlib import Path

import torch

from specops.data.generate import generate_dataset
from specops.solvers.problems import make_problem

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    section = text[text.index("## In Python: train on a file") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_training_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    generate_dataset(
        make_problem("darcy", resolution=16, upsample=1), 20, tmp_path / "darcy32.h5", progress=False
    )
    code = _example().replace("epochs=20", "epochs=2")
    assert len([line for line in code.splitlines() if line.strip()]) <= 11
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    u = namespace["u"]
    assert u.shape == (1, 1, 16, 16) and torch.isfinite(u).all()
    assert (tmp_path / "runs" / "py" / "checkpoints" / "last.pt").is_file()
