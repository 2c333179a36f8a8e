"""What a `cargo build` (or cross, xx-cargo, zigbuild, auditable, install, chef cook,
linkerd's just-cargo) command line asks for, read past the wrappers that run it (`time`,
`nice`, `env -C`, `mold -run`, `rustup run`)."""

from __future__ import annotations

from allocpolicy._record import field, record
from allocpolicy.facts.shell import Command

_VALUE_FLAGS = {
    "--target",
    "-p",
    "--package",
    "--bin",
    "--manifest-path",
    "--features",
    "-F",
    "--profile",
    "--config",
    "--target-dir",
    "--exclude",
    "--recipe-path",
    "--path",
    "-j",
    "--jobs",
    "--color",
    "--example",
    "--root",
    "--version",
    "--git",
    "--branch",
    "--tag",
    "--rev",
    "-Z",
    "--message-format",
    "--lockfile-path",
}
_BUILD_SUBCOMMANDS = {"build", "b", "zigbuild", "install", "rustc"}
# Commands that run the rest of their argv as a command: `time cargo build`.
_PLAIN_WRAPPERS = frozenset({"time", "nice", "nohup", "ionice", "chrt", "exec", "command", "sudo"})
# Their options that take a value: `nice -n 10 cargo build`, `sudo -u rust cargo build`.
_WRAPPER_VALUE_FLAGS = frozenset({"-n", "-u", "-g", "-c", "-p", "-o", "-f"})
# cargo's own options before the subcommand: `cargo --locked -C sub build`.
_GLOBAL_VALUE_FLAGS = frozenset({"-C", "--config", "-Z", "--color"})
# Words that open a compound command's body: the command follows them.
SHELL_KEYWORDS = frozenset({"then", "else", "do", "!", "{", "elif", "if", "while", "until"})
_TOOLS = frozenset({"cargo", "cross", "xx-cargo", "cargo-zigbuild", "cargo-auditable"})
_MAX_WRAPPERS = 8  # hostile input: `time time time ...` stops here


@record
class CargoBuild:
    tool: str  # cargo | cross | xx-cargo (tonistiigi/xx: the target is the TARGETPLATFORM's)
    subcommand: str  # build | zigbuild | install | chef-cook | rustc | binstall
    targets: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    bins: list[str] = field(default_factory=list)
    manifest_path: str | None = None
    install_path: str | None = None  # cargo install --path
    install_crate: str | None = None  # cargo install NAME (from a registry)
    install_git: str | None = None  # cargo install --git URL
    workspace: bool = False
    features: list[str] = field(default_factory=list)
    no_default_features: bool = False
    all_features: bool = False
    profile: str = "debug"
    config_target: str | None = None  # --config build.target="..."
    target_dir: str | None = None
    install_root: str | None = None  # cargo install --root
    chdir: str | None = None  # `env -C dir` / `cargo -C dir`: where cargo runs, from the workdir
    env: dict[str, str] = field(default_factory=dict)
    locked: bool = False  # --locked / --frozen: cargo refuses a Cargo.lock that does not fit

    @property
    def produces_binaries(self) -> bool:
        # chef cook builds only dependencies; binstall downloads someone else's binary
        return self.subcommand not in ("chef-cook", "binstall")

    @property
    def installs_elsewhere(self) -> bool:
        """`cargo install NAME` / `--git URL`: a crate fetched from outside the build context."""
        return (
            self.subcommand == "install"
            and self.install_path is None
            and (self.install_crate is not None or self.install_git is not None)
        )


def parse_cargo(cmd: Command) -> CargoBuild | None:
    env = dict(cmd.env)
    argv, chdir = _unwrap(cmd.argv, env)
    if not argv:
        return None
    tool = argv[0].rsplit("/", 1)[-1]
    args = argv[1:]
    if tool == "just-cargo":
        tool, args = "cargo", _just_cargo(args)
    if tool == "cargo-zigbuild":
        tool, args = "cargo", ["zigbuild"] + args
    elif tool == "cargo-auditable":
        tool = "cargo"
    if tool not in _TOOLS:
        return None
    args, global_chdir, configs, locked = _global_options(args)
    chdir = _join(chdir, global_chdir)
    if args[:1] == ["auditable"]:  # cargo auditable build|install: the same build, audited
        args = args[1:]
    if args[:2] == ["chef", "cook"]:
        sub, rest = "chef-cook", args[2:]
    elif args and args[0] in _BUILD_SUBCOMMANDS:
        sub, rest = ("build" if args[0] == "b" else args[0]), args[1:]
    elif args[:1] == ["binstall"]:
        sub, rest = "binstall", args[1:]
    else:
        return None
    build = CargoBuild(tool=tool, subcommand=sub, env=env, chdir=chdir, locked=locked)
    for value in configs:  # `cargo --config build.target=... build`
        _value(build, "--config", value)
    _read_flags(build, rest)
    return build


def _unwrap(argv: list[str], env: dict[str, str]) -> tuple[list[str], str | None]:
    """The command past its wrappers (`time`, `nice -n 5`, `env -C dir X=1`, `mold -run`,
    `rustup run stable`), the directory `env -C` moves to, and `env`'s assignments."""
    chdir: str | None = None
    for _ in range(_MAX_WRAPPERS):
        if not argv:
            break
        head = argv[0].rsplit("/", 1)[-1]
        if head in SHELL_KEYWORDS:  # `if ...; then cargo build; fi`, as the reader splits it
            argv = argv[1:]
        elif head.startswith("-"):  # a wrapper's options, the wrapper already taken off
            argv = _skip_options(argv)
        elif head.startswith("$"):  # `${LG:+env LG=1} cargo build`, split by the reader
            argv = _past_expansion(argv)
        elif head == "env":
            argv, moved = _env_wrapper(argv[1:], env)
            chdir = _join(chdir, moved)
        elif head in _PLAIN_WRAPPERS:
            argv = _skip_options(argv[1:])
        elif head == "mold" and argv[1:2] in (["-run"], ["--run"]):
            argv = argv[2:]
        elif head == "rustup" and argv[1:2] == ["run"] and len(argv) > 2:
            argv = argv[3:]  # rustup run TOOLCHAIN cargo ...
        else:
            break
    return argv, chdir


def _just_cargo(args: list[str]) -> list[str]:
    """linkerd's `just-cargo profile=P target=T toolchain=X build ARGS` as the cargo call it
    makes. The script (linkerd/dev `bin/just-cargo`, on PATH in the ghcr.io/linkerd/dev
    images) is a justfile whose `build *args` recipe runs `{{ CARGO }} build --frozen
    {{ _release }} {{ _target }} {{ args }}`: `--release` when profile is `release`,
    `--target=T` when target is not empty, CARGO `cargo +X` for a toolchain. Its exports
    (CC_*, AR_*, a linker for arm64/armv7 musl, `-Clink-self-contained`) change no libc
    and no crt-static. Its other recipes (fetch, clippy, test) build no shipped binary."""
    overrides: dict[str, str] = {}
    i = 0
    while i < len(args) and "=" in args[i] and not args[i].startswith("-"):
        name, _, value = args[i].partition("=")
        overrides[name] = value
        i += 1
    if args[i : i + 1] != ["build"]:
        return []  # not a build: parse_cargo reads nothing
    release = ["--release"] if overrides.get("profile") == "release" else []
    target = overrides.get("target", "")
    return [
        "build",
        "--frozen",
        *release,
        *([f"--target={target}"] if target else []),
        *args[i + 1 :],
    ]


def _past_expansion(argv: list[str]) -> list[str]:
    """The words from the cargo word on, when only unread expansions come before it."""
    for i, word in enumerate(argv[:_MAX_WRAPPERS]):
        if word.rsplit("/", 1)[-1] in _TOOLS:
            return argv[i:]
        if not (word.startswith("$") or "=" in word or word.endswith("}")):
            break
    return []


def _skip_options(args: list[str]) -> list[str]:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _WRAPPER_VALUE_FLAGS else 1
    return args[i:]


def _env_wrapper(args: list[str], env: dict[str, str]) -> tuple[list[str], str | None]:
    chdir: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-C", "--chdir", "-u", "--unset", "-S") and i + 1 < len(args):
            if a in ("-C", "--chdir"):
                chdir = args[i + 1]
            i += 2
        elif a.startswith("--chdir="):
            chdir, i = a.split("=", 1)[1], i + 1
        elif a.startswith("-"):
            i += 1
        elif "=" in a and not a.startswith("="):
            k, _, v = a.partition("=")
            env[k] = v
            i += 1
        else:
            break
    return args[i:], chdir


def _global_options(args: list[str]) -> tuple[list[str], str | None, list[str], bool]:
    """cargo's options before its subcommand: `+nightly`, `--locked`, `-C dir`, `--config`."""
    chdir: str | None = None
    configs: list[str] = []
    locked = False
    i = 0
    while i < len(args) and (args[i].startswith("+") or args[i].startswith("-")):
        if args[i] in _LOCK_FLAGS:
            locked = True
            i += 1
        elif args[i] in _GLOBAL_VALUE_FLAGS and i + 1 < len(args):
            if args[i] == "-C":
                chdir = args[i + 1]
            elif args[i] == "--config":
                configs.append(args[i + 1])
            i += 2
        else:
            if args[i].startswith("--config="):
                configs.append(args[i].split("=", 1)[1])
            i += 1
    return args[i:], chdir, configs, locked


def _join(base: str | None, more: str | None) -> str | None:
    if more is None:
        return base
    if base is None or more.startswith("/"):
        return more
    return base.rstrip("/") + "/" + more


def _read_flags(build: CargoBuild, rest: list[str]) -> None:
    i = 0
    while i < len(rest):
        arg = rest[i]
        name, eq, inline = arg.partition("=")
        if name in _VALUE_FLAGS and name.startswith("--") and eq:
            value = inline
        elif arg in _VALUE_FLAGS and i + 1 < len(rest):
            name, value = arg, rest[i + 1]
            i += 1
        else:
            _flag(build, arg)
            i += 1
            continue
        _value(build, name, value)
        i += 1


_LOCK_FLAGS = frozenset({"--locked", "--frozen"})


def _flag(build: CargoBuild, arg: str) -> None:
    if arg in _LOCK_FLAGS:
        build.locked = True
    elif arg in ("--release", "-r"):
        build.profile = "release"
    elif arg in ("--workspace", "--all"):
        build.workspace = True
    elif arg == "--no-default-features":
        build.no_default_features = True
    elif arg == "--all-features":
        build.all_features = True
    elif build.subcommand == "install" and not arg.startswith("-") and build.install_crate is None:
        build.install_crate = arg.split("@", 1)[0]  # cargo install NAME@1.2


def _value(build: CargoBuild, name: str, value: str) -> None:
    if name == "--target":
        build.targets.append(value)
    elif name in ("-p", "--package"):
        build.packages.append(value)
    elif name == "--bin":
        build.bins.append(value)
    elif name == "--manifest-path":
        build.manifest_path = value
    elif name in ("--features", "-F"):
        build.features += [f for f in value.replace(",", " ").split() if f]
    elif name == "--profile":
        build.profile = value
    elif name == "--path":
        build.install_path = value
    elif name == "--target-dir":
        build.target_dir = value
    elif name == "--git":
        build.install_git = value
    elif name == "--root":
        build.install_root = value
    elif name == "--config" and value.replace(" ", "").startswith("build.target="):
        build.config_target = value.split("=", 1)[1].strip().strip("\"'")
