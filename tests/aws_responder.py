"""A tiny AWS endpoint on loopback that answers every call with one AWS error, in the wire
format of the service's protocol: REST-XML for Route53 (`ErrorResponse`), JSON 1.1 for
Secrets Manager (`__type`). moto cannot deny or expire a call; this can.

The shapes are those botocore parses (botocore/parsers.py: RestXMLParser._parse_error_from_body
reads Error/Code and Error/Message; BaseJSONParser reads `__type` and `message`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MESSAGES = {
    "AccessDenied": "User: arn:aws:iam::123456789012:user/ci is not authorized to perform "
                    "this action",
    "AccessDeniedException": "User: arn:aws:iam::123456789012:user/ci is not authorized to "
                             "perform this action",
    "ExpiredToken": "The security token included in the request is expired",
    "ExpiredTokenException": "The security token included in the request is expired",
}


@dataclass
class AwsErrorResponder:
    code: str  # e.g. AccessDenied (Route53) or AccessDeniedException (Secrets Manager)
    status: int = 403
    calls: list[str] = field(default_factory=list)  # the request paths or JSON targets seen

    def __post_init__(self) -> None:
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                responder.answer(self)

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        request.rfile.read(length)
        target = request.headers.get("X-Amz-Target")
        self.calls.append(target or request.path)
        message = MESSAGES.get(self.code, self.code)
        if target:  # JSON protocol (Secrets Manager)
            body = json.dumps({"__type": self.code, "message": message}).encode()
            kind = "application/x-amz-json-1.1"
        else:  # REST-XML (Route53)
            body = (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws'
                    f'.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>{self.code}</Code>'
                    f'<Message>{message}</Message></Error><RequestId>0</RequestId>'
                    f'</ErrorResponse>').encode()
            kind = "text/xml"
        request.send_response(self.status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("x-amzn-RequestId", "0")
        request.end_headers()
        request.wfile.write(body)

    def __enter__(self) -> AwsErrorResponder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
