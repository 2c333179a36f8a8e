"""What the runtime stage proves about the binaries that run in it.

Two facts. First, a static-only base (scratch, distroless/static) may have the C
library copied in: the glibc loader (`/lib64/ld-linux-x86-64.so.2`), a multiarch
library directory (`/lib/x86_64-linux-gnu/...`), or whatever `ldd` listed for the
binary in a build stage (`ldd app | ... install -D` into a directory, then `COPY
--from=build /out/libs/ /lib/`). Dynamically linked binaries run there, so the
stage is not static-only: its libc is the loader's (or the ldd stage's).

Second, a binary whose build is not visible still has to run where it is shipped:
on a static-only image only a static binary runs, and on Alpine (without gcompat)
a dynamically linked glibc binary cannot.
"""

from __future__ import annotations

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import replace
from allocpolicy.facts.images import GLIBC, MUSL, STATIC

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from allocpolicy.facts.containers import StageFacts
    from allocpolicy.parsing.dockerfile import Instruction

__all__ = ["copied_loader", "runtime_proof", "with_copied_loader"]

_GLIBC_PATH = lazy_re(
    r"(?:^|/)(?:ld-linux[\w.-]*\.so[\d.]*|ld64\.so\.[12]|libc\.so\.6)$"
    r"|(?:^|/)lib/[a-z0-9_]+-linux-gnu[a-z]*(?:/|$)"
    r"|^/?(?:usr/)?lib64(?:/|$)"
)
_MUSL_PATH = lazy_re(r"(?:^|/)ld-musl-[\w]+\.so\.1$")
# Where the ldd idiom puts the libraries: the root, or a library directory.
_LIBRARY_DEST = lazy_re(r"^/?(?:$|(?:usr/)?lib(?:64|/|$))")
_LDD = lazy_re(r"(?:^|[\s;&|(`])ldd\s")


def with_copied_loader(facts: StageFacts, stages: list[StageFacts]) -> None:
    """Give a static-only stage the libc of a loader its COPY lines bring in."""
    if facts.image.libc != STATIC:
        return
    found = copied_loader(facts, stages)
    if found is not None:
        libc, what, line = found
        reason = (
            f"{facts.image.reason}; but line {line} copies in {what}, so dynamically linked "
            "binaries run here"
        )
        facts.image = replace(facts.image, libc=libc, reason=reason)


def copied_loader(facts: StageFacts, stages: list[StageFacts]) -> tuple[str, str, int] | None:
    """(libc, what, line) of the first COPY that brings a dynamic loader or libc into the stage."""
    for ins in facts.stage.instructions:
        if ins.keyword not in ("COPY", "ADD") or ins.heredocs:
            continue
        found = _loader_libc(facts, ins, stages)
        if found is not None:
            return found[0], found[1], ins.start_line
    return None


def _loader_libc(
    facts: StageFacts, ins: Instruction, stages: list[StageFacts]
) -> tuple[str, str] | None:
    words = ins.exec_form() or facts.doc.words(ins)
    if len(words) < 2:
        return None
    paths = [facts.doc.word(w, facts.env, ins.start_line) for w in words]
    for p in paths:
        if _MUSL_PATH.search(p):
            return MUSL, f"the musl loader (`{p}`)"
        if _GLIBC_PATH.search(p):
            return GLIBC, f"the glibc loader or libraries (`{p}`)"
    origin = ins.flags.get("from")
    source = _stage(stages, origin) if origin else None
    if source is None or not _LIBRARY_DEST.match(paths[-1]) or not _ran_ldd(source, stages):
        return None
    if source.image.libc not in (GLIBC, MUSL):
        return None
    return source.image.libc, (
        f"the libraries `ldd` listed in stage {source.stage.name or source.stage.index} "
        f"({source.image.libc})"
    )


def _ran_ldd(stage: StageFacts, stages: list[StageFacts]) -> bool:
    s: StageFacts | None = stage
    while s is not None:
        if any(i.keyword == "RUN" and _LDD.search(_script(i)) for i in s.stage.instructions):
            return True
        parent = s.stage.parent
        s = stages[parent] if parent is not None and parent < len(stages) else None
    return False


def _script(ins: Instruction) -> str:
    return ins.args + "\n" + "\n".join(h.body for h in ins.heredocs)


def _stage(stages: list[StageFacts], ref: str) -> StageFacts | None:
    low = ref.lower()
    for s in stages:
        if s.stage.name == low or str(s.stage.index) == ref:
            return s
    return None


# Alpine packages that let glibc binaries run (a glibc loader shim, or glibc itself).
_GLIBC_ON_MUSL = frozenset({"gcompat", "libc6-compat", "glibc", "glibc-bin"})
# Instructions only an image that is run has: a stage holding nothing but files (an
# artifact carrier for `docker build --output` or `COPY --from=<image>`) proves nothing.
_RUNTIME_CONFIG = frozenset(
    {"ENTRYPOINT", "CMD", "EXPOSE", "USER", "HEALTHCHECK", "VOLUME", "WORKDIR", "ENV", "STOPSIGNAL"}
)


def runtime_proof(final: StageFacts, stages: list[StageFacts]) -> tuple[str, str, str] | None:
    """(libc, linkage, why) a binary of unknown build must have to run in `final`."""
    image = final.image
    if image.libc not in (STATIC, MUSL) or not _is_run(final, stages):
        return None
    if image.libc == STATIC:
        return "unknown", "static", f"it runs on `{image.ref}`, where only static binaries run"
    compat = sorted(_GLIBC_ON_MUSL & set(final.packages))
    if compat or copied_loader(final, stages) is not None:
        return None
    why = (
        f"it runs on `{image.ref}` (musl, no gcompat), where a dynamically linked glibc "
        "binary cannot run"
    )
    return "musl", "unknown", why


def _is_run(final: StageFacts, stages: list[StageFacts]) -> bool:
    s: StageFacts | None = final
    while s is not None:
        if any(i.keyword in _RUNTIME_CONFIG for i in s.stage.instructions):
            return True
        parent = s.stage.parent
        s = stages[parent] if parent is not None and parent < len(stages) else None
    return False
