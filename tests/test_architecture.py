"""The import rules of docs/architecture.md, read from the source with `ast` (imports inside functions count too).

Each rule is a dependency the layout promises: the passes rewrite the IR without knowing Caffe, the Caffe file
format knows no graph, the IR knows nothing else, converters emit without reading models or verifying, only the
CLI talks to the terminal and the environment, and the library never depends on the tooling.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gluon2caffe"
GENERATED = {"caffe/caffe_pb2.py"}


def _modules() -> dict[str, Path]:
    """Module name relative to the package ("passes.fold_batchnorm", "api", "ir") -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in GENERATED:
            continue
        parts = rel[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts) or "__init__"] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """(package-internal modules imported, relative to the package; external top-level modules) of one file."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if name != "__init__" else []
    package = here if is_package else here[:-1]
    internal, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "gluon2caffe" or alias.name.startswith("gluon2caffe."):
                    internal.add(alias.name.partition(".")[2] or "__init__")
                else:
                    external.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                module = node.module or ""
                if module == "gluon2caffe" or module.startswith("gluon2caffe."):
                    base = module.partition(".")[2].split(".") if "." in module else []
                else:
                    external.add(module.split(".")[0])
                    continue
            else:
                base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            for alias in node.names:  # `from . import zoo` imports the module zoo
                candidate = ".".join(base + [alias.name])
                internal.add(candidate if candidate in MODULES else (".".join(base) or "__init__"))
    return internal, external


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _top(module: str) -> str:
    return module.split(".")[0]


def _in(module: str, *folders: str) -> bool:
    return _top(module) in folders


def _violations(importer_filter, forbidden) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, (internal, _) in IMPORTS.items()
        if importer_filter(name)
        for target in internal
        if forbidden(target)
    )


def test_the_reader_finds_every_module_and_import():
    assert {"api", "ir.graph", "passes.fold_batchnorm", "caffe.caffemodel", "cli", "zoo.sweep"} <= set(MODULES)
    internal, _ = IMPORTS["passes.fold_batchnorm"]
    assert {"ir.graph", "ir.ops"} <= internal
    internal, _ = IMPORTS["cli.convert"]  # imports inside functions count
    assert {"api", "detectors", "zoo.loader", "verification"} <= internal


def test_passes_import_only_the_ir():
    assert _violations(lambda m: _in(m, "passes"), lambda t: not _in(t, "ir", "passes", "errors")) == []


def test_the_ir_imports_nothing_else_of_the_package():
    assert _violations(lambda m: _in(m, "ir"), lambda t: not _in(t, "ir", "errors")) == []


def test_the_caffe_format_knows_no_graph():
    assert _violations(lambda m: _in(m, "caffe"), lambda t: not _in(t, "caffe", "errors")) == []


def test_converters_do_not_read_models_verify_or_use_tooling():
    forbidden = ("frontend", "verification", "zoo", "cli", "api", "detectors", "passes")
    assert _violations(lambda m: _in(m, "converters"), lambda t: _in(t, *forbidden)) == []


def test_the_frontend_does_not_emit_or_verify():
    forbidden = ("converters", "passes", "verification", "zoo", "cli", "api", "detectors", "caffe")
    assert _violations(lambda m: _in(m, "frontend"), lambda t: _in(t, *forbidden)) == []


def test_detectors_use_the_pipeline_pieces_not_the_api_zoo_or_cli():
    assert _violations(lambda m: _in(m, "detectors"), lambda t: _in(t, "api", "zoo", "cli", "frontend")) == []


def test_detectors_plug_into_verification_one_way():
    """A detector family's check (detectors/<family>/check.py) builds on verification's generic pieces; verification
    never reaches back for a family (issue 25: no cycle between the two)."""
    assert _violations(lambda m: _in(m, "verification"), lambda t: _in(t, "detectors")) == []


def test_a_detector_family_is_one_folder():
    """Each registered family lives in detectors/<family>/ (its Detector, reading, layers and check), and no family
    imports another (what they share is in detectors/ itself: base, common, graph_match, nms)."""
    families = sorted(
        {name.split(".")[1] for name in MODULES if name.startswith("detectors.") and name.count(".") >= 1}
    )
    folders = [f for f in families if (PACKAGE / "detectors" / f).is_dir()]
    assert {"ssd", "yolo", "centernet"} <= set(folders)
    for family in folders:
        assert {f"detectors.{family}.read", f"detectors.{family}.layers", f"detectors.{family}.check"} <= set(MODULES)

    def family(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if parts[0] == "detectors" and len(parts) > 1 and parts[1] in folders else None

    crossing = sorted(
        f"{name} imports {target}"
        for name, (internal, _) in IMPORTS.items()
        if family(name)
        for target in internal
        if family(target) and family(target) != family(name)
    )
    assert crossing == []


def _package_edges() -> dict[str, set[str]]:
    """gluon2caffe.<pkg> -> gluon2caffe.<pkg2> edges (module imports, function-local ones included). The root
    facade (gluon2caffe/__init__.py, which re-exports the API) and __main__ are not nodes."""
    edges: dict[str, set[str]] = {}
    for name, (internal, _) in IMPORTS.items():
        source = _top(name)
        if source in ("__init__", "__main__"):
            continue
        for target in internal:
            if _top(target) not in ("__init__", "__main__", source):
                edges.setdefault(source, set()).add(_top(target))
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the packages on it (one per back edge)."""
    found, state = [], {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": {"c"}}) == []


def test_no_import_cycle_between_packages():
    assert _cycles(_package_edges()) == []


def test_nothing_outside_the_cli_imports_the_cli():
    assert _violations(lambda m: not _in(m, "cli", "__main__"), lambda t: _in(t, "cli")) == []


def test_the_library_does_not_depend_on_the_tooling():
    assert _violations(lambda m: not _in(m, "zoo", "cli"), lambda t: _in(t, "zoo")) == []


ZOO_PRODUCT = ("zoo", "zoo.catalog", "zoo.loader", "zoo.graphs", "zoo.randomize")


def test_the_zoo_product_does_not_depend_on_the_sweep():
    """zoo/'s catalog, loader, shipped graphs and randomize (what `convert` uses) do not import the developers'
    sweep and reports (the sweep uses them, not the other way), nor the CLI."""
    assert set(ZOO_PRODUCT) <= set(MODULES)
    forbidden = lambda t: (_in(t, "zoo") and t not in ZOO_PRODUCT) or _in(t, "cli")  # noqa: E731
    assert _violations(lambda m: m in ZOO_PRODUCT, forbidden) == []


@pytest.mark.parametrize("folder", ["ir", "passes", "converters", "caffe"])
def test_no_mxnet_outside_reading_and_verifying(folder):
    """MXNet runs where models are read (frontend/, detectors/*_read.py) and checked (verification/), not while
    rewriting or emitting."""
    offenders = sorted(name for name, (_, ext) in IMPORTS.items() if _in(name, folder) and "mxnet" in ext)
    assert offenders == []


def test_only_the_cli_prints():
    offenders = []
    for name, path in MODULES.items():
        if _in(name, "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_importing_the_package_changes_no_environment():
    code = (
        "import os; before = dict(os.environ); import gluon2caffe, gluon2caffe.verification, "
        "gluon2caffe.verification.detectors, gluon2caffe.verification.local; "
        "changed = {k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)}; "
        "print(sorted(changed))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GLOG_minloglevel", "MXNET_SUBGRAPH_VERBOSE")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_import_of_the_package_resolves():
    """Imports inside functions only fail when they run: resolve every one of them now (a moved module, a merge)."""
    import importlib

    unresolved = []
    for name, (internal, _) in IMPORTS.items():
        for target in internal:
            module = "gluon2caffe" if target == "__init__" else f"gluon2caffe.{target}"
            try:
                importlib.import_module(module)
            except ImportError as exc:
                unresolved.append(f"{name} imports {target}: {exc}")
    assert unresolved == []


def test_model_kinds_come_from_the_catalog_not_from_name_prefixes():
    """Which kind of model a zoo name is (a detector, which detector, whose anchors PriorBox can express) is the zoo
    catalog's answer (zoo/catalog.py), and after loading the detector registry's: no other module tests a model
    name's prefix or substring."""
    import re

    pattern = re.compile(r'"ssd_"|"yolo3_"|startswith\(\(?["\'](ssd|yolo|center_net)|["\']_lite_["\']')
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for name, path in MODULES.items()
        if name != "zoo.catalog"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_a_detector_family_costs_its_folder_and_one_registration():
    """docs/architecture.md, "What a change costs": a detector family is its folder (whose __init__.py registers it
    with `register_detector(...)`), its catalog entries and one line in detectors/__init__.py that imports it.
    Nothing else in the package imports a family's modules, so the pipeline, verification, the CLI and the zoo sweep
    reach it only through the registry (`detector_for`)."""
    folders = sorted(p.name for p in (PACKAGE / "detectors").iterdir() if (p / "__init__.py").is_file())
    assert {"ssd", "yolo", "centernet"} <= set(folders)
    outside = sorted(
        f"{name} imports {target}"
        for name, (internal, _) in IMPORTS.items()
        if name != "detectors" and not any(name.startswith(f"detectors.{f}") for f in folders)
        for target in internal
        if any(target == f"detectors.{f}" or target.startswith(f"detectors.{f}.") for f in folders)
    )
    assert outside == [], "a detector family is reached only through detectors/__init__.py's registration"
    registry = (PACKAGE / "detectors" / "__init__.py").read_text()
    family_lines = [
        node
        for node in ast.parse(registry).body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in folders
    ]
    assert sorted(node.module for node in family_lines) == folders
    assert all(len(node.names) == 1 for node in family_lines), "one name (the registered detector) per family line"
    for folder in folders:
        calls = [
            node
            for node in ast.walk(ast.parse((PACKAGE / "detectors" / folder / "__init__.py").read_text()))
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "register_detector"
        ]
        assert len(calls) == 1, f"detectors/{folder}/__init__.py registers its family once ({len(calls)} calls)"
    calls_here = [n for n in ast.walk(ast.parse(registry)) if isinstance(n, ast.Call)]
    assert not [ast.unparse(n) for n in calls_here if ast.unparse(n.func) == "register_detector"], (
        "families register themselves; detectors/__init__.py only imports them"
    )
