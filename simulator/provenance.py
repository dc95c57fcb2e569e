"""Where the running code came from, for every run file: the commit and a digest of the source.

The package may run from a checkout (``pip install -e .``, the README's install, or
``python -m simulator`` in the repository root) or as an installed copy (``pip install .``,
a wheel). An installed copy is not tracked by git, so its commit is read from the checkout
the command was started from (the scenario script's, or the working folder's), and the
copy's source digest is compared with that checkout's ``simulator/``: the file then says
whether the code that ran is the code of that commit.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["PACKAGE_DIR", "source_digest", "provenance", "other_copy"]

PACKAGE_DIR = Path(__file__).resolve().parent


def source_digest(package: Path = PACKAGE_DIR) -> str:
    """SHA-256 (first 16 hex digits) of the package's Python files and data, paths included;
    for the running package, as it was when first asked (the code that was loaded)."""
    return _loaded_digest() if package == PACKAGE_DIR else _digest(package)


@lru_cache(maxsize=1)
def _loaded_digest() -> str:
    return _digest(PACKAGE_DIR)


def _digest(package: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".csv")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _git(folder: Path, *args) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _tracked(package: Path) -> bool:
    """Whether ``package`` is the ``simulator/`` of a git checkout (not a venv's copy inside one)."""
    return _git(package, "ls-files", "--error-unmatch", "__init__.py") is not None


def _checkout_of(folder: Path) -> Path | None:
    """The top of the project checkout that holds ``folder``, if any."""
    top = _git(folder, "rev-parse", "--show-toplevel") if folder.is_dir() else None
    if top is None or not (Path(top) / "simulator" / "__init__.py").is_file():
        return None
    return Path(top)


def _origin() -> tuple[Path | None, bool]:
    """``(checkout, tracked)``: the project checkout the code came from (the package's own, or
    else the one the command was started from) and whether the package runs from it."""
    if _tracked(PACKAGE_DIR):
        return PACKAGE_DIR.parent, True
    script = Path(sys.argv[0]).resolve().parent if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
    for folder in (script, Path.cwd()):
        top = _checkout_of(folder) if folder is not None else None
        if top is not None:
            return top, False
    return None, False


def provenance() -> dict:
    """``{"git": ..., "source_digest": ...}``: ``git describe --always --dirty --tags`` of the
    checkout the code ran from, with a note when the package was an installed copy."""
    digest = source_digest()
    top, tracked = _origin()
    if top is None:
        return {"git": "unknown: no git checkout holds the package or the command (see source_digest)",
                "source_digest": digest}  # fmt: skip
    described = _git(top, "describe", "--always", "--dirty", "--tags") or "unknown (git describe failed)"
    if tracked:
        return {"git": described, "source_digest": digest}
    same = source_digest(top / "simulator") == digest
    note = "same source as that checkout" if same else "its source differs from that checkout's simulator/"
    return {"git": f"{described} (of {top}; the package ran as an installed copy, {note})", "source_digest": digest}


def other_copy() -> Path | None:
    """The checkout a command was started from, when the package it imports is an installed
    copy whose source differs from that checkout's ``simulator/`` (two copies of the package)."""
    top, tracked = _origin()
    if top is None or tracked or source_digest(top / "simulator") == source_digest():
        return None
    return top
