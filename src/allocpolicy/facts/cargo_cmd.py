"""What a `cargo build` (or cross, zigbuild, install, chef cook) command line asks for."""

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
_BUILD_SUBCOMMANDS = {"build", "b", "zigbuild", "install", "rustc", "auditable"}


@record
class CargoBuild:
    tool: str  # cargo | cross
    subcommand: str  # build | zigbuild | install | chef-cook | rustc
    targets: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    bins: list[str] = field(default_factory=list)
    manifest_path: str | None = None
    install_path: str | None = None  # cargo install --path
    install_crate: str | None = None  # cargo install NAME (from a registry)
    workspace: bool = False
    features: list[str] = field(default_factory=list)
    no_default_features: bool = False
    all_features: bool = False
    profile: str = "debug"
    config_target: str | None = None  # --config build.target="..."
    target_dir: str | None = None
    install_root: str | None = None  # cargo install --root
    env: dict[str, str] = field(default_factory=dict)

    @property
    def produces_binaries(self) -> bool:
        return self.subcommand != "chef-cook"


def parse_cargo(cmd: Command) -> CargoBuild | None:
    argv = cmd.argv
    if not argv:
        return None
    tool = argv[0].rsplit("/", 1)[-1]
    args = argv[1:]
    if tool == "cargo-zigbuild":
        tool, args = "cargo", ["zigbuild"] + args
    if tool not in ("cargo", "cross"):
        return None
    while args and args[0].startswith("+"):  # toolchain override: cargo +nightly build
        args = args[1:]
    if args[:2] == ["chef", "cook"]:
        sub, rest = "chef-cook", args[2:]
    elif args and args[0] in _BUILD_SUBCOMMANDS:
        sub, rest = ("build" if args[0] in ("b", "auditable") else args[0]), args[1:]
        if args[0] == "auditable" and rest[:1] == ["build"]:
            rest = rest[1:]
    else:
        return None
    build = CargoBuild(tool=tool, subcommand=sub, env=dict(cmd.env))
    _read_flags(build, rest)
    return build


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


def _flag(build: CargoBuild, arg: str) -> None:
    if arg in ("--release", "-r"):
        build.profile = "release"
    elif arg in ("--workspace", "--all"):
        build.workspace = True
    elif arg == "--no-default-features":
        build.no_default_features = True
    elif arg == "--all-features":
        build.all_features = True
    elif build.subcommand == "install" and not arg.startswith("-") and build.install_crate is None:
        build.install_crate = arg


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
    elif name == "--root":
        build.install_root = value
    elif name == "--config" and value.replace(" ", "").startswith("build.target="):
        build.config_target = value.split("=", 1)[1].strip().strip("\"'")
