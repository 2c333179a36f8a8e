"""The images one Containerfile builds: its last stage, and each stage `--target` publishes.

A multi-image Containerfile (`FROM alpine AS client` ... `FROM alpine AS server`) is
built once per image with `docker build --target NAME`. Such a stage is a runtime
stage of its own: it starts FROM an image (not from another stage), says how it runs
(ENTRYPOINT or CMD) and no other stage builds on it or copies from it. Stages derived
from a build stage (`FROM builder AS dev`) are left out: they hold a toolchain, not a
shipped image, and reading them as images would raise alarms nobody ships.

Facts flow forward only, so a stage's facts are exact in the file cut after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from allocpolicy._record import replace
from allocpolicy.facts.containers import Containerfile, mount_options, stage_by_ref

_RUNS = frozenset({"ENTRYPOINT", "CMD"})


def image_targets(cf: Containerfile) -> list[Containerfile]:
    """`cf` itself (its last stage is the default image), then one view per other target."""
    out = [cf]
    used = _referenced(cf)
    if used is None:  # a `--from=$VAR` nobody can resolve may name any stage
        return out
    for pos, facts in enumerate(cf.stages[:-1]):  # a stage's index is its position
        stage = facts.stage
        if pos in used or stage.parent is not None:
            continue
        if any(i.keyword in _RUNS for i in stage.instructions):
            out.append(replace(cf, stages=cf.stages[: pos + 1]))
    return out


def _referenced(cf: Containerfile) -> set[int] | None:
    """Positions of stages another stage is FROM, copies from or mounts; None if unknown."""
    used: set[int] = set()
    for facts in cf.stages:
        if facts.stage.parent is not None:
            used.add(facts.stage.parent)
        for ins in facts.stage.instructions:
            for ref in _stage_refs(ins.keyword, ins.flag_items):
                word = cf.doc.word(ref, facts.env, ins.start_line)
                if "$" in word:
                    return None
                found = stage_by_ref(cf.stages, word)
                if found is not None:
                    used.add(found.stage.index)
    return used


def _stage_refs(keyword: str, flags: Sequence[tuple[str, str]]) -> list[str]:
    refs = []
    for name, value in flags:
        if name == "from" and keyword in ("COPY", "ADD"):
            refs.append(value)
        elif name == "mount" and keyword == "RUN":
            ref = mount_options(value).get("from")
            if ref:
                refs.append(ref)
    return refs
