"""Which object parameters (``AWS_S3_OBJECT_PARAMETERS``, or what a storage's
``get_object_parameters`` returns) R2 takes, as pure functions (property-tested).

From R2's S3 API compatibility table, PutObject / CreateMultipartUpload: storage
classes STANDARD and STANDARD_IA only; no SSE-KMS or SSE-S3 (only SSE-C), no
tagging, no object lock, no website redirect, no request payer, no grants.
R2 answers such an upload 501 NotImplemented, so every upload carrying them fails.
ACL is r2.settings.acl's concern, not this module's.
"""

from collections.abc import Mapping

R2_STORAGE_CLASSES = ("STANDARD", "STANDARD_IA")
SSE_C = ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")

# boto3 parameter -> what it asks R2 for, in words.
UNSUPPORTED = {
    "ServerSideEncryption": "server-side encryption (SSE-S3/SSE-KMS; R2 encrypts every "
    "object itself and takes only SSE-C keys)",
    "SSEKMSKeyId": "an SSE-KMS key",
    "SSEKMSEncryptionContext": "an SSE-KMS encryption context",
    "BucketKeyEnabled": "S3 bucket keys for SSE-KMS",
    "Tagging": "object tagging",
    "ObjectLockMode": "object lock (R2 has bucket locks instead)",
    "ObjectLockRetainUntilDate": "object lock retention",
    "ObjectLockLegalHoldStatus": "an object lock legal hold",
    "WebsiteRedirectLocation": "a website redirect",
    "RequestPayer": "requester pays",
    "ExpectedBucketOwner": "an expected bucket owner check",
    "GrantFullControl": "ACL grants",
    "GrantRead": "ACL grants",
    "GrantReadACP": "ACL grants",
    "GrantWriteACP": "ACL grants",
}


def problems(parameters: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """[(parameter, reason)] for each parameter R2 refuses, in the dict's order."""
    found = []
    for name, value in dict(parameters or {}).items():
        if name == "StorageClass":
            if value not in R2_STORAGE_CLASSES:
                found.append(
                    (name, f"storage class {value!r} (R2 has only STANDARD and STANDARD_IA)")
                )
        elif name in UNSUPPORTED:
            found.append((name, UNSUPPORTED[name]))
    return found


def accepted(parameters: Mapping[str, object] | None) -> dict[str, object]:
    """``parameters`` without what R2 refuses: the dict to write instead."""
    refused = {name for name, _ in problems(parameters)}
    return {k: v for k, v in dict(parameters or {}).items() if k not in refused}
