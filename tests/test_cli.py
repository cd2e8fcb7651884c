import json
import subprocess
import sys

import pytest

from specops.cli import main


def test_list_shows_models_and_presets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fno-2d-darcy" in out and "tfno" in out
    assert "ns-fno-1e-3" in out and "darcy-fno" in out and "etdrk4" in out.lower()


def test_demo_quick_runs_the_whole_job(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    errors = {}
    for line in out.splitlines():
        if "(training resolution)" in line or "(zero-shot" in line:
            res, _, rest = line.strip().partition(" ")
            errors[res] = float(rest.split(":")[1].split(";")[0])
    assert set(errors) == {"darcy_32@32x32", "darcy_63@63x63"}, out
    # eight epochs on 160 samples already learn most of the Darcy map, at both grids
    assert errors["darcy_32@32x32"] < 0.2 and errors["darcy_63@63x63"] < 0.3, out
    run = tmp_path / "run"
    assert (run / "report.md").is_file() and (run / "results.json").is_file()
    assert any((run / "figures").glob("*.png"))
    # both comparisons with the built-in solver are reported, and a slower model is called slower
    timing = json.loads((run / "results.json").read_text())["operator"]["timing"]
    for name, t in timing.items():
        eq = t["solver_equal_accuracy"]
        assert eq["n_samples"] == 8 and eq["tried"], t
        if t["speedup"] < 1:
            assert f"{name}: the solver is faster than the model here" in out, out
        if eq["reached"] and t["speedup_equal_accuracy"] < 1:
            assert f"{name}: at equal accuracy the solver is faster than the model here" in out, out
        if eq["reached"]:
            assert eq["setting"]["rel_l2"] <= eq["target_rel_l2"]


def test_console_script_reports_errors_without_traceback():
    out = subprocess.run([sys.executable, "-m", "specops.cli", "nonsense"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--data", "d.h5", "--lr", "0"],
        ["finetune", "RUN", "--data", "d.h5", "--steps", "2", "--lr=-1e-3"],
        ["refine", "RUN", "--data", "d.h5", "--weight-lr", "abc"],
        ["train-noda", "--data", "d.h5", "--lr", "0"],
    ],
)
def test_a_learning_rate_that_is_not_positive_is_refused_naming_it(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "is not a positive number" in capsys.readouterr().err
