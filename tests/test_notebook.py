"""tutorials/regression/analysis.ipynb runs top to bottom in a Jupyter kernel (nbclient)."""

from __future__ import annotations

import base64
import os
import shutil

import pytest
from conftest import REPO, TUTORIAL, isolated_env

NOTEBOOK = TUTORIAL / "analysis.ipynb"


def test_the_tutorial_notebook_runs_and_shows_its_results(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    work = tmp_path / "regression"
    shutil.copytree(TUTORIAL, work, ignore=shutil.ignore_patterns("logs", "__pycache__"))
    for key, value in isolated_env(
        PYTHONPATH=str(REPO), MPLBACKEND="module://matplotlib_inline.backend_inline"
    ).items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(work / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()  # raises CellExecutionError on the first failing cell
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "\n".join(
        out.get("text", "") or out.get("data", {}).get("text/plain", "") for out in outputs
    )
    assert "RunTable: 12 runs (12 COMPLETE)" in text  # the sweep the first cell ran
    assert "best lr: " in text and "over 3 seeds" in text
    html = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("RunTable: 12 runs" in h for h in html)  # the lazy table renders as HTML
    pngs = [out["data"]["image/png"] for out in outputs if "image/png" in out.get("data", {})]
    assert len(pngs) == 1  # the mean ± std plot
    (tmp_path / "curves.png").write_bytes(base64.b64decode(pngs[0]))
    if os.environ.get("MLXLAUNCH_KEEP_NOTEBOOK"):  # to look at it: the executed notebook
        nbformat.write(notebook, os.environ["MLXLAUNCH_KEEP_NOTEBOOK"])
