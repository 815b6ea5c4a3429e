"""Where the lake lives and how a process opens it.

Every table the pipeline keeps is in one DuckLake: a SQL catalog (a SQLite file by default, PostgreSQL for a
shared deployment) that lists Parquet files under a data path (a local folder by default, or S3). A process
keeps one DuckDB instance per lake with the catalog attached and hands out cursors: loading the extensions and
attaching costs a fraction of a second once, a cursor costs nothing, and every transaction reads the newest
committed snapshot, so readers never copy the data and never wait for a writer.

The extensions come from the `duckdb-ext-*` packages installed beside DuckDB and are never downloaded.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb

CATALOG_ENV = "AUDIT_PIPELINE_CATALOG"
DATA_ENV = "AUDIT_PIPELINE_DATA"
ALIAS = "lake"
DEFAULT_CATALOG_NAME = "catalog.sqlite"
DEFAULT_DATA_NAME = "lake"
# Small writes (a config, a user, one export's bookkeeping) stay in the catalog instead of becoming a Parquet
# file each; maintenance flushes them into files. Not on PostgreSQL: DuckLake 1.4.4 writes an inlined BLOB
# there as an invalid bytea literal, so the commit fails.
INLINING_ROW_LIMIT = 100
POSTGRES_SCHEMES = ("postgresql", "postgres")


class LakeMissingError(RuntimeError):
    """The catalog does not exist yet: nothing has been written."""


class LakeConfigError(ValueError):
    """AUDIT_PIPELINE_CATALOG or AUDIT_PIPELINE_DATA cannot be used as given."""


@dataclass(frozen=True)
class LakeLocation:
    """A catalog (a SQLite file path or a postgresql:// URL) and the data path its Parquet files live under."""

    catalog: str
    data_path: str

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.catalog).scheme in POSTGRES_SCHEMES

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def describe(self) -> str:
        catalog = self.catalog
        if self.is_postgres:
            parts = urlsplit(self.catalog)
            catalog = f"{parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}"
        return f"catalog {catalog}, data {self.data_path}"

    def attach_target(self) -> str:
        if self.is_postgres:
            return "ducklake:postgres:" + postgres_conninfo(self.catalog)
        return "ducklake:sqlite:" + self.catalog


def postgres_conninfo(url: str) -> str:
    """libpq key/value settings for a postgresql://USER[:PASSWORD]@HOST[:PORT]/DB URL."""
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES or not parts.path.strip("/"):
        raise LakeConfigError(f"{CATALOG_ENV} must look like postgresql://USER@HOST:PORT/DB, got {url!r}")
    settings = {"host": parts.hostname or "localhost", "port": str(parts.port or 5432),
                "dbname": unquote(parts.path.strip("/"))}
    if parts.username:
        settings["user"] = unquote(parts.username)
    if parts.password:
        settings["password"] = unquote(parts.password)
    return " ".join(f"{key}={_conninfo_value(value)}" for key, value in settings.items())


def _conninfo_value(value: str) -> str:
    """A libpq value, quoted when it holds a space, a quote or a backslash (a password may)."""
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def redacted(text: str) -> str:
    """`text` with any libpq or URL password in it replaced, for errors and logs."""
    text = re.sub(r"password=('(?:[^'\\]|\\.)*'|\S+)", "password=***", text)
    return re.sub(r"(postgres(?:ql)?://[^:@/\s]+):[^@/\s]*@", r"\1:***@", text)


def location_for(home: Path) -> LakeLocation:
    """The lake of a home folder: the settings when given, else a SQLite catalog and a folder inside it."""
    catalog = os.environ.get(CATALOG_ENV, "").strip() or str(home / DEFAULT_CATALOG_NAME)
    data_path = os.environ.get(DATA_ENV, "").strip() or str(home / DEFAULT_DATA_NAME)
    if urlsplit(catalog).scheme in POSTGRES_SCHEMES:
        postgres_conninfo(catalog)
    elif "://" in catalog:
        raise LakeConfigError(f"{CATALOG_ENV} must be a SQLite file path or a postgresql:// URL, got {catalog!r}")
    elif catalog.endswith(".duckdb"):
        raise LakeConfigError(f"{CATALOG_ENV} cannot be a DuckDB file (one process at a time): use SQLite or "
                              "PostgreSQL")
    if "://" in data_path and not data_path.startswith("s3://"):
        raise LakeConfigError(f"{DATA_ENV} must be a local folder or s3://bucket/prefix, got {data_path!r}")
    return LakeLocation(catalog, data_path.rstrip("/") + "/")


def extension_directory() -> str:
    """The folder the `duckdb-ext-*` packages install their extension binaries into."""
    import duckdb_ext  # type: ignore[import-untyped]  # a namespace package: no __file__

    return os.path.join(next(iter(duckdb_ext.__path__)), "extensions")


def new_instance() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that loads extensions from the installed packages only."""
    return duckdb.connect(config={
        "extension_directory": extension_directory(),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })


def sql_literal(text: str) -> str:
    """A SQL string literal, for the statements DuckDB cannot parameterize (CREATE SECRET)."""
    return "'" + text.replace("'", "''") + "'"


def s3_secret_sql(name: str = "lake_s3", *, scope: str | None = None) -> str:
    """A DuckDB S3 secret from the standard AWS settings (boto3's chain), honouring AWS_ENDPOINT_URL."""
    import boto3

    session = boto3.Session()
    credentials = session.get_credentials()
    options = ["TYPE s3"]
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options += [f"KEY_ID {sql_literal(frozen.access_key or '')}",
                    f"SECRET {sql_literal(frozen.secret_key or '')}"]
        if frozen.token:
            options.append(f"SESSION_TOKEN {sql_literal(frozen.token)}")
    options.append(f"REGION {sql_literal(session.region_name or 'us-east-1')}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        options += [f"ENDPOINT {sql_literal(parts.netloc)}", "URL_STYLE 'path'",
                    f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}"]
    if scope:
        options.append(f"SCOPE {sql_literal(scope)}")
    return f"CREATE OR REPLACE SECRET {name} ({', '.join(options)})"


def _prepare_sqlite_catalog(path: Path) -> None:
    """Create the catalog file in WAL mode: readers then never block a writer's commit, nor it them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as catalog:
        catalog.execute("PRAGMA journal_mode=WAL")
    catalog.close()


def _attach(location: LakeLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    if not location.is_postgres:
        catalog_file = Path(location.catalog)
        if not catalog_file.exists():
            if read_only:
                raise LakeMissingError(f"{location.catalog} does not exist yet: ingest some events first")
            _prepare_sqlite_catalog(catalog_file)
    if not location.on_s3:
        Path(location.data_path).mkdir(parents=True, exist_ok=True)
    instance = new_instance()
    try:
        instance.execute("SET TimeZone = 'UTC'")
        instance.execute("LOAD ducklake")
        instance.execute("LOAD postgres_scanner" if location.is_postgres else "LOAD sqlite_scanner")
        if location.on_s3:
            instance.execute("LOAD httpfs")
            instance.execute(s3_secret_sql())
        # ATTACH takes no parameters: the values are quoted as literals.
        options = ["READ_ONLY"] if read_only else [
            f"DATA_PATH {sql_literal(location.data_path)}",
            f"DATA_INLINING_ROW_LIMIT {0 if location.is_postgres else INLINING_ROW_LIMIT}"]
        instance.execute(f"ATTACH {sql_literal(location.attach_target())} AS {ALIAS} ({', '.join(options)})")
    except duckdb.Error as error:
        instance.close()
        # DuckDB's message quotes the whole connection string, password included.
        raise type(error)(redacted(str(error))) from None
    except BaseException:
        instance.close()
        raise
    return instance


@dataclass
class _Instance:
    connection: duckdb.DuckDBPyConnection
    catalog_identity: tuple[int, int] | None


_instances: dict[tuple[LakeLocation, bool], _Instance] = {}
_instances_lock = threading.Lock()


def _catalog_identity(location: LakeLocation) -> tuple[int, int] | None:
    if location.is_postgres:
        return None
    try:
        stat = os.stat(location.catalog)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


def instance(location: LakeLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """This process's DuckDB with the lake attached (read-only or read-write), attached on first use.

    A process that writes reads through its read-write instance too. A catalog file that was deleted and made
    anew (a demo run, a test's fresh home) gets a new instance.
    """
    with _instances_lock:
        keys = [(location, False)] if not read_only else [(location, True), (location, False)]
        for key in keys:
            cached = _instances.get(key)
            if cached is None:
                continue
            if cached.catalog_identity == _catalog_identity(location):
                return cached.connection
            del _instances[key]
        connection = _attach(location, read_only=read_only)
        _instances[(location, read_only)] = _Instance(connection, _catalog_identity(location))
        return connection


def cursor(location: LakeLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection of its own (own transaction, own temp tables) whose default database is the lake."""
    connection = instance(location, read_only=read_only).cursor()
    connection.execute(f"USE {ALIAS}")
    connection.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on stdout during long statements, which would corrupt --format json.
    connection.execute("SET enable_progress_bar = false")
    return connection


def close_all() -> None:
    """Detach every lake this process opened (tests, and processes that fork)."""
    with _instances_lock:
        for cached in _instances.values():
            cached.connection.close()
        _instances.clear()
