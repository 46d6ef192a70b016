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


# Rules finer than the layer table (docs/ARCHITECTURE.md), which covers the rest.
RULES = [  # (whose imports, may not import, why)
    (lambda m: under(m, "models"), ("config", "config_checks", "events", "checkpoint", "runfolder", "loss_log",
                                    "device", "precision", "progress"),
     "the model cards import more than errors (config imports them: a Config holds its model's options)"),
]

ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
MAX_LOOSE_MODULES = 10


def layer_table(page: Path = ARCHITECTURE) -> list[tuple[str, list[str], set[str]]]:
    """(layer, its modules and packages, the layers it may import) for each row of the page's table."""
    text = page.read_text()
    section = text[text.index("## Layers, bottom to top"):]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "---") or not line.startswith("|"):
            if rows and not line.startswith("|"):
                break
            continue
        rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1]), {c.strip() for c in cells[2].split(",")}))
    return rows


def layer_of(module: str, rows) -> list[str]:
    """The layers whose rows claim ``module`` (``name/`` claims a package and all inside it)."""
    rest = module[len("cyclegan"):].lstrip(".")
    found = []
    for layer, names, _ in rows:
        for name in names:
            package = name.endswith("/")
            dotted = name.rstrip("/").replace("/", ".")
            if (name == "__init__" and rest == "") or rest == dotted or (package and rest.startswith(dotted + ".")):
                found.append(layer)
    return found


def test_every_module_is_in_exactly_one_row_of_the_layer_table_and_every_row_names_real_modules():
    rows = layer_table()
    layers = [layer for layer, _, _ in rows]
    assert len(rows) >= 8 and len(set(layers)) == len(layers), layers
    modules = package_modules()
    claims = {name: layer_of(name, rows) for name in modules}
    assert not [m for m, found in claims.items() if len(found) != 1], \
        {m: found for m, found in claims.items() if len(found) != 1}
    for layer, names, allowed in rows:
        assert allowed <= set(layers), (layer, allowed - set(layers))
        for name in names:
            path = PACKAGE / name if name.endswith("/") else PACKAGE / f"{name}.py"
            assert path.exists(), f"docs/ARCHITECTURE.md names {name} in {layer}, which is not in the tree"


def test_no_module_imports_a_layer_its_row_does_not_name():
    rows = layer_table()
    may = {layer: allowed | {layer} for layer, _, allowed in rows}
    broken = [f"{m} ({layer_of(m, rows)[0]}) -> {t} ({layer_of(t, rows)[0]})"
              for m, targets in import_graph().items() for t in sorted(targets)
              if layer_of(t, rows)[0] not in may[layer_of(m, rows)[0]]]
    assert not broken, "\n".join(broken)


def test_at_most_ten_modules_sit_loose_at_the_top_level():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_the_table_checker_sees_a_module_out_of_place(tmp_path):
    page = tmp_path / "ARCHITECTURE.md"
    page.write_text("## Layers, bottom to top\n\n| layer | modules | may import |\n|---|---|---|\n"
                    "| core | `errors` | core |\n| networks | `nets/` | core |\n| training | `training/` | core, networks |\n\nprose\n")
    rows = layer_table(page)
    assert [r[0] for r in rows] == ["core", "networks", "training"]
    assert layer_of("cyclegan.nets.cut", rows) == ["networks"] and layer_of("cyclegan.data.demo", rows) == []
    assert "training" not in rows[1][2]   # networks may not import training


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


def old_path_imports_with_a_warning(old: str, message: str, then: str, before: str = "") -> None:
    """In a fresh interpreter: ``before`` runs, importing ``old`` raises a DeprecationWarning that
    says ``message`` (warnings as errors), then, warnings ignored, ``then`` runs its asserts."""
    code = f"""
import warnings
{before}
warnings.simplefilter("error", DeprecationWarning)
try:
    import {old}
except DeprecationWarning as w:
    assert {message!r} in str(w), w
else:
    raise SystemExit("no warning")
warnings.simplefilter("ignore", DeprecationWarning)
{then}
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_cyclegan_train_is_the_function_and_the_old_training_paths_still_import_with_a_warning():
    old_path_imports_with_a_warning(
        "cyclegan.train.registry", "moved to cyclegan.training",
        before="""import cyclegan, cyclegan.training.loop
from cyclegan import train
assert callable(train) and train.__module__ == "cyclegan.compose.run", train""",
        then="""import cyclegan.train.registry as old, cyclegan.training.registry as new
from cyclegan.train import learning_rate
assert old is new and learning_rate is cyclegan.training.learning_rate
assert callable(cyclegan.train)   # importing the old package still leaves something that trains""")

def test_the_grouped_modules_old_paths_still_import_with_a_warning():
    old_path_imports_with_a_warning(
        "cyclegan.translate", "cyclegan.translate is now cyclegan.inference.translate",
        then="""import cyclegan.translate as old, cyclegan.inference.translate as new
from cyclegan.presets import plan_training
from cyclegan.compose.presets import plan_training as moved
assert old is new and plan_training is moved""")

def test_no_function_in_the_package_is_over_80_lines():
    """A function reads on one screen (the training loop included)."""
    long = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted(PACKAGE.rglob("*.py")) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80]
    assert not long, long
