"""The package's import rules, read from the source (imports inside functions count), README's
Python examples, run as written, and the documentation's links (README short, every docs/ link
resolving). See docs/ARCHITECTURE.md for the layers."""
from __future__ import annotations

import ast
import os
import subprocess
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cyclegan"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that ``name`` imports anywhere in its source (top level or in functions)."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[:len(base) - node.level + 1]
                target = ".".join(prefix + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # `import a.b.c` depends on a.b.c; a module importing its own package is not an edge.
            if candidate in known and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def under(module: str, *areas: str) -> bool:
    return any(module == f"cyclegan.{a}" or module.startswith(f"cyclegan.{a}.") for a in areas)


RULES = [  # (whose imports, may not import, why)
    (lambda m: not under(m, "cli"), ("cli",), "the library imports the command line"),
    (lambda m: under(m, "nets"), ("data", "training"), "networks import data or training"),
    (lambda m: under(m, "translate", "export", "sample", "report", "eval"), ("training", "quality"),
     "inference, report or evaluation imports training"),
    (lambda m: under(m, "scrape", "datasets_tools"), ("nets", "training"), "acquisition imports networks or training"),
    (lambda m: under(m, "training"), ("report", "eval", "quality", "run", "presets"),
     "training imports the report, evaluation or composition above it"),
    (lambda m: under(m, "models"), ("config", "data", "nets", "training", "report", "eval", "run", "presets",
                                    "translate", "generators", "runfolder", "checkpoint"),
     "the model cards import more than errors (config imports them: a Config holds its model's options)"),
    (lambda m: under(m, "events", "runfolder", "config", "errors", "checkpoint", "loss_log", "models"),
     ("training", "report", "eval", "run", "presets", "translate"), "a neutral module imports a layer above it"),
]


def test_import_rules_hold():
    graph = import_graph()
    broken = [f"{why}: {m} -> {t}" for who, banned, why in RULES for m, targets in graph.items() if who(m)
              for t in sorted(targets) if under(t, *banned)]
    assert not broken, "\n".join(broken)


def test_no_import_cycles():
    graph = import_graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(" <-> ".join(sorted(component)))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "\n".join(cycles)


def test_the_rules_catch_a_violation(tmp_path):
    """The checker itself: a cycle and a forbidden edge written in a function are both seen."""
    known = {"cyclegan.nets.x", "cyclegan.training.y"}
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from ..training import y\n")
    assert imported_modules("cyclegan.nets.x", source, known) == {"cyclegan.training.y"}


README_MAX_LINES = 300


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {github_anchor(h) for h in re.findall(r"^#+ (.+)$", without_code_blocks(page.read_text()), flags=re.M)}


def test_readme_is_short_and_the_docs_hold_the_rest():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: p.name)
def test_relative_links_resolve(page):
    """Every relative link (and anchor) of README and docs/*.md points at a file (and heading) that
    exists, and every path written as docs/... names a file of the repository."""
    text = without_code_blocks(page.read_text())
    broken = []
    for target in re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor in {resolved.name}")
    for mention in re.findall(r"(?<![\w/.])docs/[\w./-]*\w", page.read_text()):
        if not (ROOT / mention).exists():
            broken.append(f"{mention}: no such file")
    assert not broken, "\n".join(broken)


def test_the_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A heading\n[ok](#a-heading) [gone](missing.md) [bad anchor](#nowhere)\n")
    with pytest.raises(AssertionError, match="missing.md.*\n.*#nowhere"):
        test_relative_links_resolve(page)
    assert github_anchor("Recipes: `--recipe fast|paper`") == "recipes---recipe-fastpaper"


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(readme_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(readme_python_blocks())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch, tiny_readme_world):
    """Each ```python block of README runs as written, in a folder that holds what it names
    (the domains `forest` and `abstract`, a photo, a trained run), at a tiny size."""
    monkeypatch.chdir(tiny_readme_world)
    code = readme_python_blocks()[index]
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})


@pytest.fixture(scope="module")
def tiny_readme_world(tmp_path_factory, photo_domains):
    """A working folder as README's examples expect it: ./datasets/forest and ./datasets/abstract
    (small real photo crops and their painterly versions), ./photo.jpg and ./photos/."""
    import shutil

    from PIL import Image

    _, domain_A, domain_B = photo_domains
    world = tmp_path_factory.mktemp("readme")
    shutil.copytree(domain_A, world / "datasets" / "forest")
    shutil.copytree(domain_B, world / "datasets" / "abstract")
    first = sorted((world / "datasets" / "forest" / "test").iterdir())[0]
    Image.open(first).convert("RGB").save(world / "photo.jpg")
    (world / "photos").mkdir()
    for path in sorted((world / "datasets" / "forest" / "test").iterdir())[:2]:
        Image.open(path).convert("RGB").save(world / "photos" / f"{path.stem}.jpg")
    return world


def test_only_the_cards_and_each_models_own_code_spell_model_or_network_names():
    """Model knowledge lives in cyclegan/models.py (the cards), the training registry's builders and
    each model's own step and networks; everything else reads cards."""
    import ast
    forbidden = {"G_A", "G_B", "D_A", "D_B", "dcgan", "cut", "fastcut"}
    allowed = ("cyclegan/models/", "cyclegan/training/registry.py", "cyclegan/nets/")
    found = []
    for path in sorted((ROOT / "cyclegan").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(allowed) or path.name.endswith("_step.py"):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        found += [f"{rel}:{node.lineno} {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and node.value in forbidden and id(node) not in docstrings]
    assert not found, found


def test_cyclegan_train_is_the_function_and_the_old_training_paths_still_import_with_a_warning():
    code = """
import warnings, cyclegan, cyclegan.training.loop
from cyclegan import train
assert callable(train) and train.__module__ == "cyclegan.run", train
warnings.simplefilter("error", DeprecationWarning)
try:
    import cyclegan.train.registry
except DeprecationWarning as w:
    assert "moved to cyclegan.training" in str(w), w
else:
    raise SystemExit("no warning")
warnings.simplefilter("ignore", DeprecationWarning)
import cyclegan.train.registry as old, cyclegan.training.registry as new
from cyclegan.train import learning_rate
assert old is new and learning_rate is cyclegan.training.learning_rate
assert callable(cyclegan.train)   # importing the old package still leaves something that trains
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
