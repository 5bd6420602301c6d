"""No test module imports another test module, a conftest.py or `bench`: what tests share is
in tests/helpers.py (plain helpers) and the conftest.py files (fixtures), so a test module
can change, move or go without breaking its neighbours, and a benchmark without breaking
the tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def banned(module: str) -> bool:
    parts = module.split(".")
    if parts[0] == "bench":
        return True
    if parts[0] != "tests":
        return False
    return any(p.startswith("test_") or p == "conftest" for p in parts[1:])


def bad_imports(source: str, path: Path) -> list[str]:
    """`line: statement` for each import of a test module, a conftest or bench in `source`
    (a file at `path` under tests/), including relative ones and `import tests.x as y`."""
    package = path.relative_to(TESTS.parent).parent.parts  # ("tests", "api") for tests/api/
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x, from ..api.test_x import y
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from tests.api import test_api_graphs` imports a test module too
            modules = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(banned(m) for m in modules):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_test_module_imports_another_a_conftest_or_bench():
    offenders = {}
    for path in sorted(TESTS.rglob("*.py")):
        found = bad_imports(path.read_text(encoding="utf-8"), path)
        if found:
            offenders[str(path.relative_to(TESTS.parent))] = found
    assert not offenders, (
        "move what these need into tests/helpers.py (a plain helper) or a conftest.py "
        f"(a fixture): {offenders}"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from tests.api.test_api_graphs import create",
        "from tests.conftest import serve",
        "from tests.server import test_app_events",
        "import tests.engine.test_graph as graphs",
        "from bench.harness import free_port",
        "import bench.abuse",
        "from .test_api_spec import FANOUT",
        "from . import conftest",
        "def f():\n    from tests.browser.test_browser_stepping import READ_PAGE",
    ],
    ids=lambda source: source.splitlines()[-1].strip(),
)
def test_the_check_sees_each_way_of_importing_them(source):
    assert bad_imports(source, TESTS / "api" / "test_x.py")


@pytest.mark.parametrize(
    "source",
    [
        "from tests.helpers import create",
        "import tests.helpers",
        "from stepgrad.engine.graph import Graph",
        "from . import helpers",
        "import pytest",
    ],
)
def test_the_check_lets_the_helpers_and_the_package_through(source):
    assert bad_imports(source, TESTS / "api" / "test_x.py") == []
