"""A contract type for import-linter: no import circles between the files of some packages.

import-linter's own ``acyclic_siblings`` looks at sibling packages as wholes; the hub's rule
is about files: no module may reach itself through imports, counting imports inside functions
(grimp reads every import statement of a file). Imports under ``if TYPE_CHECKING:`` are
annotations, not imports that run, and do not count.

Registered in pyproject.toml ([tool.importlinter] contract_types), so a plain ``lint-imports``
finds it; ``make lint`` and tests/test_architecture.py run it. Only import-linter imports this
module (a development dependency): nothing of the hub's processes does.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class AcyclicModulesContract(Contract):
    """No cycle of imports among the modules under ``packages``.

    Configuration: ``packages``, the packages whose modules are checked (all their descendants).
    """

    type_name = "acyclic_modules"
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        roots = [str(p) for p in self.packages]  # type: ignore[attr-defined]
        modules = sorted(m for m in graph.modules if any(_within(m, r) for r in roots))
        cycles = [
            _cycle(graph, component) for component in _components(graph, set(modules), modules)
        ]
        return ContractCheck(kept=not cycles, warnings=None, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(" -> ".join(cycle), bold=False)
            output.new_line()


def _within(module: str, root: str) -> bool:
    return module == root or module.startswith(root + ".")


def _edges(graph: ImportGraph, module: str, scope: set[str]) -> list[str]:
    found = []
    for imported in sorted(graph.find_modules_directly_imported_by(module)):
        if imported not in scope:
            continue
        details = graph.get_import_details(importer=module, imported=imported)
        if all(_only_for_typing(d["line_contents"]) for d in details) and details:
            continue
        found.append(imported)
    return found


def _only_for_typing(line: str) -> bool:
    # grimp does not say whether an import sits under ``if TYPE_CHECKING:``; the hub writes
    # such imports with this marker comment so they can be told apart.
    return "# typing only" in line


def _components(graph: ImportGraph, scope: set[str], modules: list[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(_edges(graph, root, scope)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(_edges(graph, child, scope))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle(graph: ImportGraph, component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module, first module repeated at the end."""
    members = set(component)
    start = component[0]
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in _edges(graph, node, members):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return [*component, component[0]]  # not reached: a component's members reach each other
