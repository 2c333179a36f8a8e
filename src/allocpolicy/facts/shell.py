"""Just enough shell to read RUN lines: commands, env prefixes, package installs."""

from __future__ import annotations

import re
import shlex

from allocpolicy._record import field, record

_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "\n"})


@record
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # VAR=value prefixes and `env VAR=value`


_PLAIN = re.compile(r"[^'\"\\$`]*")
_SPLIT = re.compile(r"(&&|\|\||;;|[;&|()])|\s+")


_SUBSHELL = re.compile(r"\$\([^()]*\)|`[^`]*`")


def _tokens(script: str) -> list[str]:
    # $(uname -m) is a value computed at run time: keep it one opaque word, not a command
    script = _SUBSHELL.sub("${SUBSHELL}", script).replace("\n", " ; ")
    if _PLAIN.fullmatch(script):  # no quoting: a regex split is exact and far cheaper than shlex
        return [t for t in _SPLIT.split(script) if t]
    return _shlex_tokens(script)


def _shlex_tokens(script: str) -> list[str]:
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: fall back to a plain split rather than fail
        return script.replace("\n", " ; ").split()


def _is_assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and name.replace("_", "a").isalnum() and not name[0].isdigit()


def commands(script: str) -> list[Command]:
    out: list[Command] = []
    current: list[str] = []
    for tok in _tokens(script) + [";"]:
        if tok in _SEPARATORS:
            if current:
                out.append(_command(current))
            current = []
        else:
            current.append(tok)
    return out


def _command(words: list[str]) -> Command:
    env: dict[str, str] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if _is_assignment(w):
            k, _, v = w.partition("=")
            env[k] = v
        elif w in ("env", "/usr/bin/env", "exec", "sudo", "time", "nice") or (
            w.startswith("-") and i > 0 and words[i - 1] in ("env", "/usr/bin/env")
        ):
            pass
        else:
            break
        i += 1
    return Command(words[i:], env)


_INSTALLERS = {
    ("apt-get", "install"): "apt",
    ("apt", "install"): "apt",
    ("apk", "add"): "apk",
    ("dnf", "install"): "dnf",
    ("microdnf", "install"): "dnf",
    ("yum", "install"): "dnf",
    ("tdnf", "install"): "dnf",
    ("zypper", "install"): "zypper",
    ("zypper", "in"): "zypper",
}


def installed_packages(cmd: Command) -> list[str]:
    argv = cmd.argv
    if not argv:
        return []
    tool = argv[0].rsplit("/", 1)[-1]
    subs = [a for a in argv[1:] if not a.startswith("-")]
    if not subs or (tool, subs[0]) not in _INSTALLERS:
        return []
    pkgs = []
    skip_next = False
    for a in argv[argv.index(subs[0]) + 1 :]:
        if skip_next:
            skip_next = False
        elif a in ("-t", "--target-release", "--repository", "-X", "--virtual", "-t"):
            skip_next = True
        elif not a.startswith("-"):
            pkgs.append(a.split("=")[0].split("@")[0])
    return pkgs
