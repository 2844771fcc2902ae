"""The lock files pin everything pyproject.toml asks for, and check_lock.py notices when they do not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _check_lock():
    spec = importlib.util.spec_from_file_location("check_lock", REPO / "requirements" / "check_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_lock = _check_lock()


def test_the_committed_locks_cover_pyproject() -> None:
    assert check_lock.main([str(REPO / "pyproject.toml"), str(REPO / "requirements")]) == 0


def test_every_locked_line_carries_a_hash() -> None:
    for lock in ("runtime.lock", "dev.lock"):
        text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
        entries = text.replace("\\\n", " ").splitlines()
        pins = [line for line in entries if "==" in line and not line.lstrip().startswith("#")]
        assert pins, lock
        assert all("--hash=sha256:" in line for line in pins), lock


def _project(tmp_path: Path, runtime: list[str], dev: list[str], locks: dict[str, str]) -> list[str]:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname='x'\nversion='1'\n"
        f"dependencies={runtime!r}\n[project.optional-dependencies]\ndev={dev!r}\n",
        encoding="utf-8",
    )
    for name, text in locks.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [str(tmp_path / "pyproject.toml"), str(tmp_path)]


@pytest.mark.parametrize(
    ("runtime", "dev", "runtime_lock", "dev_lock", "message"),
    [
        (["flask>=3"], ["pytest"], "", "flask==3.1.0 \\\n    --hash=sha256:00\npytest==8.0\n",
         "runtime.lock does not pin flask"),
        (["flask>=3"], [], "flask==2.3.0 \\\n", "flask==2.3.0 \\\n", "outside flask>=3"),
        (["flask"], ["ruff==1.0"], "flask==3.0\n", "flask==3.0\nruff==0.9\n", "dev.lock pins ruff==0.9"),
        (["flask"], [], "flask==3.0\n", "flask==3.1\n", "runtime.lock pins flask==3.0 but dev.lock 3.1"),
    ],
)  # fmt: skip
def test_a_lock_behind_pyproject_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runtime, dev, runtime_lock, dev_lock, message
) -> None:
    argv = _project(tmp_path, runtime, dev, {"runtime.lock": runtime_lock, "dev.lock": dev_lock})
    assert check_lock.main(argv) == 1
    error = capsys.readouterr().err
    assert message in error
    assert "make lock" in error
