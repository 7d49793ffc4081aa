import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PICKLES = REPO / "tests" / "fixtures" / "pickles"


@pytest.fixture(scope="session")
def mnist():
    from backprop.dataset.mnist import load_mnist

    try:
        return load_mnist(normalize=True, one_hot_label=True)
    except FileNotFoundError:
        if os.environ.get("BACKPROP_REQUIRE_DATA") == "1":
            raise
        pytest.skip("MNIST is not in backprop's cache (backprop data fetch mnist)")
