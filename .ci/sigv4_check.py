"""hydrant's AWS Signature Version 4, checked by botocore's signer.

A local server takes a request only where botocore, from what the server
received, computes the signature hydrant sent; else it answers 403 as AWS
does. hydrant runs jobs against it: write jobs' batches (plain and
gzip-compressed), query values with spaces and reserved characters, a
JSON body, a path of spaces and non-ASCII, a session token, S3's rules,
and a wrong secret, which must fail.

    python .ci/sigv4_check.py path/to/hydrant
"""

import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLE//token+with/slashes="

# The bodies of the signed requests the server took, in order.
TAKEN = []


def expected_signature(handler, body):
    """The signature botocore computes for the request as received."""
    authorization = handler.headers.get("Authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return None, None
    fields = dict(
        part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(",")
    )
    key_id, day, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    token = handler.headers.get("X-Amz-Security-Token")
    request = AWSRequest(
        method=handler.command,
        url=f"http://{handler.headers['Host']}{handler.path}",
        data=body,
        headers={name: handler.headers[name] for name in signed},
    )
    request.context["timestamp"] = handler.headers["X-Amz-Date"]
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    auth = signer(Credentials(KEY_ID, SECRET, token), service, region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert key_id == KEY_ID and day == handler.headers["X-Amz-Date"][:8]
    return fields["Signature"], expected


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sent, expected = expected_signature(self, body)
        if sent is None or sent != expected:
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"message": "The request signature we calculated does not match"}')
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        record = {"method": self.command, "path": self.path, "body": body.decode()}
        TAKEN.append(record["body"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"items": [record]}).encode())

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


JOBS = {
    "query": """
[request]
url = "{url}/prod/orders"
query = {{ q = "a b&c=d", "Ünï" = "x/y~z", limit = "5", empty = "" }}
""",
    "body": """
[request]
url = "{url}/prod/my items/é"
method = "POST"
body = {{ filter = {{ status = "open" }}, size = 10 }}
""",
    "token": """
[request]
url = "{url}/prod/orders"
query = {{ page = "2" }}
""",
    "s3": """
[request]
url = "{url}/bucket/a b+c.json"
query = {{ "list-type" = "2", prefix = "logs/2026 12" }}
""",
    # A write job, its batches signed as sent: plain, and gzip-compressed.
    "write": """
[input]
records = [{{ id = 1, name = "Zoë" }}, {{ id = 2, name = "a b" }}]

[write]
url = "{url}/prod/orders"
batch_size = 1
""",
    "write-gzip": """
[input]
records = [{{ id = 1, name = "Zoë" }}, {{ id = 2, name = "a b" }}]

[write]
url = "{url}/prod/orders"
compression = "gzip"
""",
}


def run(hydrant, url, name, secret, session=False, service="execute-api"):
    records = "" if name.startswith("write") else '\n[records]\npath = "items"\n'
    auth = f"""{records}
[auth]
type = "aws_sigv4"
access_key_id = "{KEY_ID}"
secret_access_key = "${{AWS_SECRET_ACCESS_KEY}}"
region = "eu-west-1"
service = "{service}"
"""
    if session:
        auth += 'session_token = "${AWS_SESSION_TOKEN}"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as job:
        job.write(JOBS[name].format(url=url) + auth)
    env = dict(os.environ, AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN=TOKEN)
    done = subprocess.run(
        [hydrant, "run", job.name, "--quiet"], capture_output=True, text=True, env=env
    )
    os.unlink(job.name)
    return done


def main():
    hydrant = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    cases = [("query", {}), ("body", {}), ("token", {"session": True}), ("s3", {"service": "s3"})]
    for name, batches in [("write", [[1], [2]]), ("write-gzip", [[1, 2]])]:
        TAKEN.clear()
        done = run(hydrant, url, name, SECRET, session=True)
        if done.returncode != 0:
            sys.exit(f"sigv4 {name}: hydrant exited {done.returncode}: {done.stderr}")
        # Batches go out at once: in any order.
        taken = sorted([record["id"] for record in json.loads(body)] for body in TAKEN)
        if taken != batches:
            sys.exit(f"sigv4 {name}: the server took {taken}, not {batches}")
        print(f"sigv4 {name}: every batch signed and taken: {taken}")
    for name, options in cases:
        done = run(hydrant, url, name, SECRET, **options)
        if done.returncode != 0:
            sys.exit(f"sigv4 {name}: hydrant exited {done.returncode}: {done.stderr}")
        record = json.loads(done.stdout)
        print(f"sigv4 {name}: accepted {record['method']} {record['path']}")
        if name == "body" and json.loads(record["body"]) != {"filter": {"status": "open"}, "size": 10}:
            sys.exit(f"sigv4 body: the server received {record['body']}")
    done = run(hydrant, url, "query", "not-the-secret")
    if done.returncode == 0 or "403" not in done.stderr or "not-the-secret" in done.stderr:
        sys.exit(f"sigv4: a wrong secret was not refused, or was shown: {done.stderr}")
    print("sigv4: a wrong secret is refused with 403, and not shown")
    server.shutdown()


if __name__ == "__main__":
    main()
