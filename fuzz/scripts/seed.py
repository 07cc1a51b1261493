#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ (git-ignored) from the repo's migrations/ and, when present, the
real migration sets in ../shared/corpora (or $UPCYCLE_CORPORA). Deterministic; safe to re-run.

split:   whole .sql files (the repo's, plus a sample of the corpora's, at most 16 KiB each).
layouts: small folders in the layouts target's input format: files separated by NUL, each
         "<name>\n<content>" (content cut to 2 KiB), real names from each corpus, plus
         template names (%<t><n><stem>, see fuzz_targets/layouts.rs) for every layout.
"""
import hashlib
import os
import random
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent.parent
REPO = FUZZ.parent
CORPORA = Path(os.environ.get("UPCYCLE_CORPORA", REPO.parent / "shared" / "corpora"))
MAX_SPLIT = 16 * 1024
MAX_FILE = 2 * 1024
rng = random.Random(7)


def save(target, data):
    out = FUZZ / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def folder(files):
    """files: [(rel, bytes)] -> one layouts input."""
    return b"\0".join(rel.encode() + b"\n" + body[:MAX_FILE].replace(b"\0", b"") for rel, body in files)


def main():
    repo_sql = sorted((REPO / "migrations").glob("*.sql"))
    for p in repo_sql:
        save("split", p.read_bytes())
    save("layouts", folder([(p.name, p.read_bytes()) for p in repo_sql[:6]]))

    corpus_sets = sorted(d for d in CORPORA.iterdir() if d.is_dir()) if CORPORA.is_dir() else []
    if not corpus_sets:
        print(f"no corpora at {CORPORA}; seeded from migrations/ only", file=sys.stderr)
    for d in corpus_sets:
        files = sorted(p for p in d.rglob("*") if p.is_file() and p.name != "SOURCE.txt")
        sql = [p for p in files if p.suffix == ".sql" and p.stat().st_size <= MAX_SPLIT]
        for p in rng.sample(sql, min(40, len(sql))):
            save("split", p.read_bytes())
        # Folders of 2-6 neighbouring files, with names relative to the corpus set (dbmate's
        # two-folder set keeps only file names, as the project merges it into one folder).
        for _ in range(12):
            if not files:
                break
            start = rng.randrange(len(files))
            group = files[start:start + rng.randint(2, 6)]
            rels = []
            for p in group:
                rel = p.relative_to(d).as_posix()
                if d.name == "fluidity-pg":
                    rel = p.name
                rels.append((rel, p.read_bytes()))
            save("layouts", folder(rels))

    templates = [
        [("%a1_users", b"CREATE TABLE users (id int);\n"), ("%b1_users", b"DROP TABLE users;\n")],
        [("%c1_users", b"-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n"), ("%c2_more", b"SELECT 1;")],
        [("%d1_1_init", b"CREATE TABLE t (a int);\nCOPY t FROM stdin;\n1\n\\.\n"), ("%e1_1_init", b"DROP TABLE t;"), ("%f_view", b"CREATE OR REPLACE VIEW v AS SELECT 1;"), ("%g1_1_init", b"executeInTransaction=false\n")],
        [("%h1_init", b"CREATE TABLE t ();"), ("%i1_init", b"DROP TABLE t;"), ("%j1_init", b"run_in_transaction = false\n")],
        [("%k120000_add", b"ALTER TABLE t ADD c int;"), ("%l120000_add", b"ALTER TABLE t DROP c;")],
        [("%m20170101000000_x", b"-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +migrate Down\nDROP INDEX i;\n")],
        [("%n20170101000000_x", b"-- migrate:up transaction:false\nCREATE TABLE t ();\n\n-- migrate:down\nDROP TABLE t;\n")],
        [("%c20240101000000_x", b"-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n-- +goose Down\nDROP FUNCTION f();\n")],
        [("%c2_x", b"-- +goose NO TRANSACTION\n-- +goose Up\nVACUUM;\n")],
        [("%p", b"[alembic]\n"), ("%o1_abc", b"revision = 'abc'\n"), ("%qREADME", b"# docs\n"), ("%rkeep", b"")],
    ]
    for files in templates:
        save("layouts", b"\0".join(n.encode() + b"\n" + c for n, c in files))


if __name__ == "__main__":
    main()
