"""Artifacts: every built-in type round-trips, custom types by import path, atomic saves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlxlaunch.errors import ArtifactError, ArtifactNotFound
from mlxlaunch.logger.logger import Logger
from mlxlaunch.runfolder.metadata import load_yaml

REPO = Path(__file__).resolve().parent.parent


def index(run_dir: Path) -> dict:
    path = run_dir / "artifacts" / ".keys" / "artifacts.yaml"
    return load_yaml(path) if path.exists() else {}


# ---------------------------------------------------------------- built-in types


def test_pickle_round_trip_with_sub_folders(tmp_path):
    logger = Logger(tmp_path, 1)
    state = {"weights": [1.0, 2.0], "fn": len, "nested": {"a": (1, 2)}}
    path = logger.log_artifacts(state, "epoch_3/state.pkl", artifact_type="pickle")
    assert path == tmp_path / "artifacts" / "pickle" / "epoch_3" / "state.pkl"
    assert Logger(tmp_path, 1).load_artifacts("epoch_3/state.pkl") == state  # type from the index
    # MLXP's index format: {type: {".dir.key": {basename: ""}}}
    assert index(tmp_path) == {"pickle": {".epoch_3": {"state.pkl": ""}}}


def test_numpy_npy_and_npz(tmp_path):
    np = pytest.importorskip("numpy")
    logger = Logger(tmp_path, 1)
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    logger.log_artifacts(array, "w.npy", "numpy")
    logger.log_artifacts({"a": array, "b": np.array([True, False])}, "d/all.npz", "numpy")
    fresh = Logger(tmp_path, 1)
    loaded = fresh.load_artifacts("w.npy")
    assert loaded.dtype == np.float32 and (loaded == array).all()
    both = fresh.load_artifacts("d/all.npz")
    assert (
        set(both) == {"a", "b"}
        and (both["a"] == array).all()
        and both["b"].tolist() == [True, False]
    )
    # the file is exactly what numpy writes for that name (MLXP wrote .npz data under any name)
    assert (np.load(tmp_path / "artifacts" / "numpy" / "w.npy") == array).all()


def test_numpy_names_must_say_npy_or_npz(tmp_path):
    np = pytest.importorskip("numpy")
    logger = Logger(tmp_path, 1)
    with pytest.raises(ArtifactError, match=r"'\.npy'.*'\.npz'"):
        logger.log_artifacts(np.zeros(2), "weights", "numpy")
    with pytest.raises(ArtifactError, match="dict"):
        logger.log_artifacts(3, "x.npz", "numpy")
    assert index(tmp_path) == {}
    assert not any(p.is_file() for p in (tmp_path / "artifacts").rglob("*"))


def test_image_round_trip_matplotlib_and_pil(tmp_path):
    pytest.importorskip("matplotlib")
    Image = pytest.importorskip("PIL.Image")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    logger = Logger(tmp_path, 1)
    logger.log_artifacts(fig, "plots/curve.png", "image")
    png = logger.load_artifacts("plots/curve.png")
    assert png.format == "PNG" and png.size[0] > 50

    img = Image.new("RGB", (4, 3), (10, 200, 30))
    logger.log_artifacts(img, "pixel.png", "image")
    back = Logger(tmp_path, 1).load_artifacts("pixel.png")
    assert back.size == (4, 3) and back.convert("RGB").getpixel((2, 1)) == (10, 200, 30)

    logger.log_artifacts(fig, "curve.svg", "image")
    assert b"<svg" in logger.load_artifacts("curve.svg")
    with pytest.raises(ArtifactError, match="Figure or a PIL image"):
        logger.log_artifacts([1, 2], "x.png", "image")
    with pytest.raises(ArtifactError, match="ends in one of"):
        logger.log_artifacts(fig, "curve", "image")


def test_torch_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    logger = Logger(tmp_path, 1)
    logger.log_artifacts({"w": torch.ones(2)}, "model.pt", "torch")
    assert torch.equal(Logger(tmp_path, 1).load_artifacts("model.pt")["w"], torch.ones(2))


def test_torch_type_without_torch_says_so(tmp_path):
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torch is installed")
    with pytest.raises(ArtifactError, match="needs PyTorch"):
        Logger(tmp_path, 1).log_artifacts({"w": 1}, "model.pt", "torch")
    assert index(tmp_path) == {}
    assert not (tmp_path / "artifacts" / "torch" / "model.pt").exists()


# ---------------------------------------------------------------- errors and atomicity


def test_unknown_type_and_bad_names(tmp_path):
    logger = Logger(tmp_path, 1)
    with pytest.raises(ArtifactError, match="Did you mean 'pickle'"):
        logger.log_artifacts(1, "x.pkl", "pickel")
    for bad in ["../x", "/abs", "a//b", ".hidden", "a/./b", ""]:
        with pytest.raises(ArtifactError, match="artifact_name"):
            logger.log_artifacts(1, bad, "pickle")
    assert not (tmp_path / "artifacts").exists()


def test_load_missing_artifact_suggests_names(tmp_path):
    logger = Logger(tmp_path, 1)
    logger.log_artifacts(1, "model.pkl", "pickle")
    with pytest.raises(ArtifactNotFound, match="Did you mean 'model.pkl'") as info:
        logger.load_artifacts("modle.pkl")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(ArtifactNotFound):
        logger.load_artifacts("model.pkl", artifact_type="numpy")


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle me")


def test_a_failed_save_raises_keeps_the_old_artifact_and_the_index(tmp_path):
    logger = Logger(tmp_path, 1)
    logger.log_artifacts({"version": 1}, "state.pkl", "pickle")
    before = index(tmp_path)
    with pytest.raises(RuntimeError, match="cannot pickle me"):
        logger.log_artifacts({"version": 2, "bad": Unpicklable()}, "state.pkl", "pickle")
    with pytest.raises(RuntimeError):
        logger.log_artifacts(Unpicklable(), "other.pkl", "pickle")
    assert logger.load_artifacts("state.pkl") == {"version": 1}
    assert index(tmp_path) == before
    folder = tmp_path / "artifacts" / "pickle"
    assert sorted(p.name for p in folder.iterdir()) == ["state.pkl"]  # no temporary left


def save_nothing(obj, path):
    """A broken save function: returns without writing."""


def load_text(path):
    return Path(path).read_text()


def save_text(obj, path):
    Path(path).write_text(str(obj))


def test_a_save_function_that_writes_nothing_is_an_error(tmp_path):
    logger = Logger(tmp_path, 1)
    logger.register_artifact_type("broken", save_nothing, load_text)
    with pytest.raises(ArtifactError, match="without writing"):
        logger.log_artifacts("x", "x.txt", "broken")
    assert "broken" not in index(tmp_path)


# ---------------------------------------------------------------- custom types


def test_custom_type_by_function_and_by_import_path_string(tmp_path):
    logger = Logger(tmp_path, 1)
    logger.register_artifact_type("text", save_text, load_text)
    logger.register_artifact_type("text2", f"{__name__}:save_text", f"{__name__}:load_text")
    logger.log_artifacts("hello", "greeting.txt", "text")
    logger.log_artifacts("bye", "sub/farewell.txt", "text2")
    types = load_yaml(tmp_path / "artifacts" / ".keys" / "types.yaml")
    assert types["text"] == {"save": f"{__name__}:save_text", "load": f"{__name__}:load_text"}
    fresh = Logger(tmp_path, 1)  # knows the types from the run's index only
    assert fresh.load_artifacts("greeting.txt") == "hello"
    assert fresh.load_artifacts("sub/farewell.txt") == "bye"


def test_lambdas_and_local_functions_are_refused_with_a_reason(tmp_path):
    logger = Logger(tmp_path, 1)
    with pytest.raises(ArtifactError, match="lambda.*import path"):
        logger.register_artifact_type("t", lambda obj, path: None, load_text)

    def local_save(obj, path):
        pass

    with pytest.raises(ArtifactError, match="inside another function"):
        logger.register_artifact_type("t", local_save, load_text)
    with pytest.raises(ArtifactError, match="Cannot load the function"):
        logger.register_artifact_type("t", "no_such_module_xyz:save", load_text)
    with pytest.raises(ArtifactError, match="built-in"):
        logger.register_artifact_type("pickle", save_text, load_text)
    with pytest.raises(ArtifactError, match="type name"):
        logger.register_artifact_type("a/b", save_text, load_text)
    assert not (tmp_path / "artifacts" / ".keys" / "types.yaml").exists()


SWEEP_TASK = """\
import ast
import mlxlaunch


def save_repr(obj, path):
    with open(path, "w") as f:
        f.write(repr(obj))


def load_repr(path):
    with open(path) as f:
        return ast.literal_eval(f.read())


@mlxlaunch.launch(config_path="configs")
def main(ctx):
    ctx.logger.register_artifact_type("repr", save_repr, load_repr)
    ctx.logger.log_artifacts({"lr": ctx.config.optimizer.lr}, "res/params.txt", "repr")
    assert ctx.logger.load_artifacts("res/params.txt") == {"lr": ctx.config.optimizer.lr}
    print("SWEEP-RAN", flush=True)


if __name__ == "__main__":
    main()
"""

READ_BACK = """\
import json, sys
from mlxlaunch.logger import Logger
out = {}
for run_dir in sys.argv[1:]:
    out[run_dir] = Logger(run_dir, 0).load_artifacts("res/params.txt")
print(json.dumps(out))
"""


@pytest.mark.slow
def test_custom_type_across_a_sweep_read_back_by_a_fresh_process(project):
    project.write("main.py", SWEEP_TASK)
    proc = project.run("optimizer.lr=0.1,0.2,0.3", check=True)
    assert proc.stdout.count("SWEEP-RAN") == 3
    runs = [project.logs / str(i) for i in project.run_ids()]
    assert len(runs) == 3
    for run in runs:
        types = load_yaml(run / "artifacts" / ".keys" / "types.yaml")
        assert types["repr"]["save"] == "main:save_repr"
        assert Path(types["repr"]["file"]) == project.root / "main.py"
    # a fresh process elsewhere: imports main.py by its recorded file, without running the sweep
    elsewhere = project.root / "elsewhere"
    elsewhere.mkdir()
    read = subprocess.run(
        [sys.executable, "-c", READ_BACK, *map(str, runs)],
        cwd=elsewhere,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr
    assert "SWEEP-RAN" not in read.stdout
    import json

    loaded = json.loads(read.stdout)
    assert sorted(v["lr"] for v in loaded.values()) == [0.1, 0.2, 0.3]
    assert project.run_ids() == [1, 2, 3]  # reading launched nothing


def test_helper_module_custom_type_in_a_fresh_process(tmp_path):
    """Functions in an importable module are recorded as module:function, without a file."""
    (tmp_path / "mytypes.py").write_text(
        textwrap.dedent(
            """
            def save(obj, path):
                open(path, "w").write(obj.upper())

            def load(path):
                return open(path).read()
            """
        )
    )
    script = textwrap.dedent(
        """
        import sys
        from mlxlaunch.logger import Logger
        import mytypes
        logger = Logger(sys.argv[1], 1)
        if sys.argv[2] == "write":
            logger.register_artifact_type("upper", mytypes.save, mytypes.load)
            logger.log_artifacts("abc", "x.txt", "upper")
        else:
            print(logger.load_artifacts("x.txt"))
        """
    )
    from conftest import isolated_env

    env = isolated_env(PYTHONPATH=f"{REPO}:{tmp_path}")
    run_dir = tmp_path / "run"
    for mode in ("write", "read"):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(run_dir), mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ABC"
    types = load_yaml(run_dir / "artifacts" / ".keys" / "types.yaml")
    assert types == {"upper": {"save": "mytypes:save", "load": "mytypes:load"}}


def test_a_type_mixing_a_script_and_a_module_loads_in_a_fresh_process(tmp_path):
    (tmp_path / "helpers.py").write_text("def load(path):\n    return open(path).read()\n")
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import sys
            from mlxlaunch.logger import Logger
            from helpers import load

            def save(obj, path):
                open(path, "w").write(obj * 2)

            if __name__ == "__main__":
                logger = Logger(sys.argv[1], 1)
                logger.register_artifact_type("twice", save, load)
                logger.log_artifacts("ab", "x.txt", "twice")
            """
        )
    )
    from conftest import isolated_env

    env = isolated_env(PYTHONPATH=str(REPO))
    run_dir = tmp_path / "run"
    write = subprocess.run(
        [sys.executable, "train.py", str(run_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert write.returncode == 0, write.stderr
    types = load_yaml(run_dir / "artifacts" / ".keys" / "types.yaml")
    assert types["twice"]["save"] == "train:save" and types["twice"]["load"] == "helpers:load"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    read = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from mlxlaunch.logger import Logger; print(Logger({str(run_dir)!r}, 1).load_artifacts('x.txt'))",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "abab"


def test_functions_of_an_interactive_session_are_refused(tmp_path):
    code = textwrap.dedent(
        f"""
        from mlxlaunch.logger import Logger
        def save(obj, path): pass
        def load(path): pass
        try:
            Logger({str(tmp_path)!r}, 1).register_artifact_type("t", save, load)
        except Exception as exc:
            print(type(exc).__name__, exc)
        """
    )
    from conftest import isolated_env

    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=isolated_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.startswith("ArtifactError") and "interactive session" in proc.stdout


def test_a_damaged_index_is_a_clear_error(tmp_path):
    logger = Logger(tmp_path / "1", 1)
    logger.log_checkpoint({"epoch": 1}, "last")
    index = tmp_path / "1" / "artifacts" / ".keys" / "artifacts.yaml"
    index.write_text("pickle: [x\n")
    fresh = Logger(tmp_path / "1", 1)
    with pytest.raises(ArtifactError, match="artifacts.yaml is damaged"):
        fresh.load_artifacts("last")
    assert fresh.load_artifacts("last", "pickle") == {"epoch": 1}
    with pytest.raises(ArtifactError, match="artifacts.yaml is damaged"):
        fresh.log_artifacts([1], "x.pkl", "pickle")
