"""Running the app rather than the product: the embedded servers, ``make run``, migrations (and
their placement on Citus), the seed loader and key rotation. Nothing in the product imports
this package except at its edges (the CLI, the app factory, the worker).

- ``embedded``: the real PostgreSQL and Redis servers shipped in pip packages.
- ``devstack``: ``make run``: web, worker and stand-ins on embedded defaults.
- ``migrate``: Alembic migrations run programmatically, and fresh databases for tests.
- ``citus``: where each table lives on Citus, the step that distributes them, new databases there.
- ``citus_cluster``: ``make citus``: a Citus coordinator and two workers built from vendor/citus.
- ``seed``: the seed document loader (``flask --app web seed FILE``).
- ``key_rotation``: re-encrypt stored tokens with the newest key.
"""

__all__ = ["citus", "citus_cluster", "devstack", "embedded", "key_rotation", "migrate", "seed"]
