"""pyproject.toml: `pip install 'ganforge[all]'` brings every optional feature."""

import pytest

from helpers import REPO

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_the_all_extra_names_every_feature_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    (requirement,) = extras["all"]
    name, _, named = requirement.rstrip("]").partition("[")
    assert name == project["name"]
    assert set(named.split(",")) == set(extras) - {"all", "test"} == {"export", "photos", "serve", "tensorboard"}
