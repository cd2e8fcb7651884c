import subprocess
import sys

from specops.cli import main


def test_list_shows_models_and_presets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fno-2d-darcy" in out and "tfno" in out


def test_demo_learns_the_operator_and_generalises_to_a_finer_grid(capsys):
    assert main(["demo", "--steps", "150"]) == 0
    out = capsys.readouterr().out
    errs = [float(line.split(":")[-1]) for line in out.splitlines() if line.startswith("test relative L2")]
    assert len(errs) == 2
    assert errs[0] < 0.1 and errs[1] < 0.1, out


def test_console_script_reports_errors_without_traceback():
    out = subprocess.run([sys.executable, "-m", "specops.cli", "nonsense"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr
