"""The layer rules, read from the source with :mod:`ast` (imports inside functions count too).

* ``net/proto/`` (the sans-I/O core), ``net/relay/admission.py`` (the relay's admission
  policy), ``net/relay/proxyheader.py`` (the PROXY protocol header) and
  ``net/reach/pmp_codec.py`` (NAT-PMP and PCP messages) import no socket,
  selector, event loop, thread, clock or process module: time comes in as an argument, bytes
  go out as return values.
* ``gui/`` reaches ``net`` only through its public faces, ``net.client``, ``net.relay`` and
  ``net.reach``.
* The modules under ``net/`` import one another without cycles (imports under
  ``if TYPE_CHECKING:`` aside, since they never run; the first two rules count those too).

The first tests check the reader itself on small sources, so a rule cannot pass by not seeing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("net", "gui", "crypto")
IO_MODULES = frozenset({"socket", "selectors", "asyncio", "threading", "time", "subprocess"})
SANS_IO = (
    "net/proto",
    "net/relay/admission.py",
    "net/relay/proxyheader.py",
    "net/reach/pmp_codec.py",
)
NET_FACES = frozenset({"net.client", "net.relay", "net.reach"})


@dataclass(frozen=True)
class Import:
    """One module an import statement loads, resolved to its absolute dotted name."""

    module: str
    where: str  # path:line
    statement: str
    type_checking: bool  # under ``if TYPE_CHECKING:``, so never run

    def __str__(self) -> str:
        return f"{self.where}: {self.statement}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    modules = {module_name(path): path for path in sorted(ROOT.glob("*.py"))}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


MODULES = _project_modules()


def read_imports(
    source: str, *, module: str, is_package: bool = False, where: str = "<source>"
) -> list[Import]:
    """Every module ``source`` imports, wherever the statement is (functions, try, if).

    ``from x import y`` counts as importing ``x.y`` when that is a module of the project, else
    ``x``; relative imports are resolved against ``module``.
    """
    tree = ast.parse(source)
    guarded = _under_type_checking(tree)
    found = []
    for node in sorted(ast.walk(tree), key=lambda node: getattr(node, "lineno", 0)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module=module, is_package=is_package)
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            found.append(Import(name, f"{where}:{node.lineno}", ast.unparse(node), node in guarded))
    return found


def file_imports(path: Path) -> list[Import]:
    return read_imports(
        path.read_text(encoding="utf-8"),
        module=module_name(path),
        is_package=path.name == "__init__.py",
        where=str(path.relative_to(ROOT)),
    )


def _absolute(node: ast.ImportFrom, *, module: str, is_package: bool) -> str:
    if node.level == 0:
        assert node.module is not None
        return node.module
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 >= len(package):
        raise ValueError(f"relative import beyond the top package in {module}")
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _under_type_checking(tree: ast.AST) -> set[ast.AST]:
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:  # not the else branch: that one runs
                guarded.update(ast.walk(statement))
    return guarded


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import cycle in ``graph`` as ``[a, b, ..., a]``, or None if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def _files(*places: str) -> list[Path]:
    files: list[Path] = []
    for place in places:
        path = ROOT / place
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _is_net(module: str) -> bool:
    return module == "net" or module.startswith("net.")


# -- the reader ---------------------------------------------------------------------------------


def test_the_reader_sees_imports_in_every_form_and_place() -> None:
    source = """
import socket
import time as clock, os.path
from asyncio import sleep
from . import _codec
from ._frames import Reason
from .. import relay
def later():
    import threading
class Driver:
    def run(self):
        from selectors import DefaultSelector
try:
    import subprocess
except ImportError:
    pass
if TYPE_CHECKING:
    from net.relay.server import Relay
else:
    import net.client
"""
    found = read_imports(source, module="net.proto._example")
    assert [(i.module, i.type_checking) for i in found] == [
        ("socket", False),
        ("time", False),
        ("os.path", False),
        ("asyncio", False),
        ("net.proto._codec", False),
        ("net.proto._frames", False),
        ("net.relay", False),
        ("threading", False),
        ("selectors", False),
        ("subprocess", False),
        ("net.relay.server", True),
        ("net.client", False),
    ]


def test_the_reader_resolves_names_against_the_project() -> None:
    def modules(source: str, module: str = "gui.example", is_package: bool = False) -> list[str]:
        return [i.module for i in read_imports(source, module=module, is_package=is_package)]

    assert modules("from net.client import ChatClient, events") == [
        "net.client",
        "net.client.events",
    ]
    assert modules("from net import proto, client") == ["net.proto", "net.client"]
    assert modules("import net.client.events as ev") == ["net.client.events"]
    assert modules("from . import _codec", "net.proto", is_package=True) == ["net.proto._codec"]
    assert modules("from .member import x", "net.relay.server") == ["net.relay.member"]


def test_the_cycle_finder_reports_the_loop() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_the_rules_see_the_files_they_guard() -> None:
    sans_io = _files(*SANS_IO)
    assert ROOT / "net/relay/admission.py" in sans_io
    assert ROOT / "net/proto/_relay.py" in sans_io
    assert len(_files("gui")) > 10
    assert {"net.proto", "net.relay.member", "net.client.session", "gui.app"} <= set(MODULES)


# -- the rules ----------------------------------------------------------------------------------


def test_the_sans_io_core_imports_no_io_threads_or_clock() -> None:
    bad = [
        imp
        for path in _files(*SANS_IO)
        for imp in file_imports(path)
        if imp.module.partition(".")[0] in IO_MODULES
    ]
    assert not bad, "sans-I/O modules import I/O, threads or a clock:\n" + "\n".join(map(str, bad))


def test_the_sans_io_core_reaches_no_io_through_project_imports() -> None:
    # A sans-I/O module importing, say, net.relay.member would bring asyncio in by the back door.
    via: dict[str, list[str]] = {module_name(path): [] for path in _files(*SANS_IO)}
    todo = list(via)
    bad = []
    while todo:
        module = todo.pop()
        for imp in file_imports(MODULES[module]):
            if imp.module.partition(".")[0] in IO_MODULES and via[module]:
                bad.append(f"{imp} (imported by {' <- '.join(via[module])})")
            elif imp.module in MODULES and imp.module not in via:
                via[imp.module] = [module, *via[module]]
                todo.append(imp.module)
    assert "crypto.spake2" in via  # the walk went through the project
    assert not bad, "sans-I/O modules reach I/O through the project:\n" + "\n".join(bad)


def test_the_gui_reaches_net_only_through_its_public_faces() -> None:
    bad = [
        imp
        for path in _files("gui")
        for imp in file_imports(path)
        if _is_net(imp.module) and imp.module not in NET_FACES
    ]
    faces = "net.client, net.relay and net.reach"
    assert not bad, f"gui/ may import from net only through {faces}:\n" + "\n".join(map(str, bad))


def test_no_import_cycles_under_net() -> None:
    # The graph spans the project, so a loop through crypto/ or gui/ back into net/ counts too:
    # it is cut down to the modules on some path from net/ back to net/. Imports under
    # TYPE_CHECKING never run and are left out.
    graph = {
        module: {
            imp.module
            for imp in file_imports(path)
            if not imp.type_checking and imp.module in MODULES
        }
        for module, path in MODULES.items()
    }
    net = {module for module in graph if _is_net(module)}
    assert len(net) > 20, "modules under net/ not found"
    reverse: dict[str, set[str]] = {module: set() for module in graph}
    for module, targets in graph.items():
        for target in targets:
            reverse[target].add(module)
    keep = _reachable(graph, net) & _reachable(reverse, net)
    cycle = find_cycle({module: graph[module] & keep for module in keep})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _reachable(graph: Mapping[str, Iterable[str]], starts: Iterable[str]) -> set[str]:
    seen = set(starts)
    todo = list(seen)
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
