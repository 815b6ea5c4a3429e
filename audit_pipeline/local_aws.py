"""A local stand-in for AWS (S3, STS, IAM) on moto, with IAM enforcement on, for the demo and the tests.

    with local_aws_sandbox() as sandbox, sandbox.exporter_environment():
        role_arn = sandbox.role_arn("audit-export")      # to pass to `export configure --role-arn`
        ...                                              # configure the export: it generates the external id
        sandbox.set_up_customer(bucket="customer-audit", region="eu-west-1", role_name="audit-export",
                                external_id=config.external_id, prefix="logs")
        ...  # `export test` / `export run` unchanged: boto3 follows AWS_ENDPOINT_URL to the sandbox
        sandbox.list_keys("customer-audit"), sandbox.read_object("customer-audit", key)

The sandbox creates the exporter's IAM user (allowed only sts:AssumeRole), an administrator user for the
customer side (creating buckets and roles, reading objects back), then switches moto's IAM checks on, so a
wrong external id and a write outside the permissions policy are refused as AWS would refuse them. Two gaps
of moto are covered here: requests signed for the wrong region are answered as S3 answers them
(AuthorizationHeaderMalformed naming the bucket's region), and every AssumeRole request is recorded
(`assume_role_requests`) because moto lets one without an ExternalId through.

moto keeps its state per process: run one sandbox at a time in a process.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from audit_pipeline.export.policies import EXPORTER_PRINCIPAL_ENV, permissions_policy, trust_policy

HOST = "127.0.0.1"
ADMIN_REGION = "us-east-1"
EXPORTER_USER = "audit-pipeline-exporter"
ADMIN_USER = "sandbox-admin"
SIGNING_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    arn: str


@dataclass
class _Recorder:
    """WSGI middleware: records AssumeRole requests and answers wrong-region S3 requests as S3 does."""

    app: WsgiApp
    bucket_regions: dict[str, str]
    assume_role_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scope = SIGNING_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope and scope["service"] == "sts":
            self._record_sts(environ)
        if scope and scope["service"] == "s3":
            bucket = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
            actual = self.bucket_regions.get(bucket)
            if actual and actual != scope["region"]:
                return self._wrong_region(start_response, scope["region"], actual)
        return self.app(environ, start_response)

    def _record_sts(self, environ: dict[str, Any]) -> None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        if params.get("Action") == "AssumeRole":
            with self.lock:
                self.assume_role_requests.append(params)

    @staticmethod
    def _wrong_region(start_response: Callable[..., Any], signed: str, actual: str) -> list[bytes]:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AuthorizationHeaderMalformed</Code>'
            f"<Message>The authorization header is malformed; the region '{signed}' is wrong; "
            f"expecting '{actual}'</Message><Region>{actual}</Region>"
            f"<RequestId>{uuid.uuid4().hex}</RequestId></Error>"
        ).encode()
        start_response("400 Bad Request", [("Content-Type", "application/xml"),
                                           ("x-amz-bucket-region", actual),
                                           ("Content-Length", str(len(body)))])
        return [body]


class LocalAwsSandbox:
    """A moto server on 127.0.0.1 with the exporter's identity and IAM enforcement on."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.bucket_regions: dict[str, str] = {}
        self._recorder: _Recorder | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.exporter: AccessKey | None = None
        self.admin: AccessKey | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def assume_role_requests(self) -> list[dict[str, str]]:
        """Every AssumeRole request received, as its form parameters (RoleArn, ExternalId, ...)."""
        return list(self._recorder.assume_role_requests) if self._recorder else []

    def start(self) -> LocalAwsSandbox:
        """Start the server; the first start also creates the identities and switches IAM checks on."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
        if self._recorder is None:
            self._recorder = _Recorder(DomainDispatcherApplication(create_backend_app), self.bucket_regions)
        self._server = make_server(HOST, self.port, self._recorder, threaded=True,
                                   request_handler=MotoRequestHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        if self.exporter is None:
            self._set_up_identities()
        return self

    def stop(self) -> None:
        """Stop answering; objects and identities survive a later `start()` in the same process."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def _moto_api(self, path: str, data: bytes = b"") -> None:
        response = requests.post(f"{self.endpoint_url}/moto-api/{path}", data=data, timeout=10)
        response.raise_for_status()

    def _set_up_identities(self) -> None:
        self._moto_api("reset")
        self._moto_api("reset-auth", b"inf")
        iam = boto3.client("iam", region_name=ADMIN_REGION, endpoint_url=self.endpoint_url,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")  # noqa: S106
        self.admin = self._user(iam, ADMIN_USER, {"Effect": "Allow", "Action": "*", "Resource": "*"})
        self.exporter = self._user(iam, EXPORTER_USER,
                                   {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
        self._moto_api("reset-auth", b"0")

    @staticmethod
    def _user(iam: Any, name: str, statement: dict[str, str]) -> AccessKey:
        user = iam.create_user(UserName=name)["User"]
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return AccessKey(key["AccessKeyId"], key["SecretAccessKey"], user["Arn"])

    def admin_client(self, service: str, region: str = ADMIN_REGION) -> Any:
        """A boto3 client of the customer's administrator (full rights), e.g. to read objects back."""
        assert self.admin is not None, "start() the sandbox first"
        return boto3.client(  # type: ignore[call-overload]
            service, region_name=region, endpoint_url=self.endpoint_url,
            aws_access_key_id=self.admin.access_key_id, aws_secret_access_key=self.admin.secret_access_key,
        )

    def create_bucket(self, bucket: str, region: str = ADMIN_REGION) -> None:
        s3 = self.admin_client("s3", region)
        if region == ADMIN_REGION:
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        self.bucket_regions[bucket] = region

    def create_customer_role(
        self,
        role_name: str,
        *,
        external_id: str,
        bucket: str,
        prefix: str = "",
        permissions: dict[str, Any] | None = None,
    ) -> str:
        """A role trusting the exporter with this external id, allowed the printed policy by default."""
        assert self.exporter is not None, "start() the sandbox first"
        iam = self.admin_client("iam")
        role = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(external_id, self.exporter.arn)),
        )["Role"]
        iam.put_role_policy(RoleName=role_name, PolicyName="audit-log-export",
                            PolicyDocument=json.dumps(permissions or permissions_policy(bucket, prefix)))
        return str(role["Arn"])

    def role_arn(self, role_name: str) -> str:
        """The ARN a role of this name has (or will have) in the sandbox account, e.g. for `--role-arn`."""
        assert self.exporter is not None, "start() the sandbox first"
        account = self.exporter.arn.split(":")[4]
        return f"arn:aws:iam::{account}:role/{role_name}"

    def set_up_customer(self, *, bucket: str, region: str, role_name: str, external_id: str,
                        prefix: str = "") -> str:
        """The customer's side of an export in one call: the bucket and the role; returns the role ARN."""
        self.create_bucket(bucket, region)
        return self.create_customer_role(role_name, external_id=external_id, bucket=bucket, prefix=prefix)

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        s3 = self.admin_client("s3", self.bucket_regions.get(bucket, ADMIN_REGION))
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def read_object(self, bucket: str, key: str) -> bytes:
        s3 = self.admin_client("s3", self.bucket_regions.get(bucket, ADMIN_REGION))
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def exporter_variables(self) -> dict[str, str]:
        """The environment that makes boto3 act as the exporter against this sandbox."""
        assert self.exporter is not None, "start() the sandbox first"
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.exporter.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.exporter.secret_access_key,
            EXPORTER_PRINCIPAL_ENV: self.exporter.arn,
        }

    @contextmanager
    def exporter_environment(self) -> Iterator[dict[str, str]]:
        """Set `exporter_variables()` in os.environ for the block, then restore what was there."""
        variables = self.exporter_variables()
        cleared = ("AWS_SESSION_TOKEN", "AWS_PROFILE")
        saved = {name: os.environ.get(name) for name in (*variables, *cleared)}
        os.environ.update(variables)
        for name in cleared:
            os.environ.pop(name, None)
        try:
            yield variables
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@contextmanager
def local_aws_sandbox(port: int = 0) -> Iterator[LocalAwsSandbox]:
    """A started sandbox, stopped (and IAM checks switched off again) when the block ends."""
    sandbox = LocalAwsSandbox(port).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        _switch_iam_checks_off()


def _switch_iam_checks_off() -> None:
    """What POSTing b"inf" to /moto-api/reset-auth does, without needing the server to be up."""
    from moto import settings

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
