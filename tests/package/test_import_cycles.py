"""Packages whose modules must not import each other in a circle, and layers that must not import upwards."""

import pytest

from helpers.import_graph import cycles, import_graph, within

ACYCLIC = ["ganforge.data", "ganforge.style", "ganforge.inference", "ganforge.metrics"]


@pytest.fixture(scope="module")
def graph():
    return import_graph()


@pytest.mark.parametrize("package", ACYCLIC)
def test_package_has_no_import_cycle(graph, package):
    assert package in graph
    assert cycles(within(graph, package)) == []


# metrics.jsonl's reader and the loss plot still live in train/ beside their writer
KNOWN_TRAIN_IMPORTS = {
    ("ganforge.inference.report", "ganforge.training.metrics_log"),
    ("ganforge.inference.report", "ganforge.training.plots"),
    ("ganforge.metrics.table", "ganforge.training.metrics_log"),
}


@pytest.mark.parametrize("package", ["ganforge.inference", "ganforge.metrics"])
def test_library_layers_never_import_upwards(graph, package):
    upward = {(m, d) for m, deps in graph.items() if m == package or m.startswith(package + ".") for d in deps
              if d.split(".")[1] in ("commands", "serve", "cli", "train", "recipes")}
    assert upward - KNOWN_TRAIN_IMPORTS == set()


def test_the_check_finds_a_cycle_through_a_package_init(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("from pkg.sub.a import thing\n")
    (root / "sub" / "a.py").write_text("thing = 1\n")
    (root / "sub" / "b.py").write_text("def f():\n    from pkg.sub import thing\n")  # inside a function counts too
    assert cycles(within(import_graph(root), "pkg.sub")) == []
    (root / "sub" / "a.py").write_text("from . import b\nthing = 1\n")
    (root / "sub" / "b.py").write_text("def f():\n    from pkg.sub import thing\n")
    assert cycles(within(import_graph(root), "pkg.sub")) == [["pkg.sub", "pkg.sub.a", "pkg.sub.b"]]
