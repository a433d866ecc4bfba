"""Every read and write Warble makes, one module per area: `from app.queries import posts`.

Each module holds async functions that take the session first and never commit (the view
does, once). Statements that run on every page view are built once, at import, with bound
parameters: building a SQLAlchemy statement costs more than running a keyset query on an
index (docs/benchmarks.md).
"""
