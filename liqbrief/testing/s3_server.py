"""An S3 API on loopback for tests and benches: ``moto_server`` in a subprocess on a free
port of 127.0.0.1, its access log in a file so callers can count the requests the project
made (``S3Server.requests()``), and the AWS settings that point pyarrow and boto3 at it.

    with S3Server() as s3:
        s3.create_bucket("lake")
        os.environ.update(s3.environment())
        before = s3.request_count()
        ...                                   # run something against s3://lake/...
        print(s3.request_count() - before)    # requests it made
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Self

ACCESS_KEY = "testing-key"
SECRET_KEY = "testing-secret"  # moto accepts any pair; never a real credential
REGION = "us-east-1"
# werkzeug's access log line: 127.0.0.1 - - [date] "GET /bucket/key?x HTTP/1.1" 200 -
_REQUEST = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_server_command() -> list[str]:
    """``moto_server`` of this interpreter's environment."""
    script = Path(sys.executable).with_name("moto_server")
    return [str(script)] if script.exists() else [shutil.which("moto_server") or "moto_server"]


class S3Server:
    """``moto_server`` on loopback while the ``with`` block runs (killed at the end)."""

    def __init__(
        self,
        start_timeout_s: float = 60.0,
        require_auth: bool = False,
        free_actions: int = 0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.port = free_port()
        self.tls = tls  # (certificate, key): serve https with them (a private CA's store)
        self.require_auth = require_auth  # refuse every key moto's IAM does not know
        self.free_actions = free_actions  # with require_auth: requests let through unsigned
        self.start_timeout_s = start_timeout_s
        self._dir = Path(tempfile.mkdtemp(prefix="liqbrief-moto-"))
        self.log_path = self._dir / "access.log"
        self._process: subprocess.Popen | None = None
        self.bucket = ""  # the bucket a test or bench last created (create_bucket)

    @property
    def endpoint_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The standard AWS variables pyarrow.fs and boto3 read."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def __enter__(self) -> Self:
        log = self.log_path.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if self.require_auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self.free_actions)
        certificate = ["-c", str(self.tls[0]), "-k", str(self.tls[1])] if self.tls else []
        self._process = subprocess.Popen(
            [*moto_server_command(), "-H", "127.0.0.1", "-p", str(self.port), *certificate],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()[-500:]}")
            try:
                urllib.request.urlopen(
                    f"{self.endpoint_url}/moto-api/", timeout=1, context=self._trusting()
                ).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"moto_server did not answer on port {self.port}")

    def _trusting(self) -> ssl.SSLContext | None:
        """A TLS context that trusts this server's own certificate (None for http)."""
        return ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else None

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def new_access_key(self, signed_by: tuple[str, str] = ("any", "any")) -> tuple[str, str]:
        """A fresh IAM user allowed everything, and its (key id, secret): the first call
        takes three of ``free_actions``; later ones are signed by an existing key."""
        import boto3

        iam = boto3.client(
            "iam", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=signed_by[0], aws_secret_access_key=signed_by[1],
        )  # fmt: skip
        user = f"u{free_port()}"
        iam.create_user(UserName=user)
        policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'  # fmt: skip
        iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=policy)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def revoke(self, key: tuple[str, str]) -> None:
        """Delete an access key (signed by itself)."""
        import boto3

        iam = boto3.client(
            "iam", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=key[0], aws_secret_access_key=key[1],
        )  # fmt: skip
        user = iam.get_user()["User"]["UserName"]
        iam.delete_access_key(UserName=user, AccessKeyId=key[0])

    def client(self):
        """A boto3 S3 client on this server."""
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, region_name=REGION,
            verify=str(self.tls[0]) if self.tls else None,
        )  # fmt: skip

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)
        self.bucket = name

    def object_keys(self, bucket: str | None = None, prefix: str = "") -> list[str]:
        """Every object key in the bucket (under ``prefix``), sorted."""
        pages = self.client().get_paginator("list_objects_v2")
        found = pages.paginate(Bucket=bucket or self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in found for o in page.get("Contents", []))

    def requests(self) -> list[tuple[str, str, int]]:
        """Every S3 request served so far: (method, path?query, status), in order
        (moto's own /moto-api/ calls left out)."""
        found = (_REQUEST.search(line) for line in self.log_path.read_text().splitlines())
        return [
            (m.group(1), m.group(2), int(m.group(3)))
            for m in found
            if m and not m.group(2).startswith("/moto-api")
        ]

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system): the share of a
        shared machine the stand-in itself takes, which a real store would not."""
        import psutil

        times = psutil.Process(self._process.pid).cpu_times()
        return times.user + times.system

    def request_count(self) -> int:
        return len(self.requests())

    def requests_by_method(self, since: int = 0) -> Counter[str]:
        """Requests after the first ``since``, counted per HTTP method."""
        return Counter(method for method, _, _ in self.requests()[since:])
