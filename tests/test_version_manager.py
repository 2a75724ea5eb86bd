"""The version manager against real git repositories and real processes.

Each test makes a git repository in a temporary folder, launches its script
with ``+launcher.use_version_manager=True`` as a user would (a subprocess whose
stdin is not a terminal, unless the test gives it a pseudo-terminal), and checks
what ran and what was recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from executor_suite import SUITE_TASK, ExecutorSuite

from mlxlaunch import vcs as vm
from mlxlaunch.runfolder.metadata import load_yaml

VM = "+launcher.use_version_manager=True"

#: A task that prints which code it runs, and edits the developer's copy when asked.
TASK = """\
import os
from pathlib import Path
import mlxlaunch
import helper

CONSTANT = 1

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    print(f"point {ctx.info.point_index} constant {CONSTANT} helper {helper.VALUE} "
          f"file {__file__} cwd {os.getcwd()}", flush=True)
    edit = ctx.config.get("edit_developer_tree")
    if edit and ctx.info.point_index == 0:
        for name, old, new in (("main.py", "CONSTANT = 1", "CONSTANT = 2"),
                               ("src/helper.py", "VALUE = 10", "VALUE = 20")):
            path = Path(edit) / name
            path.write_text(path.read_text().replace(old, new))

if __name__ == "__main__":
    main()
"""


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; return its stdout."""
    proc = subprocess.run(
        ["git", "-C", str(root), "-c", "protocol.file.allow=always", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def init_repo(root: Path) -> None:
    """``git init`` with a local identity, and one commit of everything in ``root``."""
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "researcher@example.com")
    git(root, "config", "user.name", "Researcher")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first commit")


def vm_env(project: Any) -> dict[str, str]:
    """The project's environment with its ``src/`` folder (absolute) on PYTHONPATH."""
    env = project.env()
    env["PYTHONPATH"] = str(project.root / "src") + os.pathsep + env["PYTHONPATH"]
    return env


def launch(
    project: Any, *args: str, script: str = "main.py", **kw: Any
) -> subprocess.CompletedProcess:
    """Run ``script`` with the version manager, ``src/`` on PYTHONPATH, stdin not a terminal."""
    return subprocess.run(
        [sys.executable, script, VM, *args],
        cwd=project.root,
        env=kw.pop("env", None) or vm_env(project),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=kw.pop("stdin", subprocess.DEVNULL),
        **kw,
    )


def printed(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if line.startswith("point ")]


@pytest.fixture
def repo(project: Any) -> Any:
    """The ``project`` fixture as a git repository with one commit, running :data:`TASK`."""
    project.write("configs/config.yaml", "seed: 0\n")
    project.write("main.py", TASK)
    project.write("src/helper.py", "VALUE = 10\n")
    init_repo(project.root)
    return project


def commits(root: Path) -> list[str]:
    return git(root, "rev-list", "HEAD").split()


def git_info(project: Any, log_id: int) -> dict[str, Any]:
    return project.info(log_id)["git"]


# ---------------------------------------------------------------- clean tree


def test_clean_tree_runs_the_snapshot_and_records_git(repo: Any) -> None:
    git(repo.root, "remote", "add", "origin", "https://alice:s3cret@example.com/lab/proj.git")
    proc = launch(repo, "+x=1,2")
    assert proc.returncode == 0, proc.stderr
    head = commits(repo.root)[0]
    snapshot = repo.root / ".mlxlaunch-work" / repo.root.name / head
    assert (snapshot / vm.SNAPSHOT_MARKER).is_file()
    lines = printed(proc)
    assert len(lines) == 2
    for line in lines:
        assert f"file {snapshot / 'main.py'}" in line
        assert f"cwd {snapshot}" in line
    for log_id in (1, 2):
        info = repo.info(log_id)
        assert info["script"] == str(snapshot / "main.py")
        assert info["git"] == {
            "commit": head,
            "branch": "main",
            "detached": False,
            "remote": "https://example.com/lab/proj.git",  # credentials never recorded
            "dirty": False,
            "on_dirty": "clean",
            "snapshot": str(snapshot),
            "repository": str(repo.root.resolve()),
        }
        meta = repo.logs / str(log_id) / "metadata"
        assert not (meta / vm.DIFF_FILE).exists()
        requirements = (meta / vm.REQUIREMENTS_FILE).read_text().splitlines()
        assert any(line.lower().startswith("pyyaml==") for line in requirements)
    # two fresh interpreters, neither of them the launcher
    assert repo.info(1)["pid"] != repo.info(2)["pid"]


def test_own_outputs_inside_the_repository_do_not_make_it_dirty(repo: Any) -> None:
    assert launch(repo).returncode == 0
    assert (repo.logs / "1").is_dir() and (repo.root / ".mlxlaunch-work").is_dir()
    # logs/ is now an untracked folder of the repository; the snapshot folder hides itself
    # from git with a .gitignore of its own
    status = git(repo.root, "status", "--porcelain")
    assert "?? logs/" in status and ".mlxlaunch-work" not in status
    # ...yet a strict policy still finds the tree clean, and .gitignore was not created
    proc = launch(repo, "+launcher.version_manager.on_dirty=fail")
    assert proc.returncode == 0, proc.stderr
    assert not (repo.root / ".gitignore").exists()
    assert len(list((repo.root / ".mlxlaunch-work" / repo.root.name).iterdir())) == 1


def test_python_bytecode_written_by_the_launch_does_not_make_it_dirty(repo: Any) -> None:
    """The launcher imports the user's modules, and Python writes ``__pycache__`` next to
    them (a repository without a .gitignore): that is no uncommitted change."""
    env = {k: v for k, v in vm_env(repo).items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(2):
        proc = launch(repo, "+launcher.version_manager.on_dirty=fail", env=env)
        assert proc.returncode == 0, proc.stderr
    assert (repo.root / "src" / "__pycache__").is_dir()
    make_dirty(repo)
    proc = launch(repo, "+launcher.version_manager.on_dirty=commit", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "__pycache__" not in git(repo.root, "show", "--stat", "HEAD")


# ---------------------------------------------------------------- dirty-tree policies


def make_dirty(project: Any) -> None:
    path = project.root / "main.py"
    path.write_text(path.read_text().replace("CONSTANT = 1", "CONSTANT = 2"))
    project.write("notes.txt", "new untracked file\n")


def test_dirty_tree_with_fail_lists_the_files_and_runs_nothing(repo: Any) -> None:
    make_dirty(repo)
    proc = launch(repo, "+launcher.version_manager.on_dirty=fail")
    assert proc.returncode != 0
    assert "uncommitted changes (on_dirty=fail)" in proc.stderr
    assert " M main.py" in proc.stderr and "?? notes.txt" in proc.stderr
    assert "on_dirty=fail|commit|snapshot_dirty|ignore" in proc.stderr
    assert printed(proc) == []
    assert repo.run_ids() == []
    assert not (repo.root / ".mlxlaunch-work").exists()


def test_commit_policy_makes_one_commit_with_a_clear_message(repo: Any) -> None:
    make_dirty(repo)
    before = commits(repo.root)
    proc = launch(repo, "+launcher.version_manager.on_dirty=commit", "+x=1,2")
    assert proc.returncode == 0, proc.stderr
    after = commits(repo.root)
    assert after[1:] == before  # exactly one new commit, on top of the old HEAD
    message = git(repo.root, "log", "-1", "--format=%B")
    assert message.startswith("mlxlaunch: commit uncommitted changes before launching")
    assert "on_dirty=commit" in message and "?? notes.txt" in message
    committed = git(repo.root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["main.py", "notes.txt"]  # not logs/, not the snapshots
    assert git(repo.root, "status", "--porcelain", "--untracked-files=no") == ""
    assert all(" constant 2 " in line for line in printed(proc))
    for log_id in (1, 2):
        assert git_info(repo, log_id)["commit"] == after[0]
        assert git_info(repo, log_id)["dirty"] is False
        assert git_info(repo, log_id)["on_dirty"] == "commit"


def test_snapshot_dirty_runs_the_uncommitted_code_and_records_the_diff(
    repo: Any, tmp_path_factory: Any
) -> None:
    make_dirty(repo)
    head = commits(repo.root)[0]
    proc = launch(repo, "+launcher.version_manager.on_dirty=snapshot_dirty")
    assert proc.returncode == 0, proc.stderr
    assert " constant 2 " in printed(proc)[0]
    info = git_info(repo, 1)
    assert info["commit"] == head and info["dirty"] is True and info["diff"] == "metadata/git.diff"
    snapshot = Path(info["snapshot"])
    assert snapshot.name.startswith(head + "-")
    # the developer's repository is untouched: same HEAD, nothing staged
    assert commits(repo.root)[0] == head
    assert git(repo.root, "diff", "--cached") == ""
    # commit + diff rebuild exactly the code that ran
    clone = tmp_path_factory.mktemp("clone")
    git(clone, "clone", "-q", str(repo.root), ".")
    git(clone, "checkout", "-q", head)
    git(clone, "apply", str(repo.logs / "1" / "metadata" / vm.DIFF_FILE))
    for name in ("main.py", "notes.txt", "src/helper.py"):
        assert (clone / name).read_text() == (snapshot / name).read_text()


def test_ignore_runs_the_last_commit_and_lists_what_was_left_out(repo: Any) -> None:
    make_dirty(repo)
    proc = launch(repo, "+launcher.version_manager.on_dirty=ignore")
    assert proc.returncode == 0, proc.stderr
    assert " constant 1 " in printed(proc)[0]
    info = git_info(repo, 1)
    assert info["dirty"] is False and info["on_dirty"] == "ignore"
    assert info["ignored_changes"] == [" M main.py", "?? notes.txt"]
    assert not (repo.logs / "1" / "metadata" / vm.DIFF_FILE).exists()


def test_ignore_does_not_list_the_uncommitted_config_the_run_used(repo: Any) -> None:
    """The config folder is composed as it is (before the snapshot): its changes ran."""
    make_dirty(repo)
    repo.write("configs/config.yaml", "seed: 7\n")
    repo.write("configs/extra.yaml", "x: 1\n")
    proc = launch(repo, "+launcher.version_manager.on_dirty=ignore")
    assert proc.returncode == 0, proc.stderr
    assert " constant 1 " in printed(proc)[0]  # main.py's change was ignored
    assert load_yaml(repo.logs / "1" / "metadata" / "config.yaml")["seed"] == 7  # this was not
    info = git_info(repo, 1)
    assert info["ignored_changes"] == [" M main.py", "?? notes.txt"]
    assert info["used_changes"] == [" M configs/config.yaml", "?? configs/extra.yaml"]


def test_every_policy_but_ask_is_explained_at_the_prompt() -> None:
    from mlxlaunch.launching.settings import DIRTY_POLICIES

    assert set(vm.POLICY_HELP) == set(DIRTY_POLICIES) - {"ask"}


def test_a_bad_policy_is_a_usage_error_listing_the_valid_ones(repo: Any) -> None:
    proc = launch(repo, "+launcher.version_manager.on_dirty=comit")
    assert proc.returncode == 2
    assert "Did you mean 'commit'?" in proc.stderr
    assert "ask, fail, commit, snapshot_dirty, ignore" in proc.stderr
    proc = launch(repo, "+launcher.version_manager.non_interactive=ask")
    assert proc.returncode == 2 and "fail, commit, snapshot_dirty, ignore" in proc.stderr


# ---------------------------------------------------------------- ask: terminal or not


def test_ask_without_a_terminal_applies_the_fallback_without_reading_stdin(repo: Any) -> None:
    make_dirty(repo)
    env = vm_env(repo)
    proc = subprocess.Popen(
        [sys.executable, "main.py", VM],  # on_dirty=ask, non_interactive=fail by default
        cwd=repo.root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # An answer waits in the pipe, which stays open: reading it would pick "commit";
    # waiting for more would hang until the timeout.
    proc.stdin.write("commit\n")
    proc.stdin.flush()
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
    err = proc.stderr.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    assert proc.returncode != 0
    assert "on_dirty=ask without a terminal, so non_interactive=fail" in err
    assert "What to do?" not in err
    assert len(commits(repo.root)) == 1  # the piped "commit" was not obeyed
    assert repo.run_ids() == []


def test_ask_without_a_terminal_can_fall_back_to_snapshot_dirty(repo: Any) -> None:
    make_dirty(repo)
    proc = launch(repo, "+launcher.version_manager.non_interactive=snapshot_dirty")
    assert proc.returncode == 0, proc.stderr
    assert " constant 2 " in printed(proc)[0]
    assert git_info(repo, 1)["on_dirty"] == "snapshot_dirty"


def test_ask_on_a_terminal_prompts_once_per_command(repo: Any) -> None:
    import pty

    make_dirty(repo)
    master, slave = pty.openpty()
    try:
        os.write(master, b"snap\n")  # a prefix is enough; the terminal buffers the line
        proc = launch(repo, "+x=1,2,3", stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("What to do?") == 1  # once per command, not per point
    assert " M main.py" in proc.stderr
    assert [" constant 2 " in line for line in printed(proc)] == [True] * 3
    assert {git_info(repo, i)["on_dirty"] for i in (1, 2, 3)} == {"snapshot_dirty"}


# ---------------------------------------------------------------- the snapshot is what runs


def test_editing_the_developer_tree_after_launch_does_not_reach_later_points(repo: Any) -> None:
    # Point 0 edits the developer's main.py and src/helper.py (its absolute path on PYTHONPATH);
    # point 1 starts afterwards, in a fresh interpreter, and must still run the snapshot.
    proc = launch(repo, f"+edit_developer_tree={repo.root}", "+x=1,2")
    assert proc.returncode == 0, proc.stderr
    assert "CONSTANT = 2" in (repo.root / "main.py").read_text()
    assert "VALUE = 20" in (repo.root / "src" / "helper.py").read_text()
    lines = printed(proc)
    assert len(lines) == 2
    assert lines[1].startswith("point 1 constant 1 helper 10 ")
    assert git_info(repo, 2)["dirty"] is False


def test_resubmit_of_a_local_run_runs_its_snapshot_not_the_developer_tree(repo: Any) -> None:
    from mlxlaunch import runfolder

    assert launch(repo).returncode == 0
    info = repo.info(1)
    runfolder.write_info(repo.logs / "1", dict(info, status="FAILED"))
    snapshot = git_info(repo, 1)["snapshot"]
    (repo.root / "src" / "helper.py").write_text("VALUE = 20\n")  # uncommitted edit
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", str(repo.logs), "1"],
        cwd=repo.root, env=vm_env(repo), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = printed(proc)
    assert line.startswith("point 0 constant 1 helper 10 ")  # src/ on PYTHONPATH: the snapshot's
    assert line.endswith(f"cwd {snapshot}")
    assert repo.info(1)["status"] == "COMPLETE"


def test_resubmit_of_a_scheduled_run_exports_the_snapshot_pythonpath(repo: Any) -> None:
    bin_dir = repo.root.parent / f"{repo.root.name}-bin"
    bin_dir.mkdir()
    for name, body in (("sbatch", "echo 'sbatch: error: down' >&2; exit 1"), ("scontrol", "")):
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = vm_env(repo)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = launch(repo, "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm", env=env)
    assert proc.returncode == 1 and repo.info(1)["status"] == "SUBMIT_FAILED", proc.stderr
    (bin_dir / "sbatch").write_text("#!/bin/bash\necho 77\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", str(repo.logs)],
        cwd=repo.root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    script = Path(repo.info(1)["scheduler"]["script"]).read_text()
    snapshot = git_info(repo, 1)["snapshot"]
    assert f"export PYTHONPATH={snapshot}/src{os.pathsep}" in script


def test_two_concurrent_launches_share_one_snapshot(repo: Any) -> None:
    env = vm_env(repo)
    procs = [
        subprocess.Popen(
            [sys.executable, "main.py", VM, f"+x={i}"],
            cwd=repo.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    snapshots = {git_info(repo, i)["snapshot"] for i in (1, 2)}
    assert len(snapshots) == 1
    work = repo.root / ".mlxlaunch-work" / repo.root.name
    assert [p.name for p in work.iterdir()] == [commits(repo.root)[0]]  # no leftovers


def test_concurrent_snapshot_builders_agree_and_leave_no_leftovers(repo: Any) -> None:
    repository = vm.open_repository(repo.root / "main.py")
    head = commits(repo.root)[0]
    parent = repo.root / "work"
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(vm.ensure_snapshot(repository, head, None, parent))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {parent / head}
    assert [p.name for p in parent.iterdir()] == [head]
    assert (parent / head / "src" / "helper.py").read_text() == "VALUE = 10\n"


def test_an_incomplete_snapshot_is_rebuilt(repo: Any) -> None:
    repository = vm.open_repository(repo.root / "main.py")
    head = commits(repo.root)[0]
    parent = repo.root / "work"
    broken = parent / head
    broken.mkdir(parents=True)
    (broken / "main.py").write_text("half written")
    snapshot = vm.ensure_snapshot(repository, head, None, parent)
    assert snapshot == broken and vm.is_complete(snapshot)
    assert (snapshot / "main.py").read_text() == (repo.root / "main.py").read_text()
    assert load_yaml(snapshot / vm.SNAPSHOT_MARKER)["commit"] == head


def test_an_incomplete_snapshot_moved_aside_by_another_command_is_no_error(
    repo: Any, monkeypatch: Any
) -> None:
    """Two commands find the same leftover; the other one moves it aside just before us."""
    repository = vm.open_repository(repo.root / "main.py")
    head = commits(repo.root)[0]
    parent = repo.root / "work"
    broken = parent / head
    broken.mkdir(parents=True)
    (broken / "main.py").write_text("half written")
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(src) == broken and Path(dst).name.startswith(".broken-") and broken.exists():
            real_rename(broken, parent / ".broken-by-the-other-command")
        real_rename(src, dst)

    monkeypatch.setattr(vm.os, "rename", rename)
    snapshot = vm.ensure_snapshot(repository, head, None, parent)
    assert snapshot == broken and vm.is_complete(snapshot)


# ---------------------------------------------------------------- repositories of every kind


def test_not_a_git_repository_is_a_clear_error(project: Any) -> None:
    proc = project.run(VM)
    assert proc.returncode == 1
    assert "is not inside a git repository" in proc.stderr and "git init" in proc.stderr
    assert project.run_ids() == []


def test_a_repository_without_commits_is_a_clear_error(project: Any) -> None:
    git(project.root, "init", "-q")
    proc = project.run(VM)
    assert proc.returncode == 1
    assert "has no commit yet" in proc.stderr
    assert project.run_ids() == []


def test_detached_head_is_allowed_and_recorded(repo: Any) -> None:
    head = commits(repo.root)[0]
    git(repo.root, "checkout", "-q", "--detach", head)
    proc = launch(repo)
    assert proc.returncode == 0, proc.stderr
    info = git_info(repo, 1)
    assert info["commit"] == head and info["branch"] is None and info["detached"] is True


def test_a_script_that_is_not_committed_is_a_clear_error(repo: Any) -> None:
    (repo.root / "other.py").write_text((repo.root / "main.py").read_text())
    proc = launch(repo, "+launcher.version_manager.on_dirty=ignore", script="other.py")
    assert proc.returncode == 1
    assert "other.py is not in commit" in proc.stderr and "snapshot_dirty" in proc.stderr


def test_submodules_are_copied_at_their_recorded_commit(repo: Any, tmp_path_factory: Any) -> None:
    lib = tmp_path_factory.mktemp("lib")
    (lib / "lib_module.py").write_text("NAME = 'v1'\n")
    init_repo(lib)
    git(repo.root, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(repo.root, "commit", "-q", "-m", "add submodule")
    proc = launch(repo)
    assert proc.returncode == 0, proc.stderr
    snapshot = Path(git_info(repo, 1)["snapshot"])
    assert (snapshot / "vendor" / "lib" / "lib_module.py").read_text() == "NAME = 'v1'\n"
    # an uncommitted edit inside the submodule cannot be captured: refused, not dropped
    (repo.root / "vendor" / "lib" / "lib_module.py").write_text("NAME = 'v2'\n")
    proc = launch(repo, "+launcher.version_manager.on_dirty=snapshot_dirty")
    assert proc.returncode == 1
    assert "Submodules vendor/lib have uncommitted changes" in proc.stderr


# ---------------------------------------------------------------- the executor contract


class TestVersionManagedExecutor(ExecutorSuite):
    """The shared executor contract holds when every point runs from a code snapshot."""

    launcher_overrides = [VM, "+launcher.version_manager.on_dirty=fail"]

    @pytest.fixture
    def suite_project(self, project: Any) -> Any:
        project.write("main.py", SUITE_TASK)
        init_repo(project.root)
        return project


# ---------------------------------------------------------------- dry run


def _fake_slurm(repo: Any) -> dict[str, str]:
    bin_dir = repo.root.parent / f"{repo.root.name}-bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("sbatch", "echo 77"), ("scontrol", ""), ("squeue", "")):
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = vm_env(repo)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "snapshot_dirty"])
def test_a_dry_run_shows_the_snapshot_paths_the_launch_then_submits(repo: Any, dirty: bool) -> None:
    if dirty:
        make_dirty(repo)
    env = _fake_slurm(repo)
    args = [
        "+launcher.use_scheduler=true",
        "+launcher.scheduler.name=slurm",
        "+launcher.version_manager.on_dirty=snapshot_dirty",
    ]
    dry = launch(repo, *args, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert not (repo.root / ".mlxlaunch-work").exists() and not repo.logs.exists()  # nothing made
    assert commits(repo.root) == commits(repo.root)[-1:]  # and no commit

    real = launch(repo, *args, env=env)
    assert real.returncode == 0, real.stderr
    snapshot = git_info(repo, 1)["snapshot"]
    submitted = Path(repo.info(1)["scheduler"]["script"]).read_text()
    assert f"run from the snapshot {snapshot} (made at launch)" in dry.stdout
    # the dry run's job script runs the snapshot's script, in the snapshot, as submitted
    assert f"{snapshot}/main.py" in dry.stdout and f"cd {snapshot}" in dry.stdout
    assert f"{snapshot}/main.py" in submitted
    assert str(repo.root / "main.py") not in dry.stdout.replace(f"{snapshot}/main.py", "")
