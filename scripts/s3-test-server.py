"""The S3-compatible server of the test suite (started by scripts/test.sh): moto on a free
loopback port with one empty bucket. Prints `http://127.0.0.1:<port>/<bucket>` (the value
of TMCP_TEST_S3_URL) once the bucket exists, then serves until it is terminated or the
process that started it exits, so an interrupted test run leaves no server behind.

Runs with the interpreter of the moto venv: python s3-test-server.py <bucket>
"""

import os
import signal
import sys
import time

import boto3
from moto.server import ThreadedMotoServer


def main() -> None:
    bucket = sys.argv[1]
    parent = os.getppid()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="tmcp-test",
        aws_secret_access_key="tmcp-test-secret",
    ).create_bucket(Bucket=bucket)
    print(f"{endpoint}/{bucket}", flush=True)
    while not stopping and os.getppid() == parent:
        time.sleep(0.5)
    server.stop()


if __name__ == "__main__":
    main()
