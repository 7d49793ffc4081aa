"""The chapter-5 notebook (python/examples/chapter5.ipynb) runs top to bottom and shows the
seed's numbers and the graphs as SVG."""

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "examples" / "chapter5.ipynb"


def test_chapter5_notebook_runs_and_shows_the_apple_numbers(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # Run in an empty folder: the install cell must find backprop already installed.
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts, svgs = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise AssertionError(f"cell failed: {out.get('ename')}: {out.get('evalue')}")
            if out.get("output_type") == "stream":
                texts.append(out["text"])
            data = out.get("data", {})
            if "image/svg+xml" in data:
                svgs += 1
                assert "<svg" in data["image/svg+xml"]
            if "text/plain" in data:
                texts.append(data["text/plain"])
    text = "\n".join(texts)
    assert "price: 220" in text
    assert "dApple: 2.2  dApple_num: 110  dTax: 200" in text
    assert "final price: 715" in text
    assert "d price / d apple_num: 110.0" in text
    assert "d price / d orange: 3.3" in text
    assert "d price / d tax: 650.0" in text
    assert "value: 7.0  dx: 3.0  dy: 2.0  dz: 1.0" in text
    assert svgs >= 3  # x*y + z, the apple graph and the apple-orange graph
    final = [line for line in text.splitlines() if line.startswith("final test accuracy:")]
    assert final and float(final[-1].split(":")[1]) > 0.9
