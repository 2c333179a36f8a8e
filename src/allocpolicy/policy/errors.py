"""A policy file's errors, and the lines they point at."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any


class PolicyError(Exception):
    def __init__(self, path: str, line: int, field: str, message: str) -> None:
        where = f" (field {field})" if field else ""
        super().__init__(f"{path}:{line}: {message}{where}")
        self.path, self.line, self.field, self.message = path, line, field, message


def invalid_yaml(path: str, exc: Exception) -> PolicyError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else 1
    return PolicyError(path, line, "", f"invalid YAML: {getattr(exc, 'problem', exc)}")


def field_name(where: list[Any]) -> str:
    """A JSON path as the errors spell it: rules[0].when.all[1]."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in where).replace(".[", "[")


def node(text: str) -> Any:
    """The YAML node tree of a policy text (only for one that passed bounds.check_yaml)."""
    import yaml

    return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def line_at(tree: Any, where: list[Any]) -> int:
    """Line (1-based) of the YAML node at a JSON path, or of its nearest ancestor."""
    line = tree.start_mark.line + 1 if tree is not None else 1
    for step in where:
        child = None
        if isinstance(step, int) and hasattr(tree, "value") and isinstance(tree.value, list):
            if step < len(tree.value) and not isinstance(tree.value[step], tuple):
                child = tree.value[step]
        elif hasattr(tree, "value") and isinstance(tree.value, list):
            for key, value in tree.value:
                if isinstance(key.value, str) and key.value == step:
                    child = value
                    line = key.start_mark.line + 1
                    break
        if child is None:
            return line
        tree = child
        line = tree.start_mark.line + 1
    return line


def error_at(path: str, text: str, where: list[Any], message: str) -> PolicyError:
    """An error at the node of `text` that `where` leads to, naming that field."""
    return PolicyError(path, line_at(node(text), where), field_name(where), message)
