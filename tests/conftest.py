import os
import uuid

import pytest
import sqlalchemy as sa

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The tests run in parallel (pytest -n 2); the `pytest bench` sweeps they start must not
# think they are xdist workers too (pytest-benchmark turns itself off in xdist workers).
for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
    os.environ.pop(name, None)


PG = os.environ.get("RESNET_BENCH_TEST_PG")
PG_SKIP = (
    "PostgreSQL is not running for the tests: start one with "
    '`eval "$(bash scripts/postgres.sh start)"` (Debian: apt-get install postgresql); .ci/run does'
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    if not PG:
        pytest.skip(PG_SKIP)
    name = f"rb_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(PG).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
