"""Every notebook runs top to bottom on a fresh kernel, and none is committed with outputs.

Needs the test extras (``nbclient``, ``nbformat``, ``ipykernel``): the kernel is
``python3`` from the ipykernel installed beside them, so it imports this checkout of
sigma_sn. Each notebook runs with ``notebooks/`` as its working directory, as a user
who opens it in Jupyter would have.
"""

from __future__ import annotations

import ast
import time

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
EXPECTED = ("quickstart.ipynb", "router_mode.ipynb", "host_mode.ipynb", "sigma_vs_mip.ipynb",
            "path.ipynb")
#: a notebook is a quick tour, not a benchmark
MAX_RUN_S = 60.0


def test_the_five_notebooks_are_there():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_committed_without_outputs(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    assert book.metadata.kernelspec.name == "python3"
    for k, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: cell {k} has stored outputs; clear them"
            assert cell.execution_count is None, f"{name}: cell {k} has an execution count"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom_on_a_fresh_kernel(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(book, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.perf_counter()
    client.execute()     # raises CellExecutionError, naming the cell, on any error
    took_s = time.perf_counter() - t0
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a code cell did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    # a cell ending in a figure (an expression "plot.…" or "fig…") showed one, and no
    # other cell did
    shown = [any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in c.outputs)
             for c in code]
    ends_in_figure = [isinstance(last := ast.parse(c.source).body[-1], ast.Expr)
                      and ast.unparse(last).startswith(("plot.", "fig")) for c in code]
    assert shown == ends_in_figure and any(shown)
    assert took_s < MAX_RUN_S, f"{name} took {took_s:.1f} s"
