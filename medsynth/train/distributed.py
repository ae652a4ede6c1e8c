"""Training on several processes through ``accelerate launch`` (DDP; DeepSpeed ZeRO where the
user has a config for it), not a launcher of our own.

``medsynth train sft|grpo --accelerate-config FILE`` starts :func:`launch_command`: the same
command, without that option, under ``python -m accelerate.commands.launch --config_file FILE``
(``accelerate launch -m medsynth train ...`` typed by hand works the same way). Each process then
reads its rank from the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).

Inside a run every rank prepares the same data and trains; rank 0 alone writes the workspace
(the ``runs``/``train_runs``/``train_steps`` rows, the provenance, the processor and
``medsynth_train.json``; transformers writes the checkpoints and the adapter from rank 0, each
rank's RNG state beside them). The ranks meet at a few points (:func:`together`): when one of them
fails there, the others stop with its error instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from medsynth.errors import InputError, MedsynthError

if TYPE_CHECKING:
    from medsynth.train.settings import TrainOptions
    from medsynth.workspace import Workspace

T = TypeVar("T")

try:  # transformers is a dependency, but keep this module importable for the CLI's help
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover
    TrainerCallback = object  # type: ignore[misc,assignment]


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    """How many processes train together (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def is_distributed() -> bool:
    return world_size() > 1


def is_main() -> bool:
    """Rank 0: the one process that writes the workspace."""
    return rank() == 0


def local_device(device: str) -> str:
    """``cuda`` becomes this rank's GPU (``cuda:LOCAL_RANK``) when several processes train."""
    if is_distributed() and device == "cuda":
        return f"cuda:{local_rank()}"
    return device


def init(device: str | None) -> None:
    """Join the process group (accelerate's ``PartialState``, which the trainer reuses): gloo on
    the CPU, NCCL on CUDA. Nothing happens in a single process."""
    if not is_distributed():
        return
    from accelerate import PartialState

    if device is None:
        from medsynth.train.locate import pick_device

        device = pick_device(None)
    PartialState(cpu=not device.startswith("cuda"))


def _group_ready() -> bool:
    if not is_distributed():
        return False
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized())


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every rank (``value`` itself in a single process)."""
    if not _group_ready():
        return value
    import torch.distributed as dist

    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order (``[value]`` in a single process)."""
    if not _group_ready():
        return [value]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


@contextlib.contextmanager
def together(what: str) -> Iterator[None]:
    """Every rank runs the block, then they compare: a rank that failed raises its own error,
    the others stop with a :class:`MedsynthError` naming it (none waits for a rank that left).
    In a single process this is just the block."""
    error: BaseException | None = None
    try:
        yield
    except BaseException as exc:  # re-raised below, after the other ranks heard of it
        error = exc
    failures = gather(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    for other, failure in enumerate(failures):
        if failure:
            raise MedsynthError(f"rank {other} stopped while {what}: {failure}")


def agreed_name(ws: Workspace, options: TrainOptions, echo: Callable[[str], None]) -> TrainOptions:
    """Under several processes, rank 0 names the run (a new name holds the time of day, the
    newest unfinished one for ``--resume``) and every rank takes that name."""
    from dataclasses import replace

    from medsynth.train import locate
    from medsynth.train.plan import device_and_smoke

    if not is_distributed() or options.name:
        return options
    name: str | None = None
    with together("naming the run"):
        if is_main():
            _, smoke = device_and_smoke(options, [])
            model = locate.base_model(ws, options, smoke, echo)
            name = locate.run_name(ws, options, model)
    return replace(options, name=broadcast(name))


class RankSteps(TrainerCallback):
    """Counts the optimizer steps this rank took, and at the end sums its trainable weights, so
    that rank 0 can record that every rank stepped and holds the same adapter."""

    def __init__(self) -> None:
        self.steps = 0
        self.checksum: float | None = None

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.steps += 1

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model = kwargs.get("model")
        if model is not None:
            self.checksum = float(
                sum(
                    p.detach().double().abs().sum().item()
                    for p in model.parameters()
                    if p.requires_grad
                )
            )

    def report(self) -> dict[str, Any]:
        return {"rank": rank(), "steps": self.steps, "checksum": self.checksum}


def reader_workspace(path: Path | None) -> Workspace:
    """The workspace as a rank other than 0 opens it, after rank 0 did: its config and database
    (migrated by rank 0 by then), without :meth:`Workspace.open`'s one write (marking runs of
    gone processes ``interrupted``), and the network guard that ``open_workspace`` installs."""
    from medsynth import netguard
    from medsynth.config import CONFIG_FILE, load_config
    from medsynth.store.db import open_database
    from medsynth.workspace import DB_FILE, Workspace, default_workspace_path

    root = (path or default_workspace_path()).expanduser().resolve()
    ws = Workspace(
        root=root, config=load_config(root / CONFIG_FILE), db=open_database(root / DB_FILE)
    )
    netguard.install(netguard.config_hosts(ws.config))
    return ws


def read_accelerate_config(path: Path) -> dict[str, Any]:
    """An accelerate config file (YAML or JSON) as a dict; refuses one that is missing."""
    import json

    if not path.is_file():
        raise InputError(
            "no accelerate config file here",
            source=str(path),
            hint="write one with `accelerate config --config_file FILE`, or see README (Train)",
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise InputError("not an accelerate config", source=str(path))
    return data


def launch_command(config: Path, args: list[str]) -> list[str]:
    """``python -m accelerate.commands.launch --config_file CONFIG -m medsynth ARGS``.

    A ``MULTI_CPU`` config without an MPI host file gets ``--multi_gpu``: accelerate's simple
    launcher would start a single process there (it leaves the rest to ``mpirun``), while its
    torchrun launcher starts ``num_processes`` of them; on the CPU they join with gloo."""
    data = read_accelerate_config(config)
    extra: list[str] = []
    hostfile = (data.get("mpirun_config") or {}).get("mpirun_hostfile")
    if str(data.get("distributed_type", "")).upper() == "MULTI_CPU" and not hostfile:
        extra.append("--multi_gpu")
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        *extra,
        "-m",
        "medsynth",
        *args,
    ]


def wants_cpu(config: Path) -> bool:
    """The config asks for the CPU (``use_cpu: true`` or ``distributed_type: MULTI_CPU``)."""
    data = read_accelerate_config(config)
    return bool(data.get("use_cpu")) or str(data.get("distributed_type", "")).upper() == (
        "MULTI_CPU"
    )


def launch(config: Path, args: list[str]) -> int:
    """Run ``args`` (a ``medsynth`` command line) under accelerate; its exit status."""
    import subprocess

    if is_distributed():
        raise InputError(
            "--accelerate-config inside a launched process",
            hint="give --accelerate-config to a plain `medsynth train ...` only",
        )
    return subprocess.run(launch_command(config, args), check=False).returncode
