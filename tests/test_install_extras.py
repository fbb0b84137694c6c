"""A reading-only install: ``import digitocr`` and ``digitocr read`` import none of the optional
dependencies, and whatever needs one says in one line which extra installs it.

A missing module is simulated: ``None`` in ``sys.modules`` (in this process, for the module and
every submodule already imported), or a meta-path finder that refuses it (in a subprocess)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digitocr import plugins
from digitocr.cli import cli
from digitocr.errors import MissingDependency
from digitocr.extras import PROVIDERS, check, requires

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
#: what a reading-only install lacks (import names); dask and pyarrow are extras too
OPTIONAL = ("sklearn", "skops", "imblearn", "scipy", "matplotlib", "jsonschema", "tensorflow",
            "keras", "tf2onnx", "onnx", "dask", "distributed", "pyarrow")

#: run in a subprocess: refuse every OPTIONAL module, run the CLI, then name what got imported
#: of those (and of the process pool's modules)
BLOCKED_RUN = """
import sys
BLOCKED = set(sys.argv[1].split(","))

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
from digitocr.cli import cli
try:
    cli.main(sys.argv[2:], prog_name="digitocr", standalone_mode=False)
finally:
    # a one-process read needs no process pool either (it costs start-up time)
    seen = {m.partition(".")[0] for m in sys.modules} | set(sys.modules)
    print(json.dumps(sorted(seen & (BLOCKED | {"multiprocessing", "concurrent.futures"}))),
          file=sys.stderr)
"""


def blocked_run(args: list[str]) -> subprocess.CompletedProcess[str]:
    code = "import json\n" + BLOCKED_RUN
    return subprocess.run([sys.executable, "-c", code, ",".join(OPTIONAL), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def without(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``import NAME`` (and of any submodule) fail as if it were not installed."""
    for key in list(sys.modules):
        if key.partition(".")[0] in names:
            monkeypatch.setitem(sys.modules, key, None)
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "_state", None)
    monkeypatch.setattr(plugins, "_registries", {})
    monkeypatch.setattr(plugins, "_pending_modules", [])


def test_import_digitocr_imports_no_optional_dependency() -> None:
    code = ("import sys, digitocr, digitocr.cli, digitocr.pipeline; "
            f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & {set(OPTIONAL)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_read_works_with_every_optional_dependency_refused(tmp_path: Path) -> None:
    page = str(SAMPLES / "form-clean.png")
    got = blocked_run(["read", page, "--format", "csv", "-q", "--annotate", str(tmp_path / "a")])
    assert got.returncode == 0, got.stderr
    assert got.stderr.strip().splitlines()[-1] == "[]"
    # the same readings (and annotated page) as this process makes with everything installed
    expected = CliRunner().invoke(cli, ["read", page, "--format", "csv", "-q",
                                        "--annotate", str(tmp_path / "b")])
    assert expected.exit_code == 0, expected.output
    assert got.stdout == expected.stdout
    drawn = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert drawn == sorted(p.name for p in (tmp_path / "b").iterdir()) == ["form-clean.png-p1.png"]
    assert (tmp_path / "a" / drawn[0]).read_bytes() == (tmp_path / "b" / drawn[0]).read_bytes()


def test_read_with_svm_without_classical_extra_is_one_line(tmp_path: Path) -> None:
    got = blocked_run(["read", str(SAMPLES / "form-clean.png"), "--model", "svm", "-q"])
    lines = [ln for ln in got.stderr.strip().splitlines() if not ln.startswith("[")]
    assert "Traceback" not in got.stderr
    assert len(lines) == 1, got.stderr
    assert re.fullmatch(r"Error: the svm model \S+ needs skops, which this install "
                        r"lacks: pip install 'digitocr\[classical\]'", lines[0]), lines[0]


def test_plugin_manager_loads_without_scikit_learn(
    monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> None:
    without(monkeypatch, "sklearn", "skops", "scipy")
    # the classical backends are still listed (and trainable once installed), not dropped
    assert {"knn", "svm", "cnn"} <= set(plugins.get_classifiers())
    from digitocr.backends import load_model

    with pytest.raises(MissingDependency) as err:
        load_model("svm")
    assert str(err.value).endswith("needs skops, which this install lacks: "
                                   "pip install 'digitocr[classical]'")


def test_cli_read_svm_without_classical_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> None:
    without(monkeypatch, "sklearn", "skops", "scipy")
    res = CliRunner().invoke(cli, ["read", str(SAMPLES / "form-clean.png"), "--model", "svm"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1
    assert res.output.endswith("pip install 'digitocr[classical]'\n")


@pytest.mark.parametrize(("args", "missing", "message"), [
    (["evaluate"], ("matplotlib",),
     "Error: evaluate needs matplotlib, which this install lacks: pip install "
     "'digitocr[evaluate]'\n"),
    (["evaluate", "--no-figures"], ("sklearn",),
     "Error: evaluate needs scikit-learn, which this install lacks: pip install "
     "'digitocr[evaluate]'\n"),
    (["eda"], ("sklearn", "imblearn"),
     "Error: eda needs scikit-learn and imbalanced-learn, which this install lacks: pip "
     "install 'digitocr[evaluate]'\n"),
    (["train", "knn"], ("sklearn",),
     "Error: training needs scikit-learn, which this install lacks: pip install "
     "'digitocr[classical]'\n"),
    (["train", "cnn"], ("imblearn",),
     "Error: training needs imbalanced-learn, which this install lacks: pip install "
     "'digitocr[train]'\n"),
])
def test_commands_name_the_extra_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str],
    missing: tuple[str, ...], message: str,
) -> None:
    without(monkeypatch, *missing)
    # an empty data folder: the check comes first, so it is never looked into
    monkeypatch.setenv("DIGITOCR_DATA", str(tmp_path))
    res = CliRunner().invoke(cli, args)
    assert (res.exit_code, res.output) == (2, message)


def test_validate_without_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    from digitocr.results import validate

    without(monkeypatch, "jsonschema")
    with pytest.raises(MissingDependency, match=re.escape(
            "validating a record needs jsonschema, which this install lacks: "
            "pip install 'digitocr[validate]'")):
        validate({})


def test_requires_leaves_other_missing_modules_alone() -> None:
    with pytest.raises(ModuleNotFoundError), requires("nothing"):
        import digitocr_no_such_module  # noqa: F401
    check("nothing", "classical")  # no modules: nothing to check


def test_each_optional_module_is_in_its_extra_and_dev_not_in_the_reading_install() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def names(reqs: list[str]) -> set[str]:
        return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in reqs}

    reading = names(project["dependencies"])
    for module, (dist, extra) in PROVIDERS.items():
        if module == "scipy":  # scikit-learn's dependency, never named directly
            continue
        assert dist not in reading, dist
        assert dist in names(extras[extra]), (dist, extra)
        assert dist in names(extras["dev"]), dist
    # training needs what the classical backends and evaluation need
    assert names(extras["classical"]) | names(extras["evaluate"]) <= names(extras["train"])
    assert json.dumps(sorted(reading)) == json.dumps(sorted(
        ["click", "pluggy", "numpy", "opencv-python-headless", "onnxruntime", "pdf2image",
         "pillow"]))
