"""The simulator's modules import one another along the data flow: no cycles, counting
imports inside functions too (sim/security.py and sim/survive.py once imported each
other, which only worked because one import was deferred)."""

from __future__ import annotations

import ast
from pathlib import Path

import sigma_sn

PACKAGE = Path(sigma_sn.__file__).parent


def imports_of(path: Path) -> set[str]:
    """Every ``sigma_sn.*`` module ``path`` imports, at any depth of its code."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "sigma_sn"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sigma_sn"))
    return out


def test_the_sim_package_import_graph_is_a_dag():
    modules = {f"sigma_sn.sim.{p.stem}": p for p in (PACKAGE / "sim").glob("*.py")
               if p.stem != "__init__"}
    graph = {m: sorted(i for i in imports_of(p) if i in modules and i != m)
             for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            assert state.get(n) != 1, "import cycle: " + " -> ".join(path + [m, n])
            if n not in state:
                visit(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert "sigma_sn.sim.tables" in graph["sigma_sn.sim.security"]
    assert "sigma_sn.sim.tables" in graph["sigma_sn.sim.survive"]
