"""No import cycles anywhere in src/: every module-level import, lazy (inside a function) or not.

The layer contracts themselves live in pyproject.toml ([tool.importlinter]) and are checked by
`lint-imports`, which `make test` runs before pytest; this test adds the global check that no two
modules import each other, directly or through others, whatever layer they are in.
"""

from __future__ import annotations

import grimp
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each group of modules that import one another in a cycle (strongly connected, size > 1)."""
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = [(index[a], index[b]) for a in modules for b in graph.find_modules_directly_imported_by(a)
             if b in index]
    rows, cols = (np.array(x, dtype=np.int64) for x in zip(*edges)) if edges else (np.zeros(0), np.zeros(0))
    adjacency = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(modules), len(modules)))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    groups: dict[int, list[str]] = {}
    for m, label in zip(modules, labels):
        groups.setdefault(int(label), []).append(m)
    return sorted(g for g in groups.values() if len(g) > 1)


def test_the_cycle_finder_finds_cycles_through_other_modules():
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"), ("p.e", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"]]
    graph.remove_import(importer="p.c", imported="p.a")
    assert import_cycles(graph) == []


def test_src_has_no_import_cycles():
    graph = grimp.build_graph("slmscale", include_external_packages=False)
    assert len(graph.modules) > 100  # the whole package was read, study/ and data/sources/ included
    assert {"slmscale.study.spec", "slmscale.data.sources.common", "slmscale.text.interleaved_vocab"} <= graph.modules
    assert import_cycles(graph) == []
