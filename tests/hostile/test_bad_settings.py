"""Threat (a user's slip): settings, overrides and values that used to pass silently.

Each gets one line saying what is wrong and what to do, before any run folder is
made, or a documented behaviour (docs/settings.md, docs/logging.md): a heartbeat
that could never go stale, run folders next to ``main.py``, a hand-made folder
turned into a run, two keys that are one key once written, a user config's own
``launcher:`` key that the command line could not reach.
"""

from __future__ import annotations

import subprocess

import pytest

import mlxlaunch


def _one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("mlxlaunch: error:")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("arg", ["=5", "+=5", "~=5"])
def test_an_override_without_a_key_gives_one_line(project, arg: str) -> None:
    _one_line_error(project.run(arg), f"'{arg}' has no key", "key=value")
    assert project.run_ids() == []


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_a_heartbeat_interval_that_never_goes_stale_is_refused(project, value: str) -> None:
    """With nan (or 0, -1, inf) a run killed on another node would stay RUNNING forever."""
    proc = project.run(f"+launcher.heartbeat_interval={value}")
    _one_line_error(proc, "heartbeat_interval", "greater than 0")
    assert project.run_ids() == []


def test_a_heartbeat_interval_in_launcher_yaml_is_checked_too(project) -> None:
    project.write("configs/launcher.yaml", "heartbeat_interval: .nan\n")
    _one_line_error(project.run(), "heartbeat_interval")


@pytest.mark.parametrize("value", ["", "' '"])
def test_an_empty_parent_log_dir_is_refused(project, value: str) -> None:
    """'' used to put run folders (1, 2 ...) next to main.py."""
    proc = project.run(f"+launcher.logger.parent_log_dir={value}")
    _one_line_error(proc, "logger.parent_log_dir", "empty", "./logs")
    assert sorted(p.name for p in project.root.iterdir()) == ["configs", "main.py"]


def test_a_forced_id_naming_a_hand_made_folder_is_refused(project) -> None:
    mine = project.logs / "5"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    proc = project.run("+launcher.logger.forced_log_id=5")
    _one_line_error(proc, str(mine), "not a run folder", "forced_log_id")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]  # not made a run


def test_a_forced_id_naming_an_empty_folder_or_a_run_reopens_it(project) -> None:
    (project.logs / "5").mkdir(parents=True)
    project.run("+launcher.logger.forced_log_id=5", check=True)
    assert project.info(5)["status"] == "COMPLETE"
    project.run("+launcher.logger.forced_log_id=5", check=True)  # a resume
    assert project.info(5)["attempt"] == 2


def test_two_config_keys_that_read_as_one_are_refused(project) -> None:
    """YAML's 1 and '1' are two keys, but the Reader's column config.d.1 keeps one of them."""
    project.write("configs/config.yaml", "seed: 0\nnum_epoch: 1\nd:\n  1: a\n  '1': b\n")
    _one_line_error(project.run(), "two keys 'd.1'", "Rename one")
    assert project.run_ids() == []


@pytest.mark.parametrize(
    "config",
    [
        "'a.b': 1\na:\n  b: 2\n",  # a dotted key next to the nested one
        "a:\n  b: 2\n'a.b': 1\n",  # the other order
        "x:\n  'a.b': 1\n  a:\n    b: 2\n",  # deeper
        "'a.b.c': 1\na:\n  'b.c': 2\n",  # two dotted keys
        "'a.b': {}\na:\n  b: 2\n",  # an empty mapping is a value too
    ],
)
def test_a_dotted_key_that_reads_as_a_nested_one_is_refused(project, config: str) -> None:
    """The Reader names config.a.b both "a.b": 1 and a: {b: 2}: it kept one value, silently."""
    project.write("configs/config.yaml", "seed: 0\nnum_epoch: 1\n" + config)
    _one_line_error(project.run(), "two keys that read as", "Rename one")
    assert project.run_ids() == []


def test_dotted_keys_that_name_distinct_columns_are_fine(project) -> None:
    """A dotted key whose name is a prefix of nested ones (config.a.b.c, config.a.b.d)."""
    config = "seed: 0\nnum_epoch: 1\noptimizer:\n  lr: 0.1\n'a.b':\n  c: 1\na:\n  b:\n    d: 2\n"
    project.write("configs/config.yaml", config)
    project.run(check=True)
    assert project.run_ids() == [1]
    row = mlxlaunch.Reader(project.logs).search("").to_pandas().iloc[0]
    assert (row["config.a.b.c"], row["config.a.b.d"]) == (1, 2)


@pytest.mark.parametrize(
    "metrics",
    [{1: "a", "1": "b"}, {"x": {1: "a", "1": "b"}}, {"x": {True: 1, "True": 2}}],
)
def test_two_metric_keys_that_are_one_in_json_are_refused(tmp_path, metrics) -> None:
    logger = mlxlaunch.Logger(tmp_path / "logs")
    with pytest.raises(TypeError, match="are both .* in JSON"):
        logger.log_metrics(metrics, log_name="train")
    assert not (logger.log_dir / "metrics" / "train.json").exists()


LAUNCHER_KEY_TASK = """
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    print("foo", ctx.config.launcher.foo, "workers", ctx.settings.n_workers)

if __name__ == "__main__":
    main()
"""


def test_a_users_own_launcher_key_is_set_from_the_command_line(project) -> None:
    project.write("configs/config.yaml", "seed: 0\nlauncher:\n  foo: 1\n")
    project.write("main.py", LAUNCHER_KEY_TASK)
    assert "foo 2 workers 1" in project.run("launcher.foo=2", check=True).stdout
    # a sweep over it, as over any key
    out = project.run("launcher.foo=3,4", check=True).stdout
    assert "foo 3" in out and "foo 4" in out
    # +launcher.* stays the launcher's settings
    assert "foo 1 workers 2" in project.run("+launcher.n_workers=2", check=True).stdout
    _one_line_error(
        project.run("+launcher.foo=2"), "key of your own config", "write launcher.foo=2"
    )
