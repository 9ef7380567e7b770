"""PutObject for the backfill's hot loop: signed by botocore's own SigV4
signer and sent through the client's own connection pool, without the
client's per-call machinery.

A ``put_object`` call spends most of its CPU in the client's pipeline:
event hooks, parameter validation, serialisation, response parsing. For a
small image that is more than the upload costs, and the backfill makes one
such call per row. This sends the same request (the same headers, signed
the same way, through the same pool, proxies and certificates) for a fraction
of the CPU, and without botocore's ``Expect: 100-continue``, which costs a
round trip per object that a body already in memory does not need (the Go
SDK behind s5cmd sends it only above 2 MB).

Errors keep the client's shape: an S3 error answer raises ``ClientError``
with its code and HTTP status, and the pool raises botocore's connection
exceptions, so the uploader's retry and 412 logic is the same for both paths.
Parameters that botocore transforms before sending (SSE-C keys, timestamps)
are not translated here: ``accepts`` says no and the caller uses the client.
"""

from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from toolkit.core.compat import client_credentials, client_http_session
from toolkit.core.http import s3_error

SENTINEL_KEY = "r2-toolkit-sentinel-key"
# Members botocore rewrites before sending (encodes, hashes, formats).
TRANSFORMED = {"SSECustomerKey", "SSECustomerKeyMD5", "SSEKMSEncryptionContext"}
SIMPLE_TYPES = {"string", "integer", "long", "boolean"}


def header_value(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


class DirectPut:
    """``put_object(Bucket=, Key=, Body=bytes, ...)`` for one client and bucket."""

    def __init__(self, client, bucket):
        self.bucket = bucket
        self.config = client.meta.config
        self.region = client.meta.region_name
        # The client's signer credentials (refreshed as the client would) and
        # its HTTP session: the same pool, timeouts, proxies and CA bundle.
        self.credentials = client_credentials(client)
        self.session = client_http_session(client)
        shape = client.meta.service_model.operation_model("PutObject").input_shape
        self.members = shape.members
        # The object URL exactly as the client addresses it (path or virtual
        # host style, the endpoint's scheme): learnt once from a presigned URL.
        presigned = client.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": SENTINEL_KEY}, ExpiresIn=60
        )
        self.url_prefix = presigned.split("?", 1)[0][: -len(SENTINEL_KEY)]

    @classmethod
    def for_client(cls, client, bucket):
        """A DirectPut, or None when the client signs other than SigV4 or has
        no credentials (then every upload goes through ``client.put_object``)."""
        if client.meta.config.signature_version not in (None, "s3v4", "v4"):
            return None
        if client_credentials(client) is None:
            return None
        return cls(client, bucket)

    def accepts(self, params):
        """Whether every parameter in ``params`` can be sent as-is."""
        for name, value in params.items():
            member = self.members.get(name)
            if member is None or name in TRANSFORMED:
                return False
            location = member.serialization.get("location")
            if location == "headers":  # Metadata: x-amz-meta-* headers, ASCII only
                if not all(str(k).isascii() and str(v).isascii() for k, v in value.items()):
                    return False
            elif location != "header" or member.type_name not in SIMPLE_TYPES:
                return False
        return True

    def headers(self, params):
        headers = {}
        for name, value in params.items():
            member = self.members[name]
            if member.serialization["location"] == "headers":
                prefix = member.serialization["name"]
                headers.update({f"{prefix}{k}": str(v) for k, v in value.items()})
            else:
                headers[member.serialization["name"]] = header_value(value)
        return headers

    def __call__(self, *, Bucket, Key, Body, **params):  # noqa: N803 (boto3's names)
        if Bucket != self.bucket:
            raise ValueError(f"this DirectPut writes to {self.bucket!r}, not {Bucket!r}")
        request = AWSRequest(
            method="PUT",
            url=self.url_prefix + quote(Key, safe="/~"),
            data=Body,
            headers=self.headers(params),
        )
        # What botocore's S3 signer reads to decide on payload signing.
        request.context.update({"client_config": self.config, "has_streaming_input": True})
        credentials = self.credentials.get_frozen_credentials()
        S3SigV4Auth(credentials, "s3", self.region).add_auth(request)
        response = self.session.send(request.prepare())
        if 200 <= response.status_code < 300:
            return {"ETag": response.headers.get("ETag", "")}
        code, message = s3_error(response.content or b"")
        raise ClientError(
            {
                "Error": {"Code": code or str(response.status_code), "Message": message},
                "ResponseMetadata": {
                    "HTTPStatusCode": response.status_code,
                    "HTTPHeaders": dict(response.headers),
                },
            },
            "PutObject",
        )
