"""What the migrations share: tables keyed by an integer ``id``, with their foreign keys and indexes.

A revision runs again on every new database and on databases made long before: once a
revision calls a helper here, what the helper emits must never change (add another one).
"""

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op


def create_table(
    name: str,
    *columns: sa.Column,
    references: Mapping[str, str] | None = None,
    unique: Sequence[str] = (),
    indexed: Sequence[str] = (),
) -> None:
    """Create table ``name``: an integer ``id`` first, then ``columns``.

    ``references`` maps a column to the ``table.column`` it points to; each column in
    ``unique`` gets a unique constraint and each in ``indexed`` an index ``ix_<name>_<column>``.
    """
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        *columns,
        *(
            sa.ForeignKeyConstraint([column], [target])
            for column, target in (references or {}).items()
        ),
        sa.PrimaryKeyConstraint("id"),
        *(sa.UniqueConstraint(column) for column in unique),
    )
    for column in indexed:
        op.create_index(f"ix_{name}_{column}", name, [column])


def drop_table(name: str, indexed: Sequence[str] = ()) -> None:
    """Undo :func:`create_table`: its indexes, then the table."""
    for column in reversed(indexed):
        op.drop_index(f"ix_{name}_{column}", table_name=name)
    op.drop_table(name)
