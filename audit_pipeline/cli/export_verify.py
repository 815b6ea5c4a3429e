"""`audit-pipeline export verify` and `export public-key`: proving what the bucket holds is what was delivered."""

from __future__ import annotations

import argparse
from typing import Any

from audit_pipeline.cli.output import CliError, add_format_flag, print_json
from audit_pipeline.export.config_store import ExportNotFoundError, get_config
from audit_pipeline.export.digest_delivery import delivered_digest
from audit_pipeline.export.signing import KeyRing, SigningKeyError, keyring_path, load_or_create, rotate
from audit_pipeline.export.verify import PROBLEM_KINDS, Verification, verify_history
from audit_pipeline.query.filters import QueryError, parse_time
from audit_pipeline.settings import paths_from_env
from audit_pipeline.storage import database

DATABASE_WAIT_SECONDS = 300.0


def register_verify(actions: Any) -> None:
    verify = actions.add_parser(
        "verify", help="check the bucket against the export's signed digests (needs the optional read policy)",
        description="Checks every digest's signature, the chain of digests, every listed file's size and "
        f"SHA-256, files no digest lists, and contiguous windows. Exit 0 when all hold, 1 with one line per "
        f"problem ({', '.join(PROBLEM_KINDS)}), 2 for bad arguments.",
    )
    verify.add_argument("name", help="the export's name")
    verify.add_argument("--since", metavar="TIME", help="only exports cut at or after TIME (RFC 3339 or date)")
    verify.add_argument("--until", metavar="TIME", help="only exports cut before TIME (a date: its whole day)")
    add_format_flag(verify)
    verify.set_defaults(handler=handle_verify)

    public_key = actions.add_parser("public-key", help="the public key that verifies export digests (PEM)")
    public_key.add_argument("--rotate", action="store_true",
                            help="sign from now on with a new key; earlier public keys are kept")
    add_format_flag(public_key)
    public_key.set_defaults(handler=handle_public_key)


def _key_ring(rotating: bool = False) -> KeyRing:
    path = keyring_path(paths_from_env().ensure())
    try:
        return rotate(path) if rotating else load_or_create(path)
    except (SigningKeyError, OSError) as error:
        raise CliError(str(error)) from error


def verification_view(name: str, result: Verification) -> dict[str, Any]:
    return {
        "name": name, "ok": result.ok, "digests": result.digests, "files": result.files,
        "chain_head": {"key": result.chain_head.key, "sha256": result.chain_head.sha256}
        if result.chain_head else None,
        "problems": [{"problem": p.kind, "key": p.key, "detail": p.detail} for p in result.problems],
    }


def handle_verify(args: argparse.Namespace) -> int:
    from audit_pipeline.export.bucket_reader import BucketReadError, S3BucketReader

    paths = paths_from_env().ensure()
    try:
        config = get_config(paths, args.name)
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until, end=True) if args.until else None
    except (ExportNotFoundError, QueryError) as error:
        raise CliError(str(error).strip("'\"")) from error
    if since is not None and until is not None and until <= since:
        raise CliError(f"--until {args.until} must be later than --since {args.since}")
    ring = _key_ring()
    with database.writer(paths, wait_seconds=DATABASE_WAIT_SECONDS) as connection:
        head = delivered_digest(connection, config.config_id)
    try:
        result = verify_history(S3BucketReader(config), prefix=config.prefix, org_id=config.org_id,
                                find_key=ring.find, since=since, until=until, expected_head=head)
    except BucketReadError as error:
        raise CliError(f"could not verify {config.name}: {error}", exit_code=1) from error
    if args.format == "json":
        print_json(verification_view(config.name, result))
    else:
        for problem in result.problems:
            print(problem.line())
        verdict = "all hold" if result.ok else f"{len(result.problems)} problem(s)"
        head_key = result.chain_head.key if result.chain_head else "none"
        print(f"export {config.name}: {result.digests} digest(s), {result.files} file(s) checked in "
              f"s3://{config.bucket}: {verdict}; newest digest {head_key}")
    return 0 if result.ok else 1


def handle_public_key(args: argparse.Namespace) -> int:
    ring = _key_ring(rotating=args.rotate)
    current = ring.current_public
    keys = [{"key_id": k.key_id, "public_key_pem": k.pem, "created_at": k.created_at, "retired_at": k.retired_at}
            for k in ring.public_keys]
    if args.format == "json":
        print_json({"key_id": current.key_id, "public_key_pem": current.pem, "rotated": args.rotate,
                    "keys": keys})
        return 0
    print(f"{'new ' if args.rotate else ''}signing key {current.key_id} (Ed25519), since {current.created_at}")
    print(current.pem, end="")
    for key in ring.public_keys:
        if key.key_id != current.key_id:
            print(f"\nretired key {key.key_id} ({key.created_at} - {key.retired_at}), still verifies its digests:")
            print(key.pem, end="")
    return 0
