"""DVC must see code changes: every file a stage's code imports (transitively, inside cx-terms) is covered
by one of the stage's `deps`, so `dvc status` lists the stage when that file changes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "training", "evaluation")
# what each stage's `cx` command calls; the CLI module itself only parses arguments
STAGE_ENTRY = {
    "base_model": ("training.base_model", "materialize"),
    "clean_sample": ("pipeline.cleaning.files", "clean_file"),
    "train_baseline": ("training.run", "train_and_log"),
    "train_transformer": ("training.run", "train_and_log"),
    "evaluate": ("evaluation.run", "evaluate_and_gate"),
    "export": ("pipeline.jobs.export", "run_export"),
    "score_sample": ("pipeline.jobs.score", "run_scoring"),
    "rollup": ("pipeline.jobs.rollup", "run_rollup"),
    "themes": ("pipeline.jobs.themes", "run_themes"),
    "report": ("pipeline.jobs.report", "run_report"),
}


def module_file(name: str) -> Path | None:
    base = REPO / name.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(nodes: list[ast.AST]) -> set[str]:
    """Our modules named by the import statements under `nodes` (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                names |= {alias.name for alias in sub.names}
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                names.add(sub.module)
                names |= {f"{sub.module}.{alias.name}" for alias in sub.names}
    return {n for n in names if n.split(".")[0] in PACKAGES and module_file(n)}


def closure(module: str, function: str) -> set[Path]:
    """Files a call of `module.function` can execute: the module's top level, the function, and everything
    they import, followed whole."""
    tree = ast.parse(module_file(module).read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    func = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    assert func, f"{module}.{function} not found"
    todo, seen = imported(top + func), {module_file(module)}
    while todo:
        path = module_file(todo.pop())
        if path in seen:
            continue
        seen.add(path)
        todo |= imported([ast.parse(path.read_text(encoding="utf-8"))])
    return {p for p in seen if p.name != "__init__.py" or p.read_text(encoding="utf-8").count("\n") > 3}


@pytest.mark.parametrize("stage", sorted(STAGE_ENTRY))
def test_stage_deps_cover_the_code_it_runs(stage):
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"][stage]
    deps = [REPO / d for d in spec.get("deps", []) if not d.startswith("${")]
    code = closure(*STAGE_ENTRY[stage])
    uncovered = sorted(
        str(p.relative_to(REPO)) for p in code if not any(p == d or d in p.parents for d in deps)
    )
    assert uncovered == [], f"dvc.yaml stage {stage} does not list code it runs"


def test_the_graph_check_sees_lazy_imports_and_ignores_other_functions():
    report = closure("pipeline.jobs.report", "run_report")
    scoring = closure("pipeline.jobs.score", "run_scoring")
    assert REPO / "pipeline/rollup/report.py" in report and REPO / "pipeline/rollup/report.py" not in scoring


def test_dvc_parses_the_pipeline_with_its_params():
    """`${...}` interpolation resolves (a renamed param breaks `make run` before any stage starts)."""
    import subprocess
    import sys

    result = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "stage", "list"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "evaluate" in result.stdout and "outputs/metrics.json" in result.stdout
