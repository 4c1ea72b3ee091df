"""Alembic environment: migrations ship inside the package and run against the settings' URL."""

from alembic import context
from sqlalchemy import create_engine, event, text

from feedsvc.db import add_sqlite_functions
from feedsvc.models import Base, in_models

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url", ""))
    if engine.dialect.name == "sqlite":  # the search index's triggers call search_pairs()
        event.listen(engine, "connect", add_sqlite_functions)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_name=in_models,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Containers that start together migrate one at a time.
                connection.execute(text("SELECT pg_advisory_xact_lock(725010001)"))
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
