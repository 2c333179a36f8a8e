"""A small stand-in for `dataclasses` on the start-up path.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`) and compiles
three to six methods per class; with some forty classes that was a third of the
time a pre-commit check takes. `record` compiles one `__init__` per class and
shares generic `__repr__`/`__eq__`/`__hash__`/ordering methods. It supports what
this package uses: defaults, `field(default_factory=..., repr=False)`, `frozen`,
`order`, `__post_init__` and `replace`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing is part of what this avoids
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    _T = TypeVar("_T")
else:
    # Type checkers read `record` as a dataclass transform (below); at run time the
    # marker is a no-op, so neither typing nor typing_extensions is imported.
    def dataclass_transform(**_kwargs):
        return lambda f: f


MISSING: Any = object()  # the annotation is never evaluated (no typing import at run time)


class FrozenInstanceError(AttributeError):
    pass


class Field:
    __slots__ = ("default", "default_factory", "doc", "repr")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        repr: bool = True,
        doc: str | None = None,
    ) -> None:
        self.default, self.default_factory, self.repr = default, default_factory, repr
        self.doc = doc


def field(
    *,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    repr: bool = True,
    doc: str | None = None,
) -> Any:
    """A field's default and how it shows; `doc` documents it (read by `docs`)."""
    return Field(default, default_factory, repr, doc)


def fact(doc: str) -> Any:
    """A required field with a one-line doc (a subject's fact, see facts/catalog.py)."""
    return Field(doc=doc)


def docs(cls: type) -> dict[str, str]:
    """The documented fields of a record class, in declaration order: name -> doc."""
    return dict(getattr(cls, "__record_docs__", {}))


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, n) for n in self.__record_fields__)


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__record_repr__)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _compare(op: Callable[[tuple[Any, ...], tuple[Any, ...]], bool]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return op(_values(self), _values(other))

    return method


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _init_source(
    cls: type, names: list[str], specs: dict[str, Field], frozen: bool
) -> tuple[str, dict[str, Any]]:
    env: dict[str, Any] = {"MISSING": MISSING, "__setattr": object.__setattr__}
    params, body = [], []
    for n in names:
        spec = specs[n]
        if spec.default_factory is not MISSING:
            env[f"_f_{n}"] = spec.default_factory
            params.append(f"{n}=MISSING")
            value = f"_f_{n}() if {n} is MISSING else {n}"
        elif spec.default is not MISSING:
            env[f"_d_{n}"] = spec.default
            params.append(f"{n}=_d_{n}")
            value = n
        else:
            if any(p.endswith("MISSING") or "=_d_" in p for p in params):
                raise TypeError(
                    f"{cls.__name__}: field {n!r} without a default follows one with a default"
                )
            params.append(n)
            value = n
        body.append(f"__setattr(self, {n!r}, {value})" if frozen else f"self.{n} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    return src, env


def _deferred_init(cls: type, src: str, env: dict[str, Any]) -> Callable[..., None]:
    """Compile the real `__init__` when the first instance is made.

    Compiling is most of what a record class costs, and a short run (a pre-commit
    check) loads many classes it never instantiates.
    """

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        exec(src, env)
        cls.__init__ = env["__init__"]  # type: ignore[misc]
        env["__init__"](self, *args, **kwargs)

    return __init__


@dataclass_transform(field_specifiers=(field, fact))
def record(cls: type | None = None, /, *, frozen: bool = False, order: bool = False) -> Any:
    def wrap(cls: Any) -> Any:  # Any: the class gains attributes its type does not declare
        names = list(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063 - inspect costs start-up
        specs: dict[str, Field] = {}
        for n in names:
            v = cls.__dict__.get(n, MISSING)
            specs[n] = v if isinstance(v, Field) else Field(default=v)
            if isinstance(v, Field):
                if v.default is MISSING:
                    delattr(cls, n)
                else:
                    setattr(cls, n, v.default)
        cls.__init__ = _deferred_init(cls, *_init_source(cls, names, specs, frozen))
        cls.__record_fields__ = tuple(names)
        cls.__record_repr__ = tuple(n for n in names if specs[n].repr)
        cls.__record_docs__ = {n: specs[n].doc for n in names if specs[n].doc is not None}
        setattr(cls, "__match_args__", tuple(names))  # noqa: B010 - mypy rejects the plain assignment
        cls.__repr__ = _repr
        cls.__eq__ = _eq
        if frozen:
            cls.__setattr__ = _frozen_setattr
            cls.__delattr__ = _frozen_delattr
            cls.__hash__ = _hash
        else:
            cls.__hash__ = None  # mutable and comparable: unhashable
        if order:
            cls.__lt__ = _compare(lambda a, b: a < b)
            cls.__le__ = _compare(lambda a, b: a <= b)
            cls.__gt__ = _compare(lambda a, b: a > b)
            cls.__ge__ = _compare(lambda a, b: a >= b)
        return cls

    return wrap if cls is None else wrap(cls)


def replace(obj: _T, **changes: Any) -> _T:
    """A copy of a record with some fields changed (dataclasses.replace for `record`)."""
    names: tuple[str, ...] = getattr(obj, "__record_fields__")  # noqa: B009 - set by record
    values = {n: getattr(obj, n) for n in names}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field(s) {', '.join(sorted(unknown))}")
    values.update(changes)
    return type(obj)(**values)
