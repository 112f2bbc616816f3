"""``hclforge bootstrap ENV``: the S3 state bucket (and DynamoDB lock table), idempotently.

The bucket gets versioning, default encryption, a full public access block and
a policy that refuses any request not over TLS. Running it again changes nothing
that is already right, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hclforge.errors import TerraformError, UsageError
from hclforge.model import EnvConfig


def tls_only_policy(bucket: str) -> dict[str, Any]:
    """A bucket policy that denies every request made without TLS."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def bootstrap(cfg: EnvConfig, session: Any, say: Callable[[str], None], *, tls_only: bool = True) -> None:
    """Create or correct the state bucket (and lock table) of ``cfg``'s S3 backend.

    Args:
        cfg: the environment; its backend must be ``s3``.
        session: a boto3 session with the environment's credentials and region.
        say: receives one line per thing done or found.
        tls_only: put the TLS-only bucket policy (off for the emulator, which speaks plain HTTP).

    Raises:
        UsageError: the environment's backend is not S3.
        TerraformError: AWS refused a call (the message names which).
    """
    from botocore.exceptions import ClientError

    be = cfg.backend
    if be.type != "s3" or be.bucket is None:
        raise UsageError(f"{cfg.environment} keeps its state locally (backend.type: local): nothing to bootstrap")
    region = be.region or cfg.aws.region
    s3 = session.client("s3", region_name=region)
    bucket = be.bucket
    try:
        try:
            s3.head_bucket(Bucket=bucket)
            say(f"bucket {bucket}: exists")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            args: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**args)
            say(f"bucket {bucket}: created in {region}")
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
            },
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        if tls_only:
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))
        transport = "TLS only" if tls_only else "no TLS-only policy (the emulator speaks plain HTTP)"
        say(f"bucket {bucket}: versioning on, encrypted (AES256), public access blocked, {transport}")
        if be.lock == "dynamodb" and be.dynamodb_table:
            ddb = session.client("dynamodb", region_name=region)
            try:
                ddb.describe_table(TableName=be.dynamodb_table)
                say(f"lock table {be.dynamodb_table}: exists")
            except ddb.exceptions.ResourceNotFoundException:
                ddb.create_table(
                    TableName=be.dynamodb_table,
                    AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                    BillingMode="PAY_PER_REQUEST",
                )
                ddb.get_waiter("table_exists").wait(TableName=be.dynamodb_table)
                say(f"lock table {be.dynamodb_table}: created")
    except ClientError as err:
        error = err.response.get("Error", {})
        raise TerraformError(
            f"bootstrap failed: {err.operation_name}: {error.get('Code')}: {error.get('Message')}"
        ) from None
