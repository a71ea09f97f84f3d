"""Machine files: ``results/<slug>/machine.json`` names the machine of every run filed
under that folder (as asv's ``results/<machine>/machine.json``). Written by ``resnet-bench
machine --write``; read by the run loader, which applies it and refuses a run filed under
another machine."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from resnet.engine.machine import IDENTITY, identities_conflict, machine_identity, machine_label, slug
from resnet.errors import InputError
from resnet.outputs import OutputError, write_file
from resnet.runs.errors import LoadError

MACHINE_FILE = "machine.json"
#: The facts a machine file keeps (what names the hardware, and what sizes it).
FACTS = (*IDENTITY, "cpu_flags", "cpu_caches_kb", "cpu_cores_logical", "cpu_affinity", "memory_gb")


@functools.lru_cache(maxsize=256)
def nearest(folder: str) -> tuple[str, dict[str, Any]] | None:
    """The nearest ``machine.json`` at or above ``folder`` (results/<machine>/machine.json),
    with its path; None when there is none."""
    here = Path(folder)
    for place in [here, *here.parents][:4]:
        candidate = place / MACHINE_FILE
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise LoadError(candidate, f"not a machine file ({err})") from None
            facts = data.get("facts") if isinstance(data, dict) else None
            if not isinstance(facts, dict) or not isinstance(data.get("label"), str):
                raise LoadError(candidate, "a machine file holds a 'label' and its 'facts'")
            return str(candidate), {**facts, "label": data["label"]}
    return None


def with_machine_file(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    """``info`` with the name and facts of the machine file the run is filed under; a run
    whose own facts contradict that file is a LoadError (filed under the wrong machine)."""
    found = nearest(str(path.absolute().parent))
    if found is None:
        return info
    where, facts = found
    conflict = identities_conflict(machine_identity(info), machine_identity(facts))
    if conflict:
        name = conflict[0]
        raise LoadError(
            path,
            f"measured on another machine than {where} describes ({name} {info.get(name)!r}, "
            f"not {facts.get(name)!r})",
        )
    return {**facts, **info, "label": facts["label"]}


def describe(info: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A machine file's content for the machine ``info`` describes: its label (``name``, else
    derived from its facts), slug and facts."""
    facts = {k: info[k] for k in FACTS if info.get(k) is not None}
    label = machine_label(info) if name is None else name
    if not slug(label) or any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise InputError(
            f"--name {label!r}: a machine's name needs a letter or a digit and no control characters "
            "(it names the folder results/<slug>/), e.g. 'AMD EPYC Zen 4 x2'"
        )
    return {"tool": "resnet-bench", "label": label, "slug": slug(label), "facts": facts}


def text_of(data: dict[str, Any]) -> str:
    """A machine file's text."""
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write(folder: str | Path, data: dict[str, Any], renamed: bool) -> tuple[Path, str, bool]:
    """``folder/<slug>/machine.json`` for ``data``; returns (its path, the label it holds,
    whether it was written). A file already there for the same machine is kept unless
    ``renamed`` gives it another label; one of another machine's, or not ours, is refused."""
    path = Path(folder) / data["slug"] / MACHINE_FILE
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        ours = (
            isinstance(old, dict) and old.get("tool") == "resnet-bench" and isinstance(old.get("facts"), dict)
        )
        # Another machine's: a fact both know differs (one may know more: a stepping, say).
        if not ours or identities_conflict(machine_identity(old["facts"]), machine_identity(data["facts"])):
            raise OutputError(f"--write {path}: holds another machine's file; it is left untouched")
        if not renamed or old.get("label") == data["label"]:
            return path, old.get("label", data["label"]), False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, text_of(data))
    return path, data["label"], True
