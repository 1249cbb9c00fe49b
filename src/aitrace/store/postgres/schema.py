"""The shared store's tables, created idempotently and versioned.

``records``   one row per record, keyed by its name (what ``aitrace init --name`` joins)
``steps``     (record_id, seq) → the step's exact RFC 8785 bytes, its digest and its prev; the
              database itself refuses a digest that is not the sha256 of the bytes, a second
              step at one position, a step id or digest twice, a prev naming no step of the
              record, and any UPDATE or DELETE (steps are immutable)
``objects``   evidence objects, content-addressed (sha256 → bytes), immutable
``markers``   start markers of steps in progress, visible from every machine

Creation runs under a transaction-level advisory lock, so two machines initialising at once
do not race; each migration is recorded in ``aitrace_schema`` and applied once.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1
_INIT_LOCK = 0x61697472616365  # "aitrace": serialises schema creation across clients

_V1 = """
CREATE TABLE IF NOT EXISTS aitrace_schema (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS aitrace_records (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    format text NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS aitrace_steps (
    record_id text NOT NULL REFERENCES aitrace_records (id),
    seq bigint NOT NULL CHECK (seq >= 1),
    step_id text NOT NULL,
    digest text NOT NULL CHECK (digest = encode(sha256(body), 'hex')),
    prev text,
    stage text NOT NULL,
    status text NOT NULL,
    host text,
    workspace text,
    body bytea NOT NULL,
    appended_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_id, seq),
    UNIQUE (record_id, step_id),
    UNIQUE (record_id, digest),
    CHECK ((seq = 1) = (prev IS NULL)),
    FOREIGN KEY (record_id, prev) REFERENCES aitrace_steps (record_id, digest)
);
CREATE INDEX IF NOT EXISTS aitrace_steps_stage ON aitrace_steps (record_id, stage, seq);
CREATE TABLE IF NOT EXISTS aitrace_objects (
    sha256 text PRIMARY KEY CHECK (sha256 = encode(sha256(body), 'hex')),
    size bigint NOT NULL,
    body bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS aitrace_markers (
    record_id text NOT NULL REFERENCES aitrace_records (id),
    step_id text NOT NULL,
    stage text NOT NULL,
    started_at text NOT NULL,
    user_name text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    workspace text,
    body jsonb NOT NULL,
    PRIMARY KEY (record_id, step_id)
);
CREATE OR REPLACE FUNCTION aitrace_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'aitrace: % rows are immutable', TG_TABLE_NAME;
END $$;
DROP TRIGGER IF EXISTS aitrace_steps_immutable ON aitrace_steps;
CREATE TRIGGER aitrace_steps_immutable BEFORE UPDATE OR DELETE ON aitrace_steps
    FOR EACH ROW EXECUTE FUNCTION aitrace_immutable();
DROP TRIGGER IF EXISTS aitrace_objects_immutable ON aitrace_objects;
CREATE TRIGGER aitrace_objects_immutable BEFORE UPDATE OR DELETE ON aitrace_objects
    FOR EACH ROW EXECUTE FUNCTION aitrace_immutable();
"""

MIGRATIONS: dict[int, str] = {1: _V1}


def ensure_schema(conn: Any) -> None:
    """Create or upgrade the tables (idempotent; safe from many clients at once)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        exists = conn.execute("SELECT to_regclass('aitrace_schema') IS NOT NULL").fetchone()[0]
        done: set[int] = set()
        if exists:
            done = {r[0] for r in conn.execute("SELECT version FROM aitrace_schema")}
        for version in sorted(MIGRATIONS):
            if version in done:
                continue
            conn.execute(MIGRATIONS[version])
            conn.execute("INSERT INTO aitrace_schema (version) VALUES (%s)", (version,))
