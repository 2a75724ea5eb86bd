"""A fake Slurm queue with state, for tests of held arrays without a daemon.

``install(bin_dir)`` puts ``sbatch``, ``scontrol``, ``squeue``, ``scancel`` and
``sacct`` on a PATH folder; they keep the queue in ``bin_dir/queue/<array id>``
(JSON: ``held`` and the task indexes still queued). ``sbatch`` submits the array
of the script's ``--array=0-N`` held (as mlxlaunch's ``--hold`` asks),
``scontrol release`` releases it, ``scancel A_i`` removes a task, and ``squeue``
lists every queued task as PENDING (``JobHeldUser`` while held). With
``FAKE_KILL_AT_RELEASE`` set, ``scontrol release`` SIGKILLs its caller instead:
a launcher stopped after submitting, before releasing.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path


def main(command: str, args: list[str]) -> int:
    queue = Path(__file__).resolve().parent / "queue"
    queue.mkdir(exist_ok=True)
    if command == "sbatch":
        n = int(re.search(r"--array=0-(\d+)", Path(args[-1]).read_text()).group(1)) + 1
        job = str(1000 + len(list(queue.iterdir())))
        (queue / job).write_text(json.dumps({"held": True, "tasks": list(range(n))}))
        print(job)
    elif command == "scontrol" and args[:1] == ["release"]:
        if os.environ.get("FAKE_KILL_AT_RELEASE"):
            os.kill(os.getppid(), 9)
            return 1
        data = json.loads((queue / args[1]).read_text())
        (queue / args[1]).write_text(json.dumps(dict(data, held=False)))
    elif command == "scancel":
        for arg in args:
            array, _, task = arg.partition("_")
            if (queue / array).exists():
                data = json.loads((queue / array).read_text())
                data["tasks"] = [t for t in data["tasks"] if task and str(t) != task]
                (queue / array).write_text(json.dumps(data))
    elif command == "squeue":
        arrays = args[args.index("-j") + 1].split(",")
        for array in arrays:
            if (queue / array).exists():
                data = json.loads((queue / array).read_text())
                reason = "JobHeldUser" if data["held"] else "None"
                for task in data["tasks"]:
                    print(f"{array}_{task}|PENDING|{reason}|0|")
    elif command == "sacct":
        return 1  # "accounting storage is disabled"
    return 0


def install(bin_dir: Path) -> Path:
    """The fake commands in ``bin_dir`` (put it first on PATH); the queue folder."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve()
    (bin_dir / "fake_queue.py").write_text(here.read_text())
    for name in ("sbatch", "scontrol", "squeue", "scancel", "sacct"):
        path = bin_dir / name
        path.write_text(
            f'#!/bin/sh\nexec {sys.executable} "$(dirname "$0")/fake_queue.py" {name} "$@"\n'
        )
        path.chmod(0o755)
    return bin_dir / "queue"


def queued(queue: Path) -> dict[str, dict]:
    """``{array id: {"held": bool, "tasks": [...]}}`` of the arrays with a task still queued."""
    if not queue.is_dir():
        return {}
    arrays = {p.name: json.loads(p.read_text()) for p in queue.iterdir()}
    return {a: d for a, d in arrays.items() if d["tasks"]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
