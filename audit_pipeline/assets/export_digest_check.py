"""After each export, its newest digest is checked in the bucket: signature, files, sizes and SHA-256."""

import warnings

import dagster as dg

from audit_pipeline.assets.export import audit_log_export, export_configs_partitions
from audit_pipeline.export.aws import AwsOptions
from audit_pipeline.export.bucket_reader import BucketReadError, S3BucketReader
from audit_pipeline.export.config_store import find_config
from audit_pipeline.export.digest_delivery import delivered_digest
from audit_pipeline.export.signing import keyring_path, load_or_create
from audit_pipeline.export.verify import name_cutoff, verify_history
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore


def newest_export_digest_verifies(
    context: dg.AssetCheckExecutionContext, store: AuditStore, s3_export: S3ExportResource
) -> dg.AssetCheckResult:
    """The newest digest in the customer's bucket is signed by us and every file it lists is intact.

    Reading the bucket needs the optional read policy; without it the check warns instead of failing.
    """
    paths = store.paths()
    config = find_config(paths, context.partition_key)
    if config is None:
        return dg.AssetCheckResult(passed=False, description=f"export {context.partition_key!r} is not configured")
    with store.writer() as connection:
        head = delivered_digest(connection, config.config_id)
    if head is None:
        return dg.AssetCheckResult(passed=True, description="no digest delivered yet")
    reader = S3BucketReader(config, AwsOptions(session_seconds=s3_export.session_seconds,
                                               endpoint_url=s3_export.endpoint_url or None))
    try:
        result = verify_history(reader, prefix=config.prefix, org_id=config.org_id,
                                find_key=load_or_create(keyring_path(paths)).find,
                                since=name_cutoff(head.key), expected_head=head)
    except BucketReadError as error:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description=f"could not read the bucket: {error}",
                                   metadata={"digest_key": head.key, "chain_head": head.sha256})
    return dg.AssetCheckResult(
        passed=result.ok,
        description="the newest digest and its files hold" if result.ok else
        "; ".join(p.line() for p in result.problems),
        metadata={"digest_key": head.key, "chain_head": head.sha256, "files_checked": result.files,
                  "problems": dg.MetadataValue.json([p.line() for p in result.problems])},
    )


# One check per export config, like the asset. Dagster calls partitioned checks a preview and says so on every
# load of the code location (and every CLI run); the warning says nothing to an operator, so it is silenced here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    newest_export_digest_check = dg.asset_check(asset=audit_log_export, partitions_def=export_configs_partitions)(
        newest_export_digest_verifies
    )

defs = dg.Definitions(asset_checks=[newest_export_digest_check])
