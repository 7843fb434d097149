"""The package's shape (issues 14, 23): the wings are stages in the order data flows, dependencies point one way,
`import cityqa` is cheap, and `src/` type-checks.

The import graph is read from the source (every `import`, also inside functions and under `TYPE_CHECKING`), so a
cycle hidden in a function body fails here as surely as one at the top of a module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

import cityqa

PACKAGE = Path(cityqa.__file__).parent
REPO = PACKAGE.parents[1]

# Lower first. A module may import its own wing or a lower one, never a higher one. A wing is a sub-package
# (`cityqa.documents`, ...) or one of the top-level modules.
WINGS: tuple[tuple[str, ...], ...] = (
    ("types", "errors", "settings"),  # the records, the exception tree, the one Settings
    ("documents",),  # files -> Document -> Chunk
    ("index",),  # chunks -> a generation on disk; the encoder
    ("reading",),  # the scorer, word alignment, spelling
    ("answering",),  # question -> passages -> the quoted answer
    ("checking",),  # claim -> verdict with evidence
    ("assistant",),  # one object that holds the stages
    ("evaluation",),  # gold sets, SQuAD, baselines, training
    ("ui",),  # the Gradio app
    ("cli", "__init__"),  # edges
)
RANK = {wing: n for n, wings in enumerate(WINGS) for wing in wings}


def module_name(path: Path) -> str:
    """`documents.text` for src/cityqa/documents/text.py, `documents` for its `__init__.py`, `cli` for cli.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str:
    """The module a dotted name inside cityqa refers to: itself, or the module it is an attribute of."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str) -> set[str]:
    """The cityqa modules `module` imports, wherever the import statement stands."""
    path = MODULES[module]
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    if module == "__init__":
        package = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                head = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "cityqa":
                head = node.module.split(".")[1:]
            else:
                continue
            found |= {resolve(".".join([*head, alias.name])) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {resolve(a.name.removeprefix("cityqa.")) for a in node.names if a.name.startswith("cityqa.")}
    return found - {module, ""}


GRAPH = {module: imports_of(module) for module in MODULES}


def wing(module: str) -> str:
    return module.split(".")[0]


def test_every_module_is_in_a_wing() -> None:
    assert {wing(module) for module in GRAPH} == set(RANK), "add new wings or top-level modules to WINGS"


def test_wing_packages_import_nothing() -> None:
    """A wing's `__init__` is its description: importing `cityqa.index.nodes` must not load the rest of the wing."""
    packages = [module for module, path in MODULES.items() if path.name == "__init__.py" and module != "__init__"]
    assert sorted(packages) == ["answering", "checking", "documents", "evaluation", "index", "reading", "ui"]
    loaded = {module: sorted(GRAPH[module]) for module in packages if GRAPH[module]}
    assert not loaded, f"wing packages that import modules: {loaded}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module: str) -> None:
    upward = sorted(dep for dep in GRAPH[module] if RANK[wing(dep)] > RANK[wing(module)])
    assert not upward, f"{module} (wing {wing(module)}) imports {upward} from a higher wing"


def test_no_cycles() -> None:
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for dep in GRAPH.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    cyclic = sorted(module for module in GRAPH if module in reach(module))
    assert not cyclic, f"modules in an import cycle: {cyclic}"


def test_the_graph_is_read() -> None:
    """The reader sees relative, absolute and `from . import` forms: a few edges the code is known to have."""
    assert {"documents.extractors", "documents.sandbox", "settings"} <= GRAPH["documents.corpus"]
    assert "evaluation.report" in GRAPH["ui.app"]  # `from ..evaluation import report as reports`
    assert "answering.retrieve" in GRAPH["checking.factcheck"]
    assert {"assistant", "settings", "types"} <= GRAPH["__init__"]


def test_import_cityqa_is_lazy_and_every_public_name_resolves() -> None:
    probe = ("import sys, cityqa; heavy = [m for m in ('cityqa.assistant', 'llama_index.core', 'chromadb', "
             "'torch', 'gradio') if m in sys.modules]; print(heavy); "
             "print([n for n in cityqa.__all__ if getattr(cityqa, n, None) is None])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", f"import cityqa loaded {out[0]}"
    assert out[1] == "[]", f"public names that do not resolve: {out[1]}"


def test_src_type_checks() -> None:
    """`mypy` on src/ with the settings in pyproject.toml; the ignores left in the code each say why."""
    stdout, stderr, status = mypy_api.run(["--config-file", str(REPO / "pyproject.toml"), str(PACKAGE)])
    assert status == 0, stdout + stderr
