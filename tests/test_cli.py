"""The command line: complete outputs, same seed same numbers, only what it wrote, clean stops, bad input exits 2 with nothing written."""
import json, os, shutil, signal, subprocess, sys, time
from bimaml_nb.experiments import VERDICTS
from pathlib import Path
import pytest
from bimaml_nb.cli import main, strip_timings, clean_partials, verify, lock, Locked, ALL, MARK, LOCK

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
    p = subprocess.Popen([BIN, "reproduce", "--quiet", "--jobs", "1", "--seeds", "0-29", "--only", "synthetic_regression", "diabetes", "--out", str(out)],  # ~25 s quiet: the signal lands mid-run
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
    stale = out / f".partial-{dead.pid}-abc"; stale.mkdir(); (stale / "fig2.png").write_text("half"); (stale / MARK).touch()
    live = out / f".partial-{os.getpid()}-xyz"; live.mkdir(); (live / MARK).touch()  # a running process's folder is left alone
    mine = out / f".partial-{dead.pid}-notes"; mine.mkdir()  # not made by the command (no mark): never removed
    theirs = out / ".partial-notes"; theirs.mkdir()
    assert clean_partials(out) == [stale.name] and live.exists() and mine.exists() and theirs.exists()
    for d in (live, mine, theirs): shutil.rmtree(d)
    stale.mkdir(); (stale / MARK).touch(); main(QUICK + ["--only", "fig1", "--out", str(out)])
    assert not list(out.glob(".partial-*"))

def test_a_second_run_into_the_same_out_is_refused_while_one_holds_the_lock(tmp_path, capsys):
    out = tmp_path / "o"; out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK).write_text(str(holder.pid))
        with pytest.raises(SystemExit) as e: main(QUICK + ["--only", "fig1", "--out", str(out)])
        assert e.value.code == 1 and f"another bimaml-nb run (pid {holder.pid})" in capsys.readouterr().err
        assert not (out / "results.json").exists()
    finally: holder.kill(); holder.wait()
    main(QUICK + ["--only", "fig1", "--out", str(out)])  # its process is gone: the stale lock is taken over, and released
    assert not (out / LOCK).exists() and verify(out) == []
    held = lock(out); assert held.read_text() == str(os.getpid()); held.unlink()

def test_verify_names_what_a_mixed_or_unfinished_folder_lacks(tmp_path):
    out = tmp_path / "o"
    main(QUICK + ["--only", "synthetic_regression", "fig1", "--out", str(out)])
    assert verify(out) == []
    res = json.loads((out / "results.json").read_text())
    assert set(res["manifest"]) == {"eps0.png", "fig1.png", "fig2.png", "results.md"}
    (out / "fig1.png").write_bytes(b"another run's figure")
    assert verify(out) == ["fig1.png is missing or is not the file its run wrote"]
    (out / "results.json").unlink()
    assert "the run did not finish" in verify(out)[0]

def test_progress_and_stage_messages_go_to_stderr_unless_quiet(tmp_path):
    args = [BIN, "reproduce", "--quick", "--jobs", "1", "--only", "synthetic_regression", "--out", str(tmp_path / "o")]
    loud = subprocess.run(args, capture_output=True, text=True, timeout=300)
    quiet = subprocess.run(args + ["--quiet"], capture_output=True, text=True, timeout=300)
    assert loud.returncode == quiet.returncode == 0
    assert "bimaml-nb: 1 pool(s) × 1 seed(s)" in loud.stderr and "pools × seeds" in loud.stderr and "100%" in loud.stderr
    assert quiet.stderr == "" and loud.stdout == quiet.stdout
    table = [l for l in loud.stdout.splitlines() if l.startswith("| synthetic_regression |")]
    assert table and max(len(l) for l in loud.stdout.splitlines() if not l.startswith(("wrote", "the full"))) < 100  # the short table fits a terminal; notes are in results.md

def test_workers_die_with_a_killed_run(tmp_path):
    out = tmp_path / "o"
    p = subprocess.Popen([BIN, "reproduce", "--quiet", "--jobs", "2", "--seeds", "0-29", "--only", "synthetic_regression", "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def children():
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(p.pid)], capture_output=True, text=True).stdout.split()
        return [int(x) for x in out]
    for _ in range(600):
        kids = children()
        if len(kids) >= 2: break
        time.sleep(0.05)
    time.sleep(2.0)
    kids = children(); assert kids, "the run started no workers"
    p.kill(); p.wait()
    time.sleep(2.0)
    alive = [k for k in kids if os.path.exists(f"/proc/{k}") and "Z" not in open(f"/proc/{k}/stat").read().split()[2]]
    assert not alive, f"workers {alive} outlived the killed run"

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
    with pytest.raises(SystemExit) as e: main(["reproduce", "--quick", "--quiet", "--only", "fig1", "--out", str(tmp_path / "o")])
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

def test_inner_loops_run_by_name(tmp_path, capsys):
    "--only inner_loops runs the inner-loops chapter (quick: seconds), writes its figure and table and prints the table."
    from bimaml_nb.inner_loops import inner_loops_markdown
    assert "inner_loops" not in ALL
    main(["reproduce", "--quick", "--quiet", "--only", "inner_loops", "--out", str(tmp_path), "--seed", "0"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inner_loops.png", "results.json", "results.md"]
    res = json.loads((tmp_path / "results.json").read_text())
    table = inner_loops_markdown(res["inner_loops"])
    assert res["inner_loops_table"] == table and table in (tmp_path / "results.md").read_text() and table in capsys.readouterr().out
    assert res["inner_loops"]["relu"] is None and [s["seed"] for s in res["inner_loops"]["sinusoid"]] == [0]
