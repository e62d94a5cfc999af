"""`StateBucket`: the S3 bucket of the renewer's state (lsctl:acme.state with backend s3 and
managed: true): versioned, never public, TLS only, SSE-KMS by default with a bucket key, and
old versions expired."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

# Every lock taken and every certificate renewed leaves a noncurrent version: kept this long
# to undo a bad run by hand, then removed (they cost storage, and old keys are worth nothing).
NONCURRENT_DAYS = 30


def tls_only_policy(bucket: str) -> str:
    """Refuse every request to the bucket that does not come over TLS."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}, sort_keys=True)


class StateBucket(pulumi.ComponentResource):
    def __init__(self, name: str, bucket: str, kms_key_id: str | None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lsctl:index:StateBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # It holds the only copy of the ACME account keys: never destroyed with its objects.
        self.bucket = aws.s3.Bucket(name, bucket=bucket, force_destroy=False, opts=child)
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"), opts=child)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=self.bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            opts=child)
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.
                BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=kms_key_id),
                bucket_key_enabled=True)], opts=child)
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-old-versions", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                noncurrent_version_expiration=aws.s3.
                BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=NONCURRENT_DAYS),
                # A released lock leaves a delete marker; once its versions expired, it goes.
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    expired_object_delete_marker=True),
                abort_incomplete_multipart_upload=aws.s3.
                BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=1))],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]))
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy", bucket=self.bucket.id, policy=tls_only_policy(bucket),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access_block]))
        self.register_outputs({"bucket": self.bucket.bucket})
