"""`s3://bucket/prefix`: where a stack keeps its renewer state in S3 (checked by the stack
parser, used by the renewer and the Pulumi component)."""

from __future__ import annotations

import re
from dataclasses import dataclass

S3_SCHEME = "s3://"
# S3's rules for general purpose bucket names (no dots next to each other, no IP form).
S3_BUCKET = re.compile(r"(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_PREFIX_PART = re.compile(r"[A-Za-z0-9_.-]{1,200}")


@dataclass(frozen=True)
class S3Location:
    """A bucket and the key prefix under which one stack's state lives."""

    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket[/prefix]`, or ValueError saying what is wrong."""
    if not url.startswith(S3_SCHEME):
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
    if not S3_BUCKET.fullmatch(bucket):
        raise ValueError(f"{bucket!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
    prefix = prefix.strip("/")
    parts = prefix.split("/") if prefix else []
    if any(not S3_PREFIX_PART.fullmatch(p) or p in (".", "..") for p in parts):
        raise ValueError(f"the prefix {prefix!r} may hold only A-Z a-z 0-9 _ . - between "
                         "slashes")
    return bucket, prefix

