"""Which SQL would stop working once the shop-owned tables are distributed by ``shop_id``
(docs/scaling.md): a statement that reads or writes such a table without constraining its
``shop_id`` would have to visit every shard.

``unscoped_tables(sql)`` parses one statement with sqlglot and answers the shop-owned tables it
touches without a shop condition. Every SELECT, UPDATE and DELETE is checked as its own scope
(the statement itself, each CTE, each subquery), so a CTE or a subquery must scope itself too.
A table is scoped when its ``shop_id`` is tied, through equalities in WHERE or JOIN ... ON, to
something that is not another unscoped shop-owned table: a parameter or literal, ``= ANY(...)``
or ``IN (...)``, a CTE, an ``unnest(...)`` of our parameters, a derived table (checked in its own
scope) or a column of the enclosing query (a correlated subquery). An INSERT must name
``shop_id`` among its columns. Conditions under OR count for nothing.
"""

from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres

from core.models import Base

# Where each table lives on Citus is the app's own rule, and core/ops/citus.py places the tables
# by it: tables with shop_id are distributed, except the local ones (the inbox, stored before
# anyone knows its shop), which need no shop condition; reference tables (shops) are copied to
# every node.
from core.ops.citus import LOCAL_TABLES


def shop_owned_tables() -> frozenset[str]:
    """Every mapped table that carries shop_id, except the local ones."""
    return frozenset(
        table.name
        for table in Base.metadata.sorted_tables
        if "shop_id" in table.columns and table.name not in LOCAL_TABLES
    )


_SCOPES = (exp.Select, exp.Update, exp.Delete, exp.Insert)
# Only statements that read or write rows are checked: DDL, TRUNCATE (fixtures), SET and
# transaction control (BEGIN, SAVEPOINT, ...) touch no shop's rows.
_DML = re.compile(r"^\s*\(?\s*(SELECT|WITH|INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


class _Postgres(Postgres):
    """PostgreSQL as sqlglot reads it, plus ``UPDATE ... FROM unnest(...) AS u(...) JOIN ...``:
    sqlglot 30 reads joins after an UPDATE's FROM only when the first source is a table or a
    subquery, and the drain's statements start from an unnest of their parameters."""

    class Parser(Postgres.Parser):
        _updating = False

        def _parse_update(self) -> exp.Update:
            self._updating = True
            try:
                return super()._parse_update()
            finally:
                self._updating = False

        def _parse_from(self, *args, **kwargs) -> exp.From | None:
            from_ = super()._parse_from(*args, **kwargs)
            if self._updating and from_ is not None and isinstance(from_.this, exp.Unnest):
                joins = list(self._parse_joins())
                if joins:
                    from_.this.set("joins", joins)
            return from_


class UnparsableStatement(ValueError):
    """sqlglot could not read the statement, so it cannot be checked."""


def _readable(sql: str) -> str:
    """psycopg's ``%(name)s``/``%s`` placeholders and ``%%`` as sqlglot's PostgreSQL reads them."""
    sql = re.sub(r"%\((\w+)\)s", r":p_\1", sql)  # prefixed: ":values" would read as a keyword
    return sql.replace("%s", "?").replace("%%", "%")


@functools.lru_cache(maxsize=4096)
def unscoped_tables(sql: str, owned: frozenset[str] | None = None) -> tuple[str, ...]:
    """The shop-owned tables ``sql`` touches without constraining shop_id ("table as alias")."""
    owned = shop_owned_tables() if owned is None else owned
    if not _DML.match(sql):
        return ()
    try:
        tree = sqlglot.parse_one(_readable(sql), read=_Postgres)
    except sqlglot.errors.ParseError as error:
        raise UnparsableStatement(str(error)) from None
    found: list[str] = []
    for scope in tree.find_all(*_SCOPES):
        if isinstance(scope, exp.Insert):
            found += _unscoped_insert(scope, owned)
        else:
            found += _Scope(scope, owned).unscoped()
    return tuple(found)


def _unscoped_insert(insert: exp.Insert, owned: frozenset[str]) -> list[str]:
    target = insert.this
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table) or table.name not in owned:
        return []
    if isinstance(target, exp.Schema) and "shop_id" not in {c.name for c in target.expressions}:
        return [f"{table.name} (INSERT without shop_id)"]
    return []


def _own_nodes(scope: exp.Expression):
    """The nodes of ``scope`` that are not inside a nested scope (CTE, subquery, ...)."""
    stack = list(scope.iter_expressions())
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(node.iter_expressions())


class _Scope:
    """One SELECT, UPDATE or DELETE: its relations, and the equalities that tie their shop_id."""

    def __init__(self, scope: exp.Expression, owned: frozenset[str]) -> None:
        self.owned_aliases: dict[str, str] = {}  # alias -> shop-owned table
        self.other_aliases: set[str] = set()  # CTEs, unnest, derived tables, reference tables
        self.conditions: list[exp.Expression] = []
        for node in _own_nodes(scope):
            if isinstance(node, exp.Table) and not node.find_ancestor(exp.Lock):
                if node.name in owned:
                    self.owned_aliases[node.alias_or_name] = node.name
                else:
                    self.other_aliases.add(node.alias_or_name)
            elif isinstance(node, (exp.Unnest, exp.Subquery, exp.Values)) and node.alias:
                self.other_aliases.add(node.alias)
            elif isinstance(node, exp.Where) and not isinstance(node.parent, exp.Filter):
                self.conditions.append(node.this)
            elif isinstance(node, exp.Join) and node.args.get("on") is not None:
                self.conditions.append(node.args["on"])

    def unscoped(self) -> list[str]:
        if not self.owned_aliases:
            return []
        edges: dict[str, set[str]] = {alias: set() for alias in self.owned_aliases}
        scoped: set[str] = set()
        for condition in self.conditions:
            for conjunct in _conjuncts(condition):
                self._tie(conjunct, edges, scoped)
        _spread(edges, scoped)
        return [f"{table} as {alias}" for alias, table in self.owned_aliases.items() if alias not in scoped]

    def _tie(self, conjunct: exp.Expression, edges: dict[str, set[str]], scoped: set[str]) -> None:
        if isinstance(conjunct, exp.In):
            sides = [conjunct.this, exp.Placeholder()]
        elif isinstance(conjunct, exp.EQ):
            sides = [conjunct.this, conjunct.expression]
        else:
            return
        left, right = (_unwrap(side) for side in sides)
        for mine, other in ((left, right), (right, left)):
            for alias in self._shop_id_aliases(mine):
                target = self._relation_of(other)
                if target is None:  # a value: a parameter, a literal, ANY(...), a subquery
                    scoped.add(alias)
                elif target in self.owned_aliases:
                    edges[alias].add(target)
                else:  # a CTE, unnest, derived table or the enclosing query
                    scoped.add(alias)

    def _shop_id_aliases(self, side: exp.Expression) -> list[str]:
        columns = side.expressions if isinstance(side, exp.Tuple) else [side]
        aliases = []
        for column in columns:
            if isinstance(column, exp.Column) and column.name == "shop_id":
                alias = column.table or self._only_owned_alias()
                if alias in self.owned_aliases:
                    aliases.append(alias)
        return aliases

    def _only_owned_alias(self) -> str | None:
        return next(iter(self.owned_aliases)) if len(self.owned_aliases) == 1 else None

    def _relation_of(self, side: exp.Expression) -> str | None:
        """The relation a column side belongs to ('' for an unknown one), None for a value."""
        if not isinstance(side, exp.Column):
            return None
        if side.table:
            return side.table if side.name == "shop_id" or side.table not in self.owned_aliases else ""
        return self._only_owned_alias() or ""


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Paren, exp.Cast)):
        node = node.this
    return node


def _conjuncts(condition: exp.Expression):
    condition = _unwrap(condition)
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.this)
        yield from _conjuncts(condition.expression)
    else:
        yield condition


def _spread(edges: dict[str, set[str]], scoped: set[str]) -> None:
    """A table joined on shop_id to a scoped one is scoped (equality is symmetric)."""
    links = {alias: set(targets) for alias, targets in edges.items()}
    for alias, targets in edges.items():
        for target in targets:
            links.setdefault(target, set()).add(alias)
    frontier = list(scoped)
    while frontier:
        for neighbour in links.get(frontier.pop(), ()):
            if neighbour not in scoped:
                scoped.add(neighbour)
                frontier.append(neighbour)
