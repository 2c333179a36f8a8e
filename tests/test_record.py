from __future__ import annotations

import pytest

from allocpolicy._record import FrozenInstanceError, field, record, replace


@record
class Box:
    """A mutable record."""

    name: str
    size: int = 1
    tags: list[str] = field(default_factory=list)
    secret: str = field(default="x", repr=False)


@record(frozen=True, order=True)
class Point:
    line: int
    column: int = 1

    def __post_init__(self) -> None:
        if self.line < 1:
            raise ValueError("lines start at 1")


def test_defaults_factories_and_repr():
    a, b = Box("a"), Box("b", 2)
    a.tags.append("t")
    assert b.tags == [] and a.size == 1 and b.size == 2
    assert repr(a) == "Box(name='a', size=1, tags=['t'])"
    assert a == Box("a", tags=["t"]) and a != b
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        Box()  # type: ignore[call-arg]


def test_frozen_order_hash_and_post_init():
    p = Point(3)
    with pytest.raises(FrozenInstanceError):
        p.line = 4  # type: ignore[misc]
    assert sorted([Point(5, 2), Point(2), Point(5, 1)]) == [Point(2), Point(5, 1), Point(5, 2)]
    assert len({Point(1), Point(1), Point(2)}) == 2
    with pytest.raises(ValueError):
        Point(0)


def test_replace():
    assert replace(Point(3), column=9) == Point(3, 9)
    with pytest.raises(TypeError):
        replace(Point(3), nope=1)


def test_field_order_is_checked_when_the_class_is_made():
    with pytest.raises(TypeError, match="without a default follows"):

        @record
        class Bad:
            a: int = 1
            b: int


def test_first_instance_through_a_subclass_builds_the_parents_init():
    @record
    class Base:
        x: int
        y: int = 2

    class Child(Base):
        def __init__(self, x: int) -> None:
            super().__init__(x, y=5)

    assert (Child(1).x, Child(1).y) == (1, 5)
    assert Base(3) == Base(3, 2) and Base(3) != Base(3, 4)
    with pytest.raises(TypeError):
        Base()  # type: ignore[call-arg]
