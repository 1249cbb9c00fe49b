"""Check aitrace's import graph and size rules from the source alone (AST, no imports executed).

Rules (issue 9, "Must hold when done"):

* no import cycles between modules, counting imports inside functions, ``try`` blocks and
  ``importlib.import_module("<literal>")`` calls; only the body of ``if TYPE_CHECKING:`` is exempt;
* package layering ``cli → report → publish → verify → bundle/signing → evidence → hooks →
  store → record``: a package imports only packages to its right (``bundle`` and ``signing``
  share a layer, and the package graph must not have a cycle, so at most one of them imports
  the other);
  ``integrations`` may import any package except ``cli``;
* ``aitrace.errors`` and ``aitrace._version`` are leaves (import nothing from aitrace) that every
  module may import; the other top-level modules (``aitrace/__init__``, ``plugins``, ``schemas``,
  ``__main__``) may import anything and no package may import them;
* at most 10 modules directly in ``src/aitrace/``; no module over 600 lines.

An edge ``a → b`` means module ``a`` names ``b`` in an import: ``from p import x`` is an edge to
``p.x`` when that is a module, else to ``p``. Importing ``p.q`` also runs ``p/__init__.py``;
that implicit edge is not counted (every module would otherwise "depend" on ``aitrace``).

Usage: ``python tools/importgraph_check.py [SRC_DIR] [PACKAGE]`` (defaults: ``src``, ``aitrace``);
prints every violation and exits 1 if there is any. ``tests/test_architecture.py`` runs each rule.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Packages in layer order, highest first; a package may import only later layers.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",), ("report",), ("publish",), ("verify",), ("bundle", "signing"), ("evidence",),
    ("hooks",), ("store",), ("record",),
)
#: Outside the chain: may import any package except these.
INTEGRATIONS = "integrations"
INTEGRATIONS_MAY_NOT_IMPORT = frozenset({"cli"})
#: Top-level modules every module may import; they import nothing from the package themselves.
LEAVES = frozenset({"errors", "_version"})
#: Top-level modules that may import anything and that no package may import.
TOP = frozenset({"__init__", "__main__", "plugins", "schemas"})
MAX_TOP_LEVEL_MODULES = 10
MAX_LINES = 600


@dataclass(frozen=True)
class Module:
    """One source file: its dotted name, path, line count and the aitrace modules it imports."""

    name: str
    path: Path
    lines: int
    imports: Mapping[str, int] = field(default_factory=dict)  # target module -> first line


# ------------------------------------------------------------------------------- parsing

def module_name(root: Path, path: Path, package: str) -> str:
    """``src/aitrace/store/digest.py`` → ``aitrace.store.digest``; ``__init__`` → the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those only reached through the body of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend([node.test, *node.orelse])
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve_from(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    # a module's level-1 anchor is its package; a package's is itself
    keep = len(base) - node.level + (1 if is_package else 0)
    anchor = base[:keep]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _imported_names(tree: ast.AST, current: str, is_package: bool,
                    known: frozenset[str]) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every runtime import in ``tree``.

    ``from p import x`` names the module ``p.x`` when there is one, else ``p`` (x is an attribute
    of ``p``); ``importlib.import_module("p.q")`` and ``__import__("p.q")`` with a literal count.
    """
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(current, is_package, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in known else base), node.lineno
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant) \
                    and isinstance(arg.value, str):
                yield arg.value, node.lineno


def load_modules(src: Path, package: str) -> dict[str, Module]:
    """Parse every module of ``package`` under ``src`` and resolve its imports to modules."""
    paths = {module_name(src, f, package): f for f in sorted((src / package).rglob("*.py"))}
    known = frozenset(paths)
    modules: dict[str, Module] = {}
    for name, path in paths.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        targets: dict[str, int] = {}
        for raw, line in _imported_names(tree, name, path.name == "__init__.py", known):
            if raw != package and not raw.startswith(package + "."):
                continue
            target = raw
            while target not in known and "." in target:  # a name inside a module
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                targets.setdefault(target, line)
        modules[name] = Module(name, path, len(text.splitlines()), dict(sorted(targets.items())))
    return modules


# ------------------------------------------------------------------------------- cycles

def cycles(graph: Mapping[str, Sequence[str] | Mapping[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one node (or a self-edge), sorted.

    Iterative Tarjan: deep import chains must not hit Python's recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
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
                    work.append((child, iter(sorted(graph.get(child, ())))))
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
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))
    return sorted(found)


def cycle_path(graph: Mapping[str, Mapping[str, int]], component: Sequence[str]) -> list[str]:
    """One concrete cycle inside ``component``: a → b → … → a (shortest from its first node)."""
    members = set(component)
    start = component[0]
    prev: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [*reversed(path), start]
            if nxt in members and nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    return [start, start]


# ------------------------------------------------------------------------------- layering

def area(name: str) -> str:
    """The package a module belongs to (``store``), or its own name for a top-level module."""
    parts = name.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _rank(a: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if a in layer:
            return i
    return None


def layering_problem(src_area: str, dst_area: str) -> str | None:
    """Why ``src_area`` may not import ``dst_area`` (None: allowed). Areas are package names."""
    if src_area == dst_area or dst_area in LEAVES:
        return None
    if src_area in LEAVES:
        return f"{src_area} is a leaf: it imports nothing from the package"
    if src_area in TOP:
        return None
    if dst_area in TOP:
        return f"{dst_area} is a top-level module that no package may import"
    if src_area == INTEGRATIONS:
        if dst_area in INTEGRATIONS_MAY_NOT_IMPORT:
            return f"{INTEGRATIONS} may import any package except {dst_area}"
        return None
    src_rank, dst_rank = _rank(src_area), _rank(dst_area)
    if src_rank is None:
        return f"{src_area} is not in the layer table (tools/importgraph_check.py LAYERS)"
    if dst_rank is None:
        return f"{dst_area} is not below {src_area} in the layering"
    if dst_rank < src_rank:
        return f"{dst_area} is above {src_area} in the layering"
    return None


def _shown(path: Path) -> str:
    """A path as messages show it: relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Violation:
    """One rule broken at one place."""

    rule: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.where}: {self.detail}"


def check_cycles(modules: Mapping[str, Module]) -> list[Violation]:
    """One violation per module-level import cycle, with one concrete loop through it."""
    graph = {n: m.imports for n, m in modules.items()}
    return [Violation("cycle", " ↔ ".join(c), " → ".join(cycle_path(graph, c)))
            for c in cycles(graph)]


def check_layering(modules: Mapping[str, Module]) -> list[Violation]:
    """Every import edge between two areas is allowed by ``layering_problem``."""
    out: list[Violation] = []
    for name, mod in modules.items():
        for target, line in mod.imports.items():
            why = layering_problem(area(name), area(target))
            if why:
                out.append(Violation("layering", f"{_shown(mod.path)}:{line}",
                                     f"{name} imports {target} ({why})"))
    return out


def check_unknown_areas(modules: Mapping[str, Module]) -> list[Violation]:
    """Every subpackage and top-level module is one the rules name (a new one needs a place)."""
    known = {a for layer in LAYERS for a in layer} | {INTEGRATIONS} | LEAVES | TOP
    first: dict[str, Module] = {}
    for name in sorted(modules):
        first.setdefault(area(name), modules[name])
    return [Violation("unknown", _shown(mod.path), f"{a} is not in the layer table (LAYERS, TOP)")
            for a, mod in sorted(first.items()) if a not in known]


def check_package_cycles(modules: Mapping[str, Module]) -> list[Violation]:
    """No two areas import each other, directly or around a loop (e.g. bundle ↔ signing)."""
    graph: dict[str, set[str]] = {}
    for name, mod in modules.items():
        graph.setdefault(area(name), set()).update(
            area(t) for t in mod.imports if area(t) != area(name))
    return [Violation("package-cycle", " ↔ ".join(c), "packages import each other")
            for c in cycles({k: sorted(v) for k, v in graph.items()})]


def check_top_level(src: Path, package: str) -> list[Violation]:
    """At most ``MAX_TOP_LEVEL_MODULES`` files directly in the package directory."""
    top = sorted(p.name for p in (src / package).glob("*.py"))
    if len(top) > MAX_TOP_LEVEL_MODULES:
        return [Violation("top-level", _shown(src / package),
                          f"{len(top)} modules (at most {MAX_TOP_LEVEL_MODULES}): {top}")]
    return []


def check_sizes(modules: Mapping[str, Module]) -> list[Violation]:
    """No module longer than ``MAX_LINES`` lines."""
    return [Violation("size", _shown(mod.path), f"{mod.lines} lines (at most {MAX_LINES})")
            for _, mod in sorted(modules.items()) if mod.lines > MAX_LINES]


def check_all(src: Path, package: str) -> list[Violation]:
    """Every rule, in the order the module docstring lists them."""
    modules = load_modules(src, package)
    return [*check_cycles(modules), *check_package_cycles(modules), *check_layering(modules),
            *check_unknown_areas(modules), *check_top_level(src, package), *check_sizes(modules)]


def main(argv: Sequence[str] | None = None) -> int:
    """Print every violation and a one-line summary; 1 if anything is wrong."""
    args = list(sys.argv[1:] if argv is None else argv)
    src = Path(args[0]) if args else Path("src")
    package = args[1] if len(args) > 1 else "aitrace"
    modules = load_modules(src, package)
    edges = sum(len(m.imports) for m in modules.values())
    problems = check_all(src, package)
    for v in problems:
        print(v)
    n_cycles = len(check_cycles(modules))
    print(f"{len(modules)} modules, {edges} import edges, {n_cycles} import cycle(s), "
          f"{len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
