"""Version manager: runs execute a snapshot of committed code, and record exactly which code ran.

With ``+launcher.use_version_manager=True`` a command, before it prepares any run folder:

1. finds the git repository that holds the script (``open_repository``);
2. lists uncommitted changes, leaving out the launcher's own outputs (the logs
   folder and the snapshot folder), and applies the ``on_dirty`` policy once
   for the whole command (``choose_policy``; it prompts only on a terminal);
3. materialises the code to run -- HEAD's tree, or HEAD plus the uncommitted
   changes -- once, under ``parent_work_dir/<repo>/<commit>[-<tree>]``
   (``ensure_snapshot``: built in a temporary folder, marked complete, then
   renamed into place, so concurrent commands share one snapshot);
4. points the launch at the snapshot's copy of the script: every run, locally
   too, starts a fresh interpreter there (``prepare_code``);
5. once the run folders exist, writes ``git`` into each ``info.yaml``, plus
   ``metadata/git.diff`` and ``metadata/requirements.txt`` (``CodeVersion.record``).

The git commands themselves run through GitPython, imported inside the
functions so that ``import mlxlaunch`` stays light. The user's index, branches
and ``.gitignore`` are never touched, except by the ``commit`` policy, which makes
one commit of the user's changes on the current branch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TextIO

from mlxlaunch import runfolder
from mlxlaunch.errors import DirtyTreeError, VersionManagerError
from mlxlaunch.launching.settings import DIRTY_POLICIES, VersionManagerSettings, resolve_path
from mlxlaunch.runfolder.layout import DIFF_FILE, REQUIREMENTS_FILE

#: Written last into a snapshot folder: a snapshot without it is incomplete.
SNAPSHOT_MARKER = ".mlxlaunch-snapshot.yaml"
#: The policy recorded when the tree had nothing uncommitted.
CLEAN = "clean"
#: What each answer to the ``ask`` prompt does (the policies are ``settings.DIRTY_POLICIES``).
POLICY_HELP = {
    "fail": "stop here; nothing runs",
    "commit": "commit them (one commit on the current branch), then run",
    "snapshot_dirty": "run them as they are, recording the diff next to the commit",
    "ignore": "run the last commit without them (configs are read as they are)",
}
#: How many changed files an error message or a prompt lists before "... and N more".
MAX_LISTED = 20
#: Python's bytecode caches: the launch itself writes them next to the modules it imports.
BYTECODE_EXCLUDES = [":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/*.py[co]"]


# ---------------------------------------------------------------- the repository


def _git_module() -> Any:
    try:
        import git
    except ImportError as exc:  # GitPython missing, or the git executable not found
        raise VersionManagerError(
            f"The version manager needs GitPython and the git executable: {exc}. "
            "Install git, or drop +launcher.use_version_manager=True."
        ) from None
    return git


def open_repository(script: Path) -> Any:
    """The ``git.Repo`` whose working tree holds ``script``; a clear error otherwise."""
    git = _git_module()
    try:
        repo = git.Repo(script.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise VersionManagerError(
            f"{script} is not inside a git repository, so the version manager has no commit "
            f"to run. Make one (git init && git add -A && git commit -m 'first commit') or "
            f"drop +launcher.use_version_manager=True."
        ) from None
    if repo.bare or repo.working_tree_dir is None:
        raise VersionManagerError(f"{repo.git_dir} is a bare repository: it has no files to run.")
    if not repo.head.is_valid():
        raise VersionManagerError(
            f"The git repository {repo.working_tree_dir} has no commit yet. Commit your code "
            f"first (git add -A && git commit -m 'first commit')."
        )
    return repo


def _root(repo: Any) -> Path:
    return Path(repo.working_tree_dir).resolve()


def own_output_excludes(repo_root: Path, folders: list[Path]) -> list[str]:
    """Pathspecs that leave the launcher's own output folders out of git commands.

    The logs folder and the snapshot folder often live inside the repository;
    they are never "uncommitted changes" and never committed, and the user's
    ``.gitignore`` is not edited for that.
    """
    excludes = []
    for folder in folders:
        try:
            rel = folder.resolve().relative_to(repo_root)
        except ValueError:
            continue  # outside the repository: git never sees it
        if str(rel) != ".":
            excludes.append(f":(exclude){rel.as_posix()}")
    return excludes


def uncommitted_changes(repo: Any, excludes: list[str]) -> list[str]:
    """``git status --porcelain`` lines (e.g. `` M main.py``, ``?? new.py``), own outputs left out."""
    out = repo.git.status("--porcelain", "--untracked-files=normal", "--", ".", *excludes)
    return [line for line in out.splitlines() if line.strip()]


def changes_under(repo: Any, root: Path, paths: list[Path], excludes: list[str]) -> list[str]:
    """The ``git status --porcelain`` lines of files under ``paths`` (those in the repository)."""
    specs = []
    for path in paths:
        try:
            specs.append(path.resolve().relative_to(root).as_posix())
        except ValueError:
            continue  # outside the repository
    if not specs:
        return []
    out = repo.git.status("--porcelain", "--untracked-files=normal", "--", *specs, *excludes)
    return [line for line in out.splitlines() if line.strip()]


def _submodules(repo: Any, treeish: str) -> list[tuple[str, str]]:
    """``(path, commit)`` of each submodule recorded in ``treeish``."""
    out = repo.git.ls_tree("-r", "-z", treeish)
    found = []
    for entry in out.split("\0"):
        if entry.startswith("160000 commit "):
            meta, path = entry.split("\t", 1)
            found.append((path, meta.split()[2]))
    return found


def _describe_changes(changes: list[str]) -> str:
    shown = "\n".join(f"  {line}" for line in changes[:MAX_LISTED])
    more = len(changes) - MAX_LISTED
    return shown + (f"\n  ... and {more} more" if more > 0 else "")


# ---------------------------------------------------------------- the dirty-tree policy


def _is_terminal(stream: Optional[TextIO]) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed stream
        return False


def choose_policy(
    settings: VersionManagerSettings,
    changes: list[str],
    repo_root: Path,
    stdin: Optional[TextIO] = None,
) -> str:
    """The policy to apply to a dirty tree: ``on_dirty``, or the user's answer.

    ``ask`` prompts (on stderr) only when ``stdin`` is a terminal; otherwise (a
    pipe, a scheduler, CI) the ``non_interactive`` policy applies and stdin is
    never read.
    """
    policy = settings.on_dirty
    if policy != "ask":
        return policy
    stdin = sys.stdin if stdin is None else stdin
    if not _is_terminal(stdin):
        return settings.non_interactive
    choices = [p for p in DIRTY_POLICIES if p != "ask"]
    sys.stderr.write(
        f"mlxlaunch: the git repository {repo_root} has uncommitted changes:\n"
        f"{_describe_changes(changes)}\n" + "".join(f"  {c:<15}{POLICY_HELP[c]}\n" for c in choices)
    )
    while True:
        sys.stderr.write(f"What to do? [{'/'.join(choices)}] ")
        sys.stderr.flush()
        line = stdin.readline()
        if not line:  # end of input (Ctrl-D): the safe choice
            return "fail"
        answer = line.strip().lower()
        matches = [c for c in choices if answer and c.startswith(answer)]
        if len(matches) == 1:
            return matches[0]
        sys.stderr.write(f"Please answer one of: {', '.join(choices)} (a prefix is enough).\n")


def _commit_changes(repo: Any, excludes: list[str], changes: list[str], command: str) -> None:
    """The ``commit`` policy: one commit of every uncommitted change, own outputs left out."""
    git = _git_module()
    message = (
        f"mlxlaunch: commit uncommitted changes before launching\n\n"
        f"Command: {command}\n"
        f"Changes:\n{_describe_changes(changes)}\n"
    )
    try:
        repo.git.add("-A", "--", ".", *excludes)
        repo.git.commit("-m", message)
    except git.GitCommandError as exc:
        raise VersionManagerError(
            f"on_dirty=commit could not commit your changes: {exc.stderr.strip() or exc}. "
            f"Commit by hand, or choose another on_dirty policy."
        ) from None


# ---------------------------------------------------------------- trees and snapshots


def _temporary_index(repo: Any, folder: Path, copy_current: bool) -> dict[str, str]:
    """An environment whose ``GIT_INDEX_FILE`` is a private index: the user's stays untouched.

    Copying the user's index keeps git's stat cache, so ``git add -A`` re-reads
    only the files that changed instead of hashing the whole repository.
    """
    index = folder / f"index.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    current = Path(repo.git_dir) / "index"
    if copy_current and current.exists():
        shutil.copyfile(current, index)
    return {"GIT_INDEX_FILE": str(index)}


def working_tree(repo: Any, excludes: list[str], scratch: Path) -> str:
    """The id of a git tree holding the working tree as it is (tracked and untracked files).

    Built in a private index: no commit, no ref, nothing the user sees changes.
    Files that ``.gitignore`` excludes are left out, as ``git add -A`` does.
    """
    env = _temporary_index(repo, scratch, copy_current=True)
    try:
        if not Path(env["GIT_INDEX_FILE"]).exists():
            repo.git.read_tree("HEAD", env=env)
        repo.git.add("-A", "--", ".", *excludes, env=env)
        return repo.git.write_tree(env=env)
    finally:
        Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)


def _checkout_tree(repo: Any, treeish: str, dest: Path, scratch: Path) -> None:
    """Write the files of ``treeish`` under ``dest``, submodules included (at their commits).

    ``read-tree`` + ``checkout-index`` into a private index: exactly what a
    checkout writes (filters, line endings, executable bits, symlinks), and
    unlike ``git archive`` no ``export-ignore`` file goes missing.
    """
    git = _git_module()
    env = _temporary_index(repo, scratch, copy_current=False)
    try:
        repo.git.read_tree(treeish, env=env)
        repo.git.checkout_index("-a", "-f", f"--prefix={dest}{os.sep}", env=env)
    finally:
        Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    root = _root(repo)
    for path, commit in _submodules(repo, treeish):
        try:
            sub = git.Repo(root / path)
            sub.commit(commit)
        except Exception:  # noqa: BLE001 - not initialised, or the commit is missing
            raise VersionManagerError(
                f"Submodule '{path}' of {root} is not checked out with commit {commit[:12]}, "
                f"so it cannot be copied into the snapshot. Run "
                f"'git submodule update --init --recursive' first."
            ) from None
        (dest / path).mkdir(parents=True, exist_ok=True)
        _checkout_tree(sub, commit + "^{tree}", dest / path, scratch)


def _dirty_submodules(repo: Any) -> list[str]:
    """Paths of submodules whose own working tree has uncommitted changes."""
    git = _git_module()
    root = _root(repo)
    dirty = []
    for path, _ in _submodules(repo, "HEAD"):
        try:
            sub = git.Repo(root / path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            continue
        if _root(sub) == (root / path).resolve() and sub.is_dirty(untracked_files=True):
            dirty.append(path)
    return dirty


def snapshot_name(commit: str, tree: Optional[str]) -> str:
    """``<commit>`` for committed code, ``<commit>-<first 12 hex of the tree id>`` with changes.

    The tree id is a hash of every file's content: the same commit plus the same
    uncommitted changes gives the same name, and the snapshot is reused.
    """
    return commit if tree is None else f"{commit}-{tree[:12]}"


def is_complete(snapshot: Path) -> bool:
    """A snapshot folder is usable once its marker file (written last) exists."""
    return (snapshot / SNAPSHOT_MARKER).is_file()


def make_work_dir(folder: Path) -> None:
    """Create the snapshot folder; when this call creates it, make git ignore it.

    The snapshot folder usually sits inside the user's repository. A
    ``.gitignore`` holding ``*`` inside it (as pytest does for its cache) keeps a
    later ``git add -A`` of theirs from committing snapshots, without editing any
    file of theirs. A folder that already existed is left as it is: it may be
    theirs (``parent_work_dir: .`` must not hide their repository from git).
    """
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return
    runfolder.atomic_write(
        folder / ".gitignore", "# made by mlxlaunch: code snapshots are never committed\n*\n"
    )


def ensure_snapshot(repo: Any, commit: str, tree: Optional[str], parent: Path) -> Path:
    """The folder holding ``commit`` (plus ``tree``'s changes, if given); made if missing.

    Safe with concurrent commands: each builds in its own temporary folder,
    writes the marker last and renames the folder into place; whoever loses the
    race deletes its copy and uses the winner's. A folder without a marker
    (left by a crash or a copy) is moved aside and rebuilt.
    """
    final = parent / snapshot_name(commit, tree)
    if is_complete(final):
        return final
    parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".build-{final.name[:12]}-", dir=parent))
    try:
        files = build / "files"
        files.mkdir()
        _checkout_tree(repo, tree or f"{commit}^{{tree}}", files, build)
        marker = {"commit": commit, "tree": tree, "repository": str(_root(repo))}
        marker["created"] = runfolder.now_iso()
        runfolder.atomic_write(files / SNAPSHOT_MARKER, runfolder.dump_yaml(marker))
        for _ in range(3):
            try:
                os.rename(files, final)
                return final
            except OSError:
                if is_complete(final):
                    return final  # another command made it first
                if final.exists():  # incomplete leftover: move it aside and retry
                    aside = parent / f".broken-{final.name}-{uuid.uuid4().hex[:8]}"
                    try:
                        os.rename(final, aside)
                    except FileNotFoundError:
                        pass  # another command moved it aside first
        raise VersionManagerError(f"Could not create the code snapshot {final}.")
    finally:
        shutil.rmtree(build, ignore_errors=True)


# ---------------------------------------------------------------- what is recorded


def _remote_url(repo: Any) -> Optional[str]:
    """The URL of ``origin`` (or of the first remote), without any credentials in it."""
    remotes = list(repo.remotes)
    if not remotes:
        return None
    remote = next((r for r in remotes if r.name == "origin"), remotes[0])
    try:
        url = next(iter(remote.urls))
    except Exception:  # noqa: BLE001 - a broken remote only loses the URL
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def installed_packages() -> str:
    """``name==version`` of every installed distribution, one a line, sorted (no pipreqs)."""
    from importlib import metadata

    lines: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            lines.setdefault(name.lower().replace("_", "-"), f"{name}=={dist.version}")
    return "".join(f"{lines[k]}\n" for k in sorted(lines))


@dataclass
class CodeVersion:
    """The code a command runs: a commit, maybe uncommitted changes, and their snapshot."""

    repo_root: Path
    commit: str
    branch: Optional[str]
    remote: Optional[str]
    #: the policy applied: clean | fail | commit | snapshot_dirty | ignore
    policy: str
    #: True when the code that runs holds uncommitted changes (then ``diff`` is not empty)
    dirty: bool
    #: ``git diff --binary <commit>`` of the code that runs
    diff: bytes
    snapshot: Path
    #: ``git status --porcelain`` lines found at launch, before the policy applied
    changes: list[str] = field(default_factory=list)
    #: those of ``changes`` the runs use whatever the policy: the config folder (or @FILE)
    #: is composed as it is, before the snapshot, and frozen in each ``metadata/config.yaml``
    used_changes: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The ``git`` section of ``info.yaml``."""
        info: dict[str, Any] = {
            "commit": self.commit,
            "branch": self.branch,
            "detached": self.branch is None,
            "remote": self.remote,
            "dirty": self.dirty,
            "on_dirty": self.policy,
            "snapshot": str(self.snapshot),
            "repository": str(self.repo_root),
        }
        if self.dirty:
            info["diff"] = f"{runfolder.METADATA}/{DIFF_FILE}"
        if self.policy == "ignore":
            ignored = [c for c in self.changes if c not in self.used_changes]
            info["ignored_changes"] = ignored[:MAX_LISTED]
            if self.used_changes:
                info["used_changes"] = self.used_changes[:MAX_LISTED]
        return info

    def record(self, run_dirs: list[Path]) -> None:
        """Write the git info, the diff and the installed packages into each run folder."""
        requirements = installed_packages()
        digest = hashlib.sha256(requirements.encode()).hexdigest()[:16]
        git_info = self.info()
        for run_dir in run_dirs:
            if self.dirty:
                runfolder.atomic_write(runfolder.metadata_path(run_dir, DIFF_FILE), self.diff)
            runfolder.atomic_write(
                runfolder.metadata_path(run_dir, REQUIREMENTS_FILE), requirements
            )
            info = runfolder.read_info(run_dir)
            info["git"] = git_info
            info["packages_digest"] = digest
            runfolder.write_info(run_dir, info)


# ---------------------------------------------------------------- the command's entry point


def _command_line() -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in ["python", *sys.argv])


def _look_at(spec: Any) -> tuple[Path, Path, Any, Path, list[str], list[str]]:
    """``(script, work_parent, repo, root, excludes, changes)`` of the code ``spec`` runs.

    The script is an entry point's MLproject, else the decorated script: the file
    whose repository is used. The launch's own outputs (logs, snapshots) and
    bytecode are excluded from the uncommitted ``changes``.
    """
    script = Path(spec.project_file or spec.script).resolve()
    work_parent = resolve_path(script.parent, spec.settings.version_manager.parent_work_dir)
    repo = open_repository(script)
    root = _root(repo)
    excludes = own_output_excludes(root, [spec.parent_log_dir, work_parent]) + BYTECODE_EXCLUDES
    return script, work_parent, repo, root, excludes, uncommitted_changes(repo, excludes)


def _dirty_tree_error(root: Path, changes: list[str], how: str) -> DirtyTreeError:
    """The error of a dirty tree the policy refuses (``how``: why the policy is fail)."""
    return DirtyTreeError(
        f"The git repository {root} has uncommitted changes ({how}):\n"
        f"{_describe_changes(changes)}\n"
        f"Commit them, or choose a policy: +launcher.version_manager.on_dirty="
        f"{'|'.join(p for p in DIRTY_POLICIES if p != 'ask')}."
    )


def prepare_code(spec: Any) -> CodeVersion:
    """Apply the dirty-tree policy, make or reuse the snapshot, and point ``spec`` at it.

    Called once per command, before any run folder exists: a ``fail`` leaves
    nothing behind. Afterwards ``spec.script`` is the snapshot's copy of the
    script and ``spec.workdir`` the snapshot's counterpart of the current folder.
    """
    settings = spec.settings.version_manager
    script, work_parent, repo, root, excludes, changes = _look_at(spec)

    policy = CLEAN
    if changes:
        policy = choose_policy(settings, changes, root)
    if policy == "fail":
        if settings.on_dirty == "fail":
            how = "on_dirty=fail"
        elif _is_terminal(sys.stdin):
            how = "you answered fail"
        else:
            how = f"on_dirty=ask without a terminal, so non_interactive={settings.non_interactive}"
        raise _dirty_tree_error(root, changes, how)
    if policy in ("commit", "snapshot_dirty"):
        dirty_subs = _dirty_submodules(repo)
        if dirty_subs:
            raise VersionManagerError(
                f"Submodules {', '.join(dirty_subs)} have uncommitted changes, which "
                f"on_dirty={policy} cannot capture. Commit them inside the submodule first."
            )
    if policy == "commit":
        _commit_changes(repo, excludes, changes, _command_line())

    make_work_dir(work_parent)
    commit = repo.head.commit.hexsha
    tree: Optional[str] = None
    diff = b""
    if policy == "snapshot_dirty":
        tree = working_tree(repo, excludes, work_parent)
        if tree == repo.head.commit.tree.hexsha:
            tree = None  # the changes cancel out (e.g. only a mode change git ignores)
        else:
            diff = repo.git.diff(
                "--binary", commit, tree, stdout_as_string=False, strip_newline_in_stdout=False
            )
    snapshot_root = ensure_snapshot(repo, commit, tree, work_parent / root.name)

    rel_script = script.relative_to(root)
    if not (snapshot_root / rel_script).is_file():
        raise VersionManagerError(
            f"The script {rel_script} is not in commit {commit[:12]} (untracked or ignored?). "
            f"Commit it, or use +launcher.version_manager.on_dirty=snapshot_dirty (files "
            f"that .gitignore excludes are never in a snapshot)."
        )
    _point_spec_at(spec, root, snapshot_root, rel_script)
    return CodeVersion(
        repo_root=root,
        commit=commit,
        branch=None if repo.head.is_detached else repo.active_branch.name,
        remote=_remote_url(repo),
        policy=policy,
        dirty=tree is not None,
        diff=diff,
        snapshot=snapshot_root,
        changes=changes,
        used_changes=changes_under(repo, root, spec.config_inputs, excludes) if changes else [],
    )


def _point_spec_at(spec: Any, root: Path, snapshot_root: Path, rel_script: Path) -> None:
    """Point ``spec`` (script or MLproject, working folder, PYTHONPATH) into the snapshot."""
    if spec.project_file is not None:
        spec.project_file = snapshot_root / rel_script
    else:
        spec.script = snapshot_root / rel_script
    git_info = {"repository": str(root), "snapshot": str(snapshot_root)}
    spec.workdir = snapshot_workdir(git_info, Path.cwd().resolve(), snapshot_root / rel_script)
    _point_pythonpath_at(root, snapshot_root)


def planned_code(spec: Any) -> str:
    """For ``--dry-run``: point ``spec`` where :func:`prepare_code` would; say what runs.

    Nothing is made or changed: no snapshot, no commit, no question asked. With
    committed code (or ``on_dirty=ignore``) the snapshot is ``<commit>``, the very
    paths a launch submits; ``snapshot_dirty`` adds the id of the working tree's
    git tree (computed in a private index, as the launch does); the commit that
    ``on_dirty=commit`` would make does not exist yet, so its name is a placeholder.
    ``on_dirty=fail`` raises the launch's ``DirtyTreeError``.
    """
    settings = spec.settings.version_manager
    script, work_parent, repo, root, excludes, changes = _look_at(spec)
    commit = repo.head.commit.hexsha
    policy = CLEAN
    if changes:
        policy = settings.on_dirty
        if policy == "ask":  # a dry run asks nothing: what a launch without a terminal does
            policy = settings.non_interactive if not _is_terminal(sys.stdin) else "ask"
    if policy == "fail":
        raise _dirty_tree_error(root, changes, f"on_dirty={settings.on_dirty}")
    name = snapshot_name(commit, None)
    what = f"commit {commit[:12]}"
    if policy == "snapshot_dirty":
        with tempfile.TemporaryDirectory() as scratch:
            tree = working_tree(repo, excludes, Path(scratch))
        if tree != repo.head.commit.tree.hexsha:
            name = snapshot_name(commit, tree)
            what += f" plus its {len(changes)} uncommitted change(s) (on_dirty=snapshot_dirty)"
    elif policy in ("commit", "ask"):
        name = "<the commit made at launch>" if policy == "commit" else "<chosen at launch>"
        what = f"{len(changes)} uncommitted change(s): on_dirty={policy} decides at launch"
    elif policy == "ignore":
        what += f", without its {len(changes)} uncommitted change(s) (on_dirty=ignore)"
    snapshot_root = work_parent / root.name / name
    _point_spec_at(spec, root, snapshot_root, script.relative_to(root))
    made = "exists" if is_complete(snapshot_root) else "made at launch"
    return f"{what}, run from the snapshot {snapshot_root} ({made})"


def _point_pythonpath_at(root: Path, snapshot: Path) -> None:
    """Rewrite ``PYTHONPATH`` entries inside the repository to the snapshot's copies.

    Runs inherit this environment (local workers, and scheduler jobs that export
    it), so ``PYTHONPATH=src`` imports the snapshot's ``src``, not the developer's.
    """
    value = os.environ.get("PYTHONPATH")
    if value:
        os.environ["PYTHONPATH"] = snapshot_pythonpath(value, root, snapshot)


def snapshot_pythonpath(value: str, root: Path, snapshot: Path) -> str:
    """``value`` (a ``PYTHONPATH``) with its entries inside ``root`` moved to ``snapshot``.

    Relative entries are relative to the current folder.
    """
    entries = []
    for entry in value.split(os.pathsep):
        try:
            rel = (Path.cwd() / (entry or ".")).resolve().relative_to(root)
            entries.append(str(snapshot / rel))
        except ValueError:
            entries.append(entry)
    return os.pathsep.join(entries)


def snapshot_workdir(git_info: dict[str, Any], cwd: Path, script: Path) -> Path:
    """The snapshot's counterpart of ``cwd`` for a run whose ``info.git`` is ``git_info``."""
    try:
        rel = cwd.resolve().relative_to(Path(git_info["repository"]))
    except (KeyError, TypeError, ValueError):
        return cwd  # launched from outside the repository: stay there
    workdir = Path(git_info["snapshot"]) / rel
    return workdir if workdir.is_dir() else script.parent
