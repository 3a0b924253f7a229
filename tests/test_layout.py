"""The package's shape: entry points on top, a library in folders whose imports point one way, and
DVC stages whose deps cover every package file they import."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

PACKAGE = "mnist_pipeline"
# Library folders, lowest first: a module may import its own folder and folders of a lower rank.
LAYERS = {"core": 0, "data": 1, "models": 1, "inference": 2, "training": 3, "reports": 4, "tracking": 5}
# Libraries that only training may import: scoring (evaluate, predict, serving) starts without them.
TRAINING_ONLY = ("pytorch_lightning", "lightning", "torchvision", "torchmetrics")


def module_file(src: Path, dotted: str) -> Path | None:
    path = src.joinpath(*dotted.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def dotted_name(src: Path, file: Path) -> str:
    parts = file.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(src: Path, file: Path) -> set[str]:
    """The package's own modules that `file` imports (at any depth in the file), as dotted names."""
    here = dotted_name(src, file)
    package = here if file.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import module` imports pkg.module when that is a module
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] == PACKAGE and module_file(src, name))
    return found


def with_parents(dotted: str) -> set[str]:
    """Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c."""
    parts = dotted.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def import_closure(src: Path, module: str) -> set[Path]:
    """Every package file that running `module` imports, directly or through other modules."""
    seen, todo = set(), set(with_parents(module))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imported_modules(src, module_file(src, name)):
            todo |= with_parents(imported) - seen
    return {module_file(src, name) for name in seen}


def stages(root: Path) -> dict[str, dict]:
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def stage_module(stage: dict) -> str:
    words = stage["cmd"].split()
    return words[words.index("-m") + 1]


def undeclared(root: Path) -> dict[str, list[str]]:
    """stage -> package files its command imports that none of its deps covers."""
    src = root / "src"
    missing = {}
    for name, stage in stages(root).items():
        deps = [root / dep for dep in stage.get("deps", []) if not str(dep).startswith("$")]
        files = import_closure(src, stage_module(stage))
        uncovered = sorted(str(f.relative_to(root)) for f in files
                           if not any(f == dep or dep in f.parents for dep in deps))
        if uncovered:
            missing[name] = uncovered
    return missing


def entry_points(src: Path) -> set[str]:
    return {dotted_name(src, f) for f in (src / PACKAGE).glob("*.py") if f.name != "__init__.py"}


def test_every_stage_declares_the_code_it_imports():
    assert undeclared(ROOT) == {}


def test_an_undeclared_import_is_caught(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    idx = tmp_path / "src" / PACKAGE / "data" / "idx.py"
    idx.write_text(idx.read_text() + "\nfrom ..reports import plots  # noqa\n")
    missing = undeclared(tmp_path)
    assert "src/mnist_pipeline/reports/plots.py" in missing["prepare"]


def test_stages_cover_the_whole_pipeline():
    assert {name: stage_module(stage) for name, stage in stages(ROOT).items()} == {
        name: f"{PACKAGE}.{name}" for name in ("download", "prepare", "train", "evaluate")}


@pytest.mark.parametrize("entry", sorted(entry_points(ROOT / "src")))
def test_no_entry_point_imports_another(entry):
    src = ROOT / "src"
    others = entry_points(src) - {entry}
    assert imported_modules(src, module_file(src, entry)) & others == set()


def test_library_imports_point_one_way():
    src = ROOT / "src"
    entries = entry_points(src)
    wrong = []
    for file in sorted((src / PACKAGE).rglob("*.py")):
        folder = file.relative_to(src / PACKAGE).parts[0]
        if folder not in LAYERS:
            assert dotted_name(src, file) in entries | {PACKAGE}, f"{file} is in no library folder"
            continue
        for name in imported_modules(src, file):
            target = name.split(".")[1] if "." in name else None
            if name in entries or target is None:
                wrong.append(f"{file.relative_to(src)} imports the entry point {name}")
            elif target != folder and LAYERS[target] >= LAYERS[folder]:
                wrong.append(f"{file.relative_to(src)} ({folder}) imports {name} ({target})")
    assert wrong == []


def third_party_imports(file: Path) -> set[str]:
    """Top-level names of what `file` imports, at any depth (function-local imports included)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def training_only_imports(package: Path) -> list[str]:
    """Files of folders below training/ that import a library only training may use."""
    below = [folder for folder, rank in LAYERS.items() if rank < LAYERS["training"]]
    return [f"{file.relative_to(package)} imports {name}"
            for folder in below for file in sorted((package / folder).rglob("*.py"))
            for name in sorted(third_party_imports(file) & set(TRAINING_ONLY))]


def test_nothing_below_training_imports_lightning_torchvision_or_torchmetrics():
    assert training_only_imports(ROOT / "src" / PACKAGE) == []


def test_a_planted_lightning_import_below_training_is_caught(tmp_path):
    package = tmp_path / PACKAGE
    shutil.copytree(ROOT / "src" / PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    checkpoints = package / "inference" / "checkpoints.py"
    checkpoints.write_text(checkpoints.read_text() + "\n\ndef late():\n    import pytorch_lightning  # noqa\n")
    assert training_only_imports(package) == ["inference/checkpoints.py imports pytorch_lightning"]
