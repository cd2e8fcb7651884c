import subprocess
import sys

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
    assert set(errors) == {"32x32", "63x63"}, out
    # eight epochs on 160 samples already learn most of the Darcy map, at both grids
    assert errors["32x32"] < 0.2 and errors["63x63"] < 0.3, out
    run = tmp_path / "run"
    assert (run / "report.md").is_file() and (run / "results.json").is_file()
    assert any((run / "figures").glob("*.png"))
    assert "solver" in out  # the speed comparison against the built-in solver is reported


def test_console_script_reports_errors_without_traceback():
    out = subprocess.run([sys.executable, "-m", "specops.cli", "nonsense"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr
