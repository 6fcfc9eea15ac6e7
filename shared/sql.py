"""SQL with named parameters for raw asyncpg, which only knows ``$1, $2, ...``.

``NamedQuery("... WHERE scope = :scope AND key = :key")`` compiles the text to positional form once;
``query.args(scope=..., key=...)`` puts the values in their order and refuses a missing or unknown
name, so a 20-column statement cannot silently take one value for another. ``::type`` casts are left
alone.
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class NamedQuery:
    __slots__ = ("names", "source", "sql")

    def __init__(self, sql: str) -> None:
        self.source = sql  # as written: SQLAlchemy's ``text()`` takes the same ``:name`` form
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _NAME.sub(number, sql)
        self.names = tuple(names)

    def args(self, **values: Any) -> list[Any]:
        if values.keys() != set(self.names):
            missing = sorted(set(self.names) - values.keys())
            unknown = sorted(values.keys() - set(self.names))
            raise TypeError(f"parameters missing {missing}, unknown {unknown}")
        return [values[name] for name in self.names]
