"""Running the app rather than the product: the embedded servers, ``make run``, migrations, the
seed loader and key rotation. Nothing in the product imports this package except at its edges
(the CLI, the app factory, the worker).

- ``embedded``: the real PostgreSQL and Redis servers shipped in pip packages.
- ``devstack``: ``make run``: web, worker and stand-ins on embedded defaults.
- ``migrate``: Alembic migrations run programmatically, and fresh databases for tests.
- ``seed``: the seed document loader (``flask --app web seed FILE``).
- ``key_rotation``: re-encrypt stored tokens with the newest key.
"""

__all__ = ["devstack", "embedded", "key_rotation", "migrate", "seed"]
