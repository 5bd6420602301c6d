"""Shared fixtures. Optional parts (torch, Chromium) skip when missing, but fail under CI=true."""

from __future__ import annotations

import importlib
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def optional_import(name: str):
    """Import an optional module; skip without it, or fail when CI=true (CI installs it)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"{name} is required under CI=true but cannot be imported: {exc}")
        pytest.skip(f"{name} is not installed (pip install 'stepgrad[test]')")


@pytest.fixture(scope="session")
def torch():
    module = optional_import("torch")
    module.set_num_threads(1)
    return module
