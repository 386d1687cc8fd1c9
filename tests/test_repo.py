"""The committed package matches a fresh export, notebooks are clean, README matches nbs/index.ipynb."""
import filecmp, json, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    "A copy of the repository's sources to export and clean in, leaving the checkout untouched."
    dst = tmp_path_factory.mktemp("repo")
    for name in ("nbs", "bimaml_nb"): shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "settings.ini", dst)
    return dst

def _bin(name): return str(Path(sys.executable).parent / name)

def test_package_matches_fresh_export(copy):
    subprocess.run([_bin("nbdev_export")], cwd=copy, check=True)
    cmp = filecmp.dircmp(ROOT / "bimaml_nb", copy / "bimaml_nb", ignore=["__pycache__"])
    stale = cmp.diff_files + cmp.left_only + cmp.right_only
    assert not stale, f"bimaml_nb/ differs from a fresh nbdev_export in {stale}: run nbdev_export and commit"

def test_notebooks_are_clean(copy):
    subprocess.run([_bin("nbdev_clean"), "--fname", str(copy / "nbs")], cwd=copy, check=True)
    dirty = [p.name for p in (ROOT / "nbs").glob("*.ipynb") if p.read_bytes() != (copy / "nbs" / p.name).read_bytes()]
    assert not dirty, f"notebooks not clean: {dirty}: run nbdev_clean and commit"

def test_readme_is_generated_from_index():
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "markdown", "--stdout",
                          str(ROOT / "nbs" / "index.ipynb")], capture_output=True, text=True, check=True).stdout
    assert out.strip() == (ROOT / "README.md").read_text().strip(), \
        "README.md is out of date: jupyter nbconvert --to markdown --stdout nbs/index.ipynb > README.md"

def _readme_examples():
    "Each python block of README.md with the output printed under it (an indented block), in order."
    lines, out, i = (ROOT / "README.md").read_text().splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang, j = lines[i][3:].strip(), lines.index("```", i + 1)
            code, i = "\n".join(lines[i + 1:j]), j + 1
            if lang not in ("", "python"): continue
            while i < len(lines) and not lines[i].strip(): i += 1
            shown = []
            while i < len(lines) and (lines[i].startswith("    ") or (not lines[i].strip() and i + 1 < len(lines) and lines[i + 1].startswith("    "))):
                shown.append(lines[i][4:]); i += 1
            out.append((code, "\n".join(shown).strip()))
        else: i += 1
    return out

def test_readme_python_examples_print_what_readme_shows():
    import contextlib, io
    examples, ns = _readme_examples(), {}
    assert examples, "README.md has no python example"
    for code, shown in examples:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf): exec(compile(code, "README.md", "exec"), ns)
        assert buf.getvalue().strip() == shown, f"README shows\n{shown}\nbut the example prints\n{buf.getvalue()}"

def test_readme_claims_table_is_the_committed_run():
    table = (ROOT / "nbs" / "images" / "claims.md").read_text().strip()
    assert table in (ROOT / "README.md").read_text(), "README.md must show nbs/images/claims.md verbatim (regenerate the README)"

def test_readme_commands_are_what_ci_runs():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]" && nbdev_test --do_print --timing && pytest tests/' in readme
    assert "README.md" in ci and "test suite" in ci  # .ci/run takes its command from README.md

def _chapters():
    "Chapter number and module of every numbered notebook, with its code cells."
    out = []
    for p in sorted((ROOT / "nbs").glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
        exp = next(m.group(1) for c in cells for m in [re.search(r"#\|\s*default_exp\s+(\S+)", "".join(c["source"]))] if m)
        out.append((int(p.name[:2]), exp, p.name, cells))
    return out

def test_chapters_import_only_earlier_chapters():
    number = {mod: n for n, mod, _, _ in _chapters()}
    bad = []
    for n, mod, name, cells in _chapters():
        for c in cells:
            for used in re.findall(r"(?:from|import)\s+bimaml_nb\.(\w+)", "".join(c["source"])):
                if used not in number: bad.append(f"{name} imports bimaml_nb.{used}, which no chapter exports")
                elif number[used] > n: bad.append(f"{name} (chapter {n}) imports bimaml_nb.{used} (chapter {number[used]})")
    assert not bad, "chapters must import only earlier chapters:\n" + "\n".join(bad)

_NOISE = [(re.compile(r"(/work/|/home/|/root/|/tmp/|/Users/|[A-Z]:\\\\|site-packages)"), "an absolute path"),
          (re.compile(r"\d+(\.\d+)?(it/s|s/it)\]"), "a progress bar")]

def test_committed_outputs_carry_no_paths_or_progress_bars():
    bad = []
    for p in sorted((ROOT / "nbs").glob("*.ipynb")):
        for i, c in enumerate(json.loads(p.read_text())["cells"]):
            for o in c.get("outputs", []):
                text = json.dumps({k: v for k, v in o.items() if k != "data"} | {"data": {k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")}})
                bad += [f"{p.name} cell {i}: {what}" for rx, what in _NOISE if rx.search(text)]
    assert not bad, "committed outputs must show results, not machine paths or progress bars:\n" + "\n".join(bad)

def test_no_undefined_names_in_the_package():
    out = subprocess.run([sys.executable, "-m", "pyflakes", str(ROOT / "bimaml_nb")], capture_output=True, text=True).stdout
    bad = [l for l in out.splitlines() if "undefined name" in l or "syntax" in l.lower()]
    assert not bad, "names used but never defined (they fail when imported, not in the notebook):\n" + "\n".join(bad)

def test_readme_speed_table_is_the_committed_benchmark():
    table = (ROOT / "benchmarks" / "results" / "oracles.md").read_text().split("\n\n")[1].strip()
    assert table in (ROOT / "README.md").read_text(), "README.md must show benchmarks/results/oracles.md's table verbatim"
    table = (ROOT / "benchmarks" / "results" / "networks.md").read_text().split("\n\n")[1].strip()
    assert table in (ROOT / "README.md").read_text(), "README.md must show benchmarks/results/networks.md's table verbatim"
