"""The command line: complete outputs, same seed same numbers, bad input exits 2 with nothing written."""
import json, subprocess, sys
from pathlib import Path
import pytest
from bimaml_nb.experiments import main, strip_timings

BIN = str(Path(sys.executable).parent / "bimaml-nb")
QUICK = ["reproduce", "--quick", "--only", "synthetic_regression", "diabetes", "fig1"]

def test_quick_run_writes_complete_outputs_and_repeats_exactly(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    main(QUICK + ["--out", str(a), "--seed", "4"]); main(QUICK + ["--out", str(b), "--seed", "4"])
    for d in (a, b):
        assert sorted(p.name for p in d.iterdir()) == ["eps0.png", "fig1.png", "fig2.png", "results.json", "results.md"]
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a, b))
    assert set(ra["fig2"]) == {"synthetic_regression", "diabetes"} and ra["fig1"]["nonconvex_intervals"] > 0
    assert ra["choices"]["diabetes"]["scaling"] == "standardise" and ra["versions"]["numpy"]
    assert len(ra["claims"]) == 4 and all(r["verdict"] in ("holds", "partly", "does not hold") for r in ra["claims"])
    assert strip_timings(ra) == strip_timings(rb)
    md = (a / "results.md").read_text()
    assert "| claim | paper | ours | verdict |" in md and "Beyond 50" in md

@pytest.mark.parametrize("args, message", [
    (["reproduce", "--only", "cifar"], "invalid choice"),
    (["reproduce", "--seed", "-1"], "seed must be an integer >= 0"),
    (["reproduce", "--seed", "x"], "seed must be an integer >= 0"),
])
def test_bad_arguments_exit_2(tmp_path, args, message):
    out = tmp_path / "out"
    p = subprocess.run([BIN, *args, "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and message in p.stderr
    assert not out.exists() or not any(out.iterdir())

def test_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file"; blocker.write_text("not a folder")
    p = subprocess.run([BIN, "reproduce", "--quick", "--out", str(blocker / "sub")], capture_output=True, text=True)
    assert p.returncode == 2 and "not a writable folder" in p.stderr
    assert blocker.read_text() == "not a folder"

def test_help_explains_every_option():
    p = subprocess.run([BIN, "reproduce", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and all(o in p.stdout for o in ("--only", "--out", "--seed", "--quick"))
