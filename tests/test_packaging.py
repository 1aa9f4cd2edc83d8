"""The install story: one dependency list in three files, constraints that satisfy it,
`import helpers` from anywhere, one quick-mode switch that never changes the split."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_name(d): d.replace(" ", "") for d in deps}


def _requirements() -> dict[str, str]:
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    return {_name(l): l.replace(" ", "") for l in lines if l and not l.startswith("-")}


def _environment_yml() -> dict[str, str]:
    """The packages of environment.yml (conda and pip sections), without a YAML library."""
    deps = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        match = re.match(r"^\s*-\s+([A-Za-z][\w.-]*\s*[<>=!~][^#]*|[A-Za-z][\w.-]*)\s*(#.*)?$", line)
        if match and not line.strip().startswith("- -"):
            spec = match.group(1).replace(" ", "")
            deps[_name(spec)] = spec
    deps.pop("python", None)
    deps.pop("pip", None)
    return deps


def test_the_three_dependency_lists_agree():
    pyproject, requirements, conda = _pyproject(), _requirements(), _environment_yml()
    assert set(pyproject) == {"torch", "torchvision", "numpy", "pillow", "tqdm", "matplotlib",
                              "jupyterlab", "ipywidgets", "nbval", "pytest", "pytest-xdist"}
    assert requirements == pyproject, "requirements.txt differs from pyproject.toml"
    assert conda == pyproject, "environment.yml differs from pyproject.toml"


def test_package_has_lower_bounds_not_pins():
    for spec in _pyproject().values():
        assert ">=" in spec and "==" not in spec, spec


def test_constraints_pin_every_dependency_within_its_bounds():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    as_tuple = lambda v: tuple(int(p) for p in re.findall(r"\d+", v)[:3])
    for name, spec in _pyproject().items():
        assert name in pins, f"constraints.txt does not pin {name}"
        lower = spec.split(">=")[1]
        assert as_tuple(pins[name]) >= as_tuple(lower), f"{name}=={pins[name]} is below {lower}"


def test_helpers_import_from_the_notebooks_folder_without_path_tricks():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import helpers, pathlib; print(pathlib.Path(helpers.__file__).resolve().parent.parent)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "notebooks", env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == ROOT


def test_quick_mode_changes_run_length_but_never_the_split():
    code = ("import helpers, hashlib; from helpers import config;"
            "y = helpers.load_cats_dogs().y_train; s = helpers.split_labeled_unlabeled(y);"
            "print(config.QUICK, config.pick('full', 'quick'), hashlib.sha256(s.labeled.numpy().tobytes()).hexdigest(),"
            "config.OUTPUT_DIR)")
    runs = {}
    for flag in ("0", "1"):
        env = {**os.environ, "PSEUDO_QUICK": flag}
        runs[flag] = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                    text=True, check=True).stdout.split()
    assert runs["0"][:2] == ["False", "full"] and runs["1"][:2] == ["True", "quick"]
    assert runs["0"][2] == runs["1"][2]
    # quick runs save beside the full ones, never over them
    assert Path(runs["1"][3]) == Path(runs["0"][3]) / "quick"


def test_ci_runs_the_test_command_written_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    marker = readme.index("<!-- test-command -->")
    command = [l for l in readme[marker:].splitlines()[1:] if l and not l.startswith("```")][0]
    assert "pytest" in command and "--nbval-lax" in command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "setup.sh --install-only" in ci


def test_stored_notebooks_hold_no_errors_absolute_paths_or_unfinished_progress_bars():
    # A reader opening a notebook sees its stored outputs: no tracebacks, no machine's paths, and
    # no progress bar frozen at its first state (a widget's plain-text fallback reads "0%|").
    bar = re.compile(r"(?<!10)0%\|")
    machine_paths = {str(ROOT.parent), tempfile.gettempdir()}  # where this checkout and temporary files live
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                # base64 images are left out: their letters can spell "/tmp" by chance
                text = json.dumps({k: v for k, v in out.items() if k != "data"}) + json.dumps(
                    {k: v for k, v in out.get("data", {}).items() if not k.startswith("image/")})
                assert out.get("output_type") != "error", f"{path.name}: a stored error"
                assert not any(p in text for p in machine_paths), f"{path.name}: an absolute path"
                plain = "".join(out.get("data", {}).get("text/plain", "")) + "".join(out.get("text", ""))
                assert not bar.search(plain), f"{path.name}: an unfinished progress bar"


def test_stored_notebooks_are_valid_nbformat():
    # Jupyter, nbviewer and Jupyter Book read notebooks through nbformat's schema: a markdown cell
    # with an "outputs" key (which hand-written JSON once had) is invalid there.
    import nbformat
    paths = [p for folder in ("notebooks", "notebooks/solutions", "student") for p in sorted((ROOT / folder).glob("*.ipynb"))]
    assert len(paths) > 20
    for path in paths:
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))


def test_the_license_is_an_spdx_string_so_the_install_prints_no_deprecation_warning():
    # setuptools 77 and newer warn, at every install, about a license written as a TOML table
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert "setuptools>=77" in pyproject["build-system"]["requires"]



def test_the_wheel_carries_the_script_so_notebook_15_runs_without_a_checkout(tmp_path):
    # What Colab installs (`pip install --no-deps git+...`): a wheel of this project. It must hold
    # pseudo_labeling.py beside helpers, and `python -m pseudo_labeling` must run from another folder.
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "outputs", "data", "*.egg-info", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("pseudo_labeling_course-*.whl")
    import zipfile
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pseudo_labeling.py", "helpers/__init__.py", "helpers/methods/generative.py"} <= names
    assert not any(n.startswith(("tests/", "notebooks/", "outputs/", "data/")) for n in names)
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                                str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    content = tmp_path / "content"
    content.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSEUDO_")} | {"PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-m", "pseudo_labeling", "--help"], cwd=content, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--labeled" in run.stdout and "--unlabeled" in run.stdout
