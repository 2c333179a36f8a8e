"""allocpolicy.toml: which policies, which rules, which paths, which build args."""

from __future__ import annotations

import os
from pathlib import Path

from allocpolicy._record import field, record
from allocpolicy.model import Severity
from allocpolicy.parsing.cargo import ManifestError, load_toml
from allocpolicy.parsing.text import MAX_BYTES, ReadError, decode, inside, read_bytes
from allocpolicy.parsing.toml_lines import index_toml

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

CONFIG_NAMES = ("allocpolicy.toml", ".allocpolicy.toml")
PROFILES = ("default", "simple", "long-running", "large-buffers")


class ConfigError(Exception):
    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@record
class Config:
    path: Path | None = None
    fail_on: Severity = Severity.ERROR
    policies: list[Path] = field(default_factory=list)
    disable: set[str] = field(default_factory=set)
    enable: set[str] | None = None  # None: every rule
    severity: dict[str, Severity] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    per_path_ignores: dict[str, set[str]] = field(default_factory=dict)
    build_args: dict[str, str] = field(default_factory=dict)
    default_profile: str = "default"
    max_file_size: int = MAX_BYTES  # bytes; a larger file is skipped with an info finding

    def rule_enabled(self, rule_id: str) -> bool:
        if rule_id in self.disable:
            return False
        return self.enable is None or rule_id in self.enable


_KEYS = {
    "fail-on",
    "policies",
    "exclude",
    "default-profile",
    "rules",
    "build-args",
    "per-path-ignores",
    "max-file-size",
}

# The config may come from a stranger's pull request: it can raise the per-file cap, but
# not so far that one file could take the runner's memory.
MAX_FILE_SIZE_CEILING = 64 * 1024 * 1024
_UNITS = {"": 1, "B": 1, "KIB": 1024, "MIB": 1024 * 1024, "KB": 1000, "MB": 1000 * 1000}


def find_config(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        path = root / name
        # A FIFO or a dangling link by that name is the config, refused when read: passed
        # over, the scan would silently run without the config the user thinks applies.
        if os.path.lexists(path) and not path.is_dir():
            return path
    return None


def confined(path: Path, root: Path) -> Path | None:
    """`root` when `path` is named inside the scanned tree, which it must then not leave.

    Trust follows who names a file: one named inside the tree is the tree's data (a
    pull request can turn it into a link to any file of the machine running the scan),
    one named outside it by the invoker (`--config ~/org.toml`) is read as named.
    """
    full, top = os.path.abspath(path), os.path.abspath(root)
    return root if full == top or full.startswith(top.rstrip(os.sep) + os.sep) else None


def load_config(root: Path, explicit: Path | None = None) -> Config:
    path = explicit or find_config(root)
    if path is None:
        return Config()
    shown = str(path)
    try:
        # a config file is a few lines
        src = decode(read_bytes(path, 1024 * 1024, root=confined(path, root)))
        data = load_toml(src.text)
    except ReadError as exc:
        raise ConfigError(shown, exc.line, exc.message) from None
    except ManifestError as exc:
        raise ConfigError(shown, exc.line, exc.message) from None
    return _build(path, root, data, src.lines)


def _build(path: Path, root: Path, data: dict[str, Any], lines: list[str]) -> Config:
    idx = index_toml(lines)

    def fail(keys: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(str(path), idx.line_of(keys) or 1, message)

    cfg = Config(path=path)
    for key in data:
        if key not in _KEYS:
            raise fail((key,), f"unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
    cfg.fail_on = _severity(data.get("fail-on", "error"), ("fail-on",), fail)
    names = _strings(data, "policies", fail)
    cfg.policies = _policies(path, root, names, lines, idx.line_of(("policies",)) or 1)
    cfg.exclude = _strings(data, "exclude", fail)
    profile = data.get("default-profile", "default")
    if profile not in PROFILES:
        raise fail(("default-profile",), f"default-profile must be one of {', '.join(PROFILES)}")
    cfg.default_profile = profile
    if "max-file-size" in data:
        cfg.max_file_size = _size(data["max-file-size"], ("max-file-size",), fail)
    _rules(cfg, data.get("rules", {}), fail)
    cfg.build_args = {str(k): str(v) for k, v in _table(data, "build-args", fail).items()}
    for pattern, ids in _table(data, "per-path-ignores", fail).items():
        if not isinstance(ids, list):
            raise fail(
                ("per-path-ignores", pattern), "per-path-ignores values are lists of rule ids"
            )
        cfg.per_path_ignores[pattern] = {str(i) for i in ids}
    return cfg


def _policies(path: Path, root: Path, names: list[str], lines: list[str], line: int) -> list[Path]:
    """The policy files named; a config in the scanned tree may name none outside it."""
    in_tree = confined(path, root) is not None
    found = []
    for name in names:
        policy = path.parent / name
        if (in_tree or confined(policy, root)) and not inside(policy, root):
            # `inside` follows links: "../../etc/x.yaml", "/etc/x.yaml" and a link out alike
            at = next((n for n in range(line, len(lines) + 1) if name in lines[n - 1]), line)
            raise ConfigError(
                str(path),
                at,
                f"policies: {name!r} is outside the scanned tree; a repository's policy "
                "files must be inside it (not through '..', an absolute path or a link)",
            )
        found.append(policy)
    return found


def _rules(cfg: Config, rules: Any, fail: Any) -> None:
    if not isinstance(rules, dict):
        raise fail(("rules",), "[rules] must be a table")
    for key in rules:
        if key not in ("enable", "disable", "severity"):
            raise fail(
                ("rules", key), f"unknown key rules.{key} (known: enable, disable, severity)"
            )
    if "enable" in rules:
        cfg.enable = set(_strings(rules, "enable", fail, ("rules",)))
    cfg.disable = set(_strings(rules, "disable", fail, ("rules",)))
    sev = rules.get("severity", {})
    if not isinstance(sev, dict):
        raise fail(("rules", "severity"), "rules.severity must be a table of rule id = severity")
    for rule_id, value in sev.items():
        cfg.severity[rule_id] = _severity(value, ("rules", "severity", rule_id), fail)


def _severity(value: Any, keys: tuple[str, ...], fail: Any) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise fail(
            keys, f"{'.'.join(keys)} must be error, warning or info, not {value!r}"
        ) from None


def _size(value: Any, keys: tuple[str, ...], fail: Any) -> int:
    """Bytes, from an integer or a string such as "8MiB", "512 KiB", "2MB"."""
    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        number = value.strip().rstrip("bBiIkKmM ")
        unit = value.strip()[len(number) :].strip().upper()
        if number.isdigit() and unit in _UNITS:
            size = int(number) * _UNITS[unit]
    if size is None or not 0 < size <= MAX_FILE_SIZE_CEILING:
        raise fail(
            keys,
            f'{keys[0]} must be a size in bytes (or like "8MiB") between 1 and 64MiB, '
            f"not {value!r}",
        )
    return size


def _strings(data: dict[str, Any], key: str, fail: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(prefix + (key,), f"{'.'.join(prefix + (key,))} must be a list of strings")
    return value


def _table(data: dict[str, Any], key: str, fail: Any) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise fail((key,), f"[{key}] must be a table")
    return value
