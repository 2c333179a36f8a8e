"""New TOML lines land after the table's last key: never under the comment that
introduces the next table, never after a sub-table."""

from __future__ import annotations

import pytest

from allocpolicy.fixes.toml_edit import put_key, table_at, toml_after

CASES = [
    (  # the comment above [features] belongs to [features]
        '[dependencies]\nserde = "1"\n\n# Optional extras\n[features]\nx = []\n',
        '[dependencies]\nserde = "1"\nmimalloc = "0.1"\n\n# Optional extras\n[features]\nx = []\n',
    ),
    (  # dotted keys are keys
        '[dependencies]\njem.version = "0.5"\njem.optional = true\n# next\n[features]\n',
        '[dependencies]\njem.version = "0.5"\njem.optional = true\nmimalloc = "0.1"\n'
        "# next\n[features]\n",
    ),
    (  # a sub-table is not: the key stays in [dependencies] itself
        '[dependencies]\nserde = "1"\n\n[dependencies.foo]\nversion = "1"\n',
        '[dependencies]\nserde = "1"\nmimalloc = "0.1"\n\n[dependencies.foo]\nversion = "1"\n',
    ),
    (  # an empty table: right under its header
        "[dependencies]\n# none yet\n\n[features]\n",
        '[dependencies]\nmimalloc = "0.1"\n# none yet\n\n[features]\n',
    ),
    (  # the last table of the file: appended
        '[dependencies]\nserde = "1"\n',
        '[dependencies]\nserde = "1"\nmimalloc = "0.1"\n',
    ),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_a_new_key_goes_after_the_tables_last_key(before: str, after: str) -> None:
    def change(doc: object) -> bool:
        put_key(table_at(doc, ("dependencies",)), "mimalloc", "0.1")
        return True

    assert toml_after(before, change) == after
