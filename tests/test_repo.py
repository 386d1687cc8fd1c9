"""The committed package matches a fresh export, notebooks are clean, README matches nbs/index.ipynb."""
import filecmp, re, shutil, subprocess, sys
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

def test_readme_python_example_runs():
    blocks, lang, lines = [], None, []
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```") and lang is None: lang, lines = line[3:].strip() or "python", []
        elif line.startswith("```"):
            if lang == "python": blocks.append("\n".join(lines))
            lang = None
        elif lang is not None: lines.append(line)
    assert blocks, "README.md has no python example"
    exec(compile("\n".join(blocks), "README.md", "exec"), {})

def test_readme_commands_are_what_ci_runs():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]" && nbdev_test && pytest tests/' in readme
    assert "README.md" in ci and "test suite" in ci  # .ci/run takes its command from README.md
