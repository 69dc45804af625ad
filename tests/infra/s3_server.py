"""A local S3 server (moto's server mode, in its own process) that speaks the S3 wire protocol."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

from devstack.ports import find_free_port, is_port_open

ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-secret-key"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_s3_server(timeout: float = 30.0) -> S3Server:
    port = find_free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while not is_port_open("127.0.0.1", port):
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the S3 server did not start listening in time")
        time.sleep(0.1)
    return S3Server(endpoint_url=f"http://127.0.0.1:{port}", process=process)
