"""The package's shape (issue 14): dependencies point one way, `import cityqa` is cheap, and `src/` type-checks.

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

# Lower layers first. A module may import modules of its own layer or below, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("types", "errors", "settings", "text", "pdftext"),  # records and text helpers
    ("entities", "align", "spelling", "extractors", "pdfrender", "ocr", "onnx_encoder"),  # words, places, spelling,
    # format readers, OCR, the encoder
    ("sandbox", "pages", "corpus", "chunking", "embeddings", "scorer", "squad", "metrics"),  # reading, scoring
    ("nodes", "vectors", "bm25", "store"),  # storage: a generation's node files, Chroma, BM25; the manifest
    ("ingest", "retrieve", "uploads"),
    ("answer", "followup"),
    ("factcheck",),
    ("assistant",),
    ("baselines", "briefing"),
    ("evaluate", "report", "squad_eval", "train"),  # evaluation runners and reports
    ("ui_style", "ui_render", "ui_reports"),  # the UI's pure parts: CSS and scripts, renderers, eval reports
    ("ui_handlers",),  # the UI's event handlers
    ("ui", "cli", "__init__"),  # edges
)
LAYER = {module: n for n, modules in enumerate(LAYERS) for module in modules}


def imports_of(path: Path) -> set[str]:
    """The cityqa modules `path` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found |= {alias.name for alias in node.names}
            elif node.module and node.module.split(".")[0] == "cityqa":
                parts = node.module.split(".")
                found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("cityqa.")}
    return found - {path.stem}


GRAPH = {path.stem: imports_of(path) for path in sorted(PACKAGE.glob("*.py"))}


def test_every_module_has_a_layer() -> None:
    assert set(GRAPH) == set(LAYER), "add new modules to LAYERS"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module: str) -> None:
    upward = sorted(dep for dep in GRAPH[module] if dep in LAYER and LAYER[dep] > LAYER[module])
    assert not upward, f"{module} (layer {LAYER[module]}) imports {upward} from a higher layer"


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
