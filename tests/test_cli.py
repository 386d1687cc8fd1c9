"""The command line: complete outputs, same seed same numbers, only what it wrote, clean stops, bad input exits 2 with nothing written."""
import json, os, signal, subprocess, sys, time
from bimaml_nb.experiments import VERDICTS
from pathlib import Path
import pytest
from bimaml_nb.cli import main, strip_timings, clean_partials, ALL

BIN = str(Path(sys.executable).parent / "bimaml-nb")
QUICK = ["reproduce", "--quick", "--jobs", "1"]

def _refuse(c): raise ValueError(f"non-strict JSON constant {c}")

def test_quick_run_writes_complete_outputs_and_repeats_exactly(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b): main(QUICK + ["--only", "synthetic_regression", "diabetes", "fig1", "--out", str(d), "--seeds", "4"])
    for d in (a, b):
        assert sorted(p.name for p in d.iterdir()) == ["eps0.png", "fig1.png", "fig2.png", "results.json", "results.md"]
    ra, rb = (json.loads((d / "results.json").read_text(), parse_constant=_refuse) for d in (a, b))
    assert set(ra["choices"]) == {"synthetic_regression", "diabetes"} and ra["fig1"]["nonconvex_intervals"] > 0
    assert ra["choices"]["diabetes"]["scaling"] == "standardise" and ra["versions"]["numpy"]
    assert all(r["verdict"] in VERDICTS for r in ra["claims"])
    assert strip_timings(ra) == strip_timings(rb)
    md = (a / "results.md").read_text()
    assert md.index("| claim |") < md.index("## The same claims under the other choices")  # results.md leads with the claims table

def test_results_json_is_strict(tmp_path):
    out = tmp_path / "o"
    main(QUICK + ["--only", "synthetic_regression", "--out", str(out)])
    text = (out / "results.json").read_text()
    res = json.loads(text, parse_constant=_refuse)  # the old writer put bare Infinity here (the ε₀ sweep's c = ∞)
    assert "Infinity" not in text and "NaN" not in text
    assert "inf" in [r["c"] for r in res["eps0_sweep"]["synthetic_regression"]]

def test_only_writes_and_claims_only_its_files(tmp_path, capsys):
    out = tmp_path / "o"
    main(QUICK + ["--only", "synthetic_regression", "fig1", "--out", str(out)])
    capsys.readouterr()
    main(QUICK + ["--only", "fig1", "--out", str(out)])
    said = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    assert res["files"] == ["fig1.png", "results.json", "results.md"]
    assert sorted(p.name for p in out.iterdir()) == res["files"]  # the first run's fig2.png and eps0.png are gone
    assert "fig2.png" not in said and "eps0.png" not in said

def test_user_files_in_out_are_kept(tmp_path):
    out = tmp_path / "o"; out.mkdir(); (out / "notes.txt").write_text("mine")
    main(QUICK + ["--only", "fig1", "--out", str(out)])
    assert (out / "notes.txt").read_text() == "mine"

def test_sigterm_leaves_nothing_and_says_one_line(tmp_path):
    out = tmp_path / "o"
    p = subprocess.Popen([BIN, "reproduce", "--jobs", "1", "--seeds", "0-29", "--only", "synthetic_regression", "diabetes", "--out", str(out)],  # ~25 s quiet: the signal lands mid-run
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):  # wait until the run is under way
        if p.poll() is not None or (out.exists()): break
        time.sleep(0.05)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "SIGTERM" in err
    assert not list(out.glob(".partial-*")) and not (out / "results.json").exists()

def test_a_later_run_removes_what_a_killed_one_left(tmp_path):
    out = tmp_path / "o"; out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"]); dead.wait()
    stale = out / f".partial-{dead.pid}-abc"; stale.mkdir(); (stale / "fig2.png").write_text("half")
    live = out / f".partial-{os.getpid()}-xyz"; live.mkdir()  # a running process's folder is left alone
    assert clean_partials(out) == [stale.name] and live.exists()
    live.rmdir(); stale.mkdir(); main(QUICK + ["--only", "fig1", "--out", str(out)])
    assert not list(out.glob(".partial-*"))

def test_version():
    from bimaml_nb import __version__
    p = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == f"bimaml-nb {__version__}"

def test_help_starts_without_heavy_imports():
    code = ("import sys\nfrom bimaml_nb.cli import main\ntry: main(['reproduce', '--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('matplotlib', 'sklearn', 'mlxtend', 'joblib') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "[]", p.stdout + p.stderr
    assert all(o in p.stdout for o in ("--only", "--out", "--seeds", "--quick", "--jobs", "--scheduler"))

@pytest.mark.parametrize("args, message", [
    (["reproduce", "--only", "cifar"], "invalid choice"),
    (["reproduce", "--seeds", "-1"], "seeds must be integers >= 0"),
    (["reproduce", "--seed", "x"], "--seed takes one integer >= 0"),
    (["reproduce", "--seeds", "3-1"], "seeds must be integers >= 0"),
])
def test_bad_arguments_exit_2(tmp_path, args, message):
    out = tmp_path / "out"
    p = subprocess.run([BIN, *args, "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and message in p.stderr
    assert not out.exists() or not any(out.iterdir())

def test_empty_out_exits_2(tmp_path):
    p = subprocess.run([BIN, "reproduce", "--quick", "--out", ""], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2 and "--out must name a folder" in p.stderr
    assert not any(tmp_path.iterdir())

def test_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file"; blocker.write_text("not a folder")
    p = subprocess.run([BIN, "reproduce", "--quick", "--out", str(blocker / "sub")], capture_output=True, text=True)
    assert p.returncode == 2 and "not a writable folder" in p.stderr
    assert blocker.read_text() == "not a folder"

def test_committed_claims_table_is_rendered_from_the_committed_run():
    "nbs/images/claims.md (shown in the README) is claims_table of the ten-seed run whose results.json is committed beside it."
    from bimaml_nb.reports import claims_table
    images = Path(__file__).resolve().parents[1] / "nbs" / "images"
    res = json.loads((images / "results.json").read_text(), parse_constant=_refuse)
    assert res["seeds"] == list(range(10)) and res["experiments"] == ["synthetic_regression", "diabetes", "synthetic_svm", "mnist_svm", "fig1"]
    assert (images / "claims.md").read_text() == claims_table(res)
    assert {r["verdict"] for r in res["claims"]} <= set(VERDICTS)

def test_sinusoid_runs_by_name(tmp_path):
    "The K-step sinusoid experiment is not in the default set; --only sinusoid runs it (quick: seconds) and writes its figure and table."
    assert "sinusoid" not in ALL
    main(["reproduce", "--quick", "--only", "sinusoid", "--out", str(tmp_path), "--seed", "0"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md", "sinusoid.png"]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["files"] == ["results.json", "results.md", "sinusoid.png"] and res["sinusoid"]["runs"]
    assert "## Sinusoid regression" in (tmp_path / "results.md").read_text()

def test_a_full_disk_ends_in_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    import errno, bimaml_nb.cli as cli
    def full(*a, **k): raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cli, "write", full)
    with pytest.raises(SystemExit) as e: main(["reproduce", "--quick", "--only", "fig1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 1 and err.count("\n") == 0 and "No space left on device" in err and "Traceback" not in err

def test_zero_jobs_is_refused(tmp_path):
    p = subprocess.run([BIN, "reproduce", "--jobs", "0", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert p.returncode == 2 and "--jobs must be" in p.stderr

@pytest.mark.parametrize("args, says", [
    (["--seeds", "0-"], "seeds must be integers"), (["--seeds", "0-10000000"], "at most 1000"), (["--seeds", "5-2"], "A <= B"),
    (["--seed", "0-2"], "--seed takes one integer"), (["--see", "3"], "unrecognized arguments: --see"),
    (["--jobs", "1000000000"], "--jobs must be a number of worker processes from 1 to 64"), (["--jobs", "0"], "from 1 to 64"),
    (["--scheduler", "garbage"], "--scheduler must be a Dask scheduler address")])
def test_bad_options_end_in_one_line_naming_the_option(args, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as e: main(["reproduce", "--out", str(tmp_path / "o")] + args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err and "Traceback" not in err
