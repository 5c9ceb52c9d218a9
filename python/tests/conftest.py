"""An in-process API for the tests, and the `hydrant` CLI beside them."""

import datetime
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]

# One record of every column type, and one with nulls and escapes.
TYPED = [
    {"id": 1, "i": 2147483647, "s": "plain", "f": 1.5, "d": 0.1, "b": True,
     "day": "2024-03-01", "ts": "2024-03-01T12:00:00.250Z", "bin": "aGk=",
     "j": {"k": [1, None]}},
    {"id": 2, "i": -5, "s": "tab\there \"q\" é ✓", "f": 0, "d": -2.5e-300, "b": False,
     "day": "1969-12-31", "ts": 1709294400, "bin": None, "j": "text"},
]


# The runs of `/flaky` whose page 2 failed once already, by token.
FLAKY_FAILED = set()


def route(path, query):
    """The answer of the API to a GET."""
    if path == "/flaky":
        # Pages 1 and 2 of 50 records; page 2 fails (404) the first time
        # for each token.
        page, token = int(query["page"][0]), query["t"][0]
        if page == 2 and token not in FLAKY_FAILED:
            FLAKY_FAILED.add(token)
            return None
        return [{"id": (page - 1) * 50 + i + 1} for i in range(50)] if page <= 2 else []
    if path == "/typed":
        return {"data": TYPED}
    if path == "/weather":
        city = query["city"][0]
        return [{"city": city, "n": n, "temp": 10.5 + n} for n in range(3)]
    if path == "/shapes":
        # Records whose members come in another order, one more in `b`,
        # none in `c`.
        return {
            "a": [{"id": 1, "name": "x"}],
            "b": [{"name": "y", "id": 2, "extra": True}],
            "c": [],
        }[query["v"][0]]
    if path == "/slow":
        # Page 0 at once, with a link to page 1, the last, which takes 10 s.
        page = int(query["page"][0])
        if page > 0:
            time.sleep(10)
            return {"data": [{"id": page}]}
        return {"data": [{"id": page}], "next": f"/slow?page={page + 1}"}
    if path == "/ledger":
        # Three pages of 1000 records of every kind a Parquet column
        # takes, as an API gives them: ids in order, amounts, a status
        # that repeats, distinct references, times a second apart.
        page = int(query["page"][0])
        if page > 3:
            return {"data": []}
        base = (page - 1) * 1000
        return {"data": [
            {
                "id": base + i,
                "account": (base + i) * 7919 % 100003,
                "amount": round((base + i) * 1.37 % 5000, 2),
                "status": ["open", "paid", "void"][(base + i) % 3],
                "ref": f"{(base + i) * 2654435761 % 2**32:08x}-{base + i}",
                "seen": None if i % 10 == 3 else (base + i) % 97,
                "day": f"2024-{1 + (base + i) % 12:02d}-{1 + (base + i) % 28:02d}",
                "at": f"2024-03-01T{(base + i) // 3600 % 24:02d}:{(base + i) // 60 % 60:02d}:{(base + i) % 60:02d}Z",
                "lines": [{"sku": f"s{(base + i) % 7}", "n": i % 5}],
            }
            for i in range(1000)
        ]}
    if path == "/pages":
        page = int(query["page"][0])
        rows = [{"id": page * 100 + i, "name": f"r{page}-{i}"} for i in range(50)] if page <= 4 else []
        return rows
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        answer = route(url.path, parse_qs(url.query))
        body = json.dumps(answer).encode() if answer is not None else b'{"error":"no route"}'
        self.send_response(200 if answer is not None else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def base(api):
    return f"http://127.0.0.1:{api.server_address[1]}"


LEDGER_JOB = """
[request]
url = "{base}/ledger"
[paginate]
type = "page"
param = "page"
start = 1
[records]
path = "data"
[[columns]]
name = "id"
type = "long"
[[columns]]
name = "account"
type = "long"
[[columns]]
name = "amount"
type = "double"
[[columns]]
name = "status"
[[columns]]
name = "ref"
[[columns]]
name = "seen"
type = "int"
[[columns]]
name = "day"
type = "date"
[[columns]]
name = "at"
type = "timestamp"
[[columns]]
name = "lines"
type = "json"
"""


@pytest.fixture(scope="session")
def ledger(base, cli, tmp_path_factory):
    """A Parquet file the CLI wrote (3000 rows of every kind of column, a
    `json` one among them), and the rows of the CLI's NDJSON of the same
    job as Python values sorted by id, for other readers to check."""
    import subprocess

    folder = tmp_path_factory.mktemp("ledger")
    job = folder / "ledger.toml"
    job.write_text(LEDGER_JOB.format(base=base))
    parquet = folder / "ledger.parquet"
    for output in (parquet, folder / "ledger.ndjson"):
        subprocess.run([cli, "run", str(job), "--output", str(output), "--quiet"], check=True)
    lines = (folder / "ledger.ndjson").read_text().splitlines()
    rows = sorted(
        (
            r["id"], r["account"], r["amount"], r["status"], r["ref"], r["seen"],
            datetime.date.fromisoformat(r["day"]),
            datetime.datetime.fromisoformat(r["at"].replace("Z", "+00:00")),
            r["lines"],
        )
        for r in map(json.loads, lines)
    )
    assert len(rows) == 3000
    return parquet, rows


@pytest.fixture(scope="session")
def cli():
    """The `hydrant` binary: $HYDRANT_BIN, else the workspace's debug build."""
    path = Path(os.environ.get("HYDRANT_BIN", ROOT / "target" / "debug" / "hydrant"))
    if not path.exists():
        pytest.fail(f"no hydrant binary at {path}: build it (cargo build -p hydrant-cli) or set HYDRANT_BIN")
    return str(path)
