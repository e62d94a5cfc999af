"""moto in server mode: the sandbox's AWS endpoint (Route53, Secrets Manager, S3, KMS)."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

# moto needs some credentials to sign with; they unlock nothing.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def argv(port: int) -> list[str]:
    # moto with conditional requests made atomic, as AWS's are (sandbox.moto_atomic).
    return [sys.executable, "-m", "sandbox.moto_atomic", "-H", "127.0.0.1", "-p", str(port)]


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint(port)}/moto-api/", timeout=1) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False
