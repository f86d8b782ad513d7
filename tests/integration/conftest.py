"""Fixtures for Sluice's S3 integration tests.

The suite drives a real server on loopback with real clients.  The target is chosen with
SLUICE_TEST_TARGET:

  sluice (default)  start the `sluice` binary (SLUICE_BIN, else build/ci/..., else build/dev/...)
  moto              start moto's S3 server instead; used to check that the tests themselves are right.
                    Tests that moto cannot do (auth, users, restarts, ...) carry the `sluice_only` marker
                    and are skipped there.

One server (root + users alice and bob) is shared by the whole session; tests that need special
settings (TLS, virtual hosts, kill -9) start their own with the `make_server` factory.  Every process is
killed in the fixture finalizer and again at interpreter exit.  When a test fails, the part of the server
log written while it ran is attached to the report.
"""

import atexit
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import pathlib
import random
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import boto3
import botocore
import pytest
from botocore.config import Config

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET = os.environ.get("SLUICE_TEST_TARGET", "sluice").strip().lower()
REGION = "us-east-1"
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

# name -> (access key, secret key).  "root" is the server's root user.
USERS = {
    "root": ("sluiceroot", "sluiceroot-secret-0001"),
    "alice": ("alicekey", "alice-secret-00001"),
    "bob": ("bobkey01", "bob-secret-000001"),
}

BOTOCORE_VERSION = tuple(int(x) for x in botocore.__version__.split(".")[:2])
# botocore >= 1.36 computes a CRC32 for every PutObject/UploadPart by default (and sends it as an
# aws-chunked trailer over https).
NEW_BOTO = BOTOCORE_VERSION >= (1, 36)

MOTO = TARGET == "moto"

assert TARGET in ("sluice", "moto"), f"SLUICE_TEST_TARGET must be sluice or moto, not {TARGET!r}"


# --------------------------------------------------------------------------------------------------
# pytest hooks


def pytest_report_header(config):
    return [
        f"sluice target: {TARGET}",
        f"python {sys.version.split()[0]} ({sys.executable}); boto3 {boto3.__version__}, "
        f"botocore {botocore.__version__} ({'new: default CRC32 checksums' if NEW_BOTO else 'old'})",
        f"sluice binary: {sluice_bin() if TARGET == 'sluice' else '-'}",
    ]


def pytest_collection_modifyitems(config, items):
    # SLUICE_TEST_RUN_ALL=1 runs sluice_only tests against moto too (to explore moto's deviations).
    if TARGET != "sluice" and not os.environ.get("SLUICE_TEST_RUN_ALL"):
        skip = pytest.mark.skip(reason=f"sluice_only: not supported by target {TARGET}")
        for item in items:
            if "sluice_only" in item.keywords:
                item.add_marker(skip)


_ACTIVE_SERVERS = []  # servers alive right now (for attaching logs to failures)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        offsets = getattr(item, "_sluice_log_offsets", {})
        for srv in list(_ACTIVE_SERVERS):
            tail = srv.log_since(offsets.get(id(srv), 0))
            if tail:
                report.sections.append((f"server log {srv.name} ({srv.log_path})", tail[-20000:]))


@pytest.fixture(autouse=True)
def _remember_log_offsets(request):
    request.node._sluice_log_offsets = {id(s): s.log_size() for s in _ACTIVE_SERVERS}
    yield


# --------------------------------------------------------------------------------------------------
# helpers


def sluice_bin():
    env = os.environ.get("SLUICE_BIN")
    if env:
        return env
    for rel in ("build/ci/apps/sluice/sluice", "build/dev/apps/sluice/sluice"):
        p = REPO / rel
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def moto_python():
    """An interpreter that can run moto's server (the image's python3 has it, Debian's may not)."""
    env = os.environ.get("MOTO_PYTHON")
    if env:
        return env
    cands = [sys.executable]
    for p in os.environ.get("PATH", "").split(os.pathsep):
        exe = os.path.join(p, "python3")
        if os.access(exe, os.X_OK) and exe not in cands:
            cands.append(exe)
    for exe in cands:
        if subprocess.run([exe, "-c", "import moto.server"], capture_output=True).returncode == 0:
            return exe
    raise RuntimeError("no python with moto found; set MOTO_PYTHON")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rand_suffix(n=8):
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


def unique_bucket(prefix="t"):
    return f"{prefix}-{rand_suffix(10)}"


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def b64(b):
    return base64.b64encode(b).decode()


def s3quote(s, safe="/"):
    """URI-encode as SigV4 wants (RFC 3986 unreserved characters are left alone)."""
    return urllib.parse.quote(s, safe=safe + "~")


def obj_path(bucket, key=None):
    if key is None:
        return "/" + bucket
    return "/" + bucket + "/" + s3quote(key)


def assert_request_id(headers):
    """S3 (and MinIO) put x-amz-request-id on every response, errors included.  moto sends
    x-amzn-requestid instead, so under moto this check is skipped (deviation, not S3 behaviour)."""
    headers = {k.lower(): v for k, v in headers.items()}
    if MOTO:
        return
    assert headers.get("x-amz-request-id"), f"no x-amz-request-id in {headers}"


def err_code(exc):
    """S3 error code of a botocore ClientError."""
    return exc.response.get("Error", {}).get("Code")


def err_status(exc):
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def random_bytes(n, seed=None):
    if seed is None:
        return os.urandom(n)
    return random.Random(seed).randbytes(n)


# ----- checksums (pure python so that both interpreters compute the expected values) ---------------


def _make_table(poly, bits):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_T = _make_table(0x82F63B78, 32)
_CRC64NVME_T = _make_table(0x9A6C9329AC4BC9B5, 64)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC32C_T
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc64nvme(data):
    c = 0xFFFFFFFFFFFFFFFF
    t = _CRC64NVME_T
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888


def checksum_b64(algo, data):
    algo = algo.lower()
    if algo == "crc32":
        return b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algo == "crc32c":
        return b64(crc32c(data).to_bytes(4, "big"))
    if algo == "crc64nvme":
        return b64(crc64nvme(data).to_bytes(8, "big"))
    if algo == "sha1":
        return b64(hashlib.sha1(data).digest())
    if algo == "sha256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(algo)


# ----- SigV4 ------------------------------------------------------------------------------------------

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def signing_key(secret, date, region=REGION, service="s3"):
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def canonical_query(pairs):
    enc = [(s3quote(str(k), safe=""), s3quote(str(v), safe="")) for k, v in pairs]
    return "&".join(f"{k}={v}" for k, v in sorted(enc))


def sign_v4(method, path, query_pairs, headers, payload_hash, access_key, secret_key,
            amz_date=None, region=REGION):
    """Add x-amz-date, x-amz-content-sha256 and Authorization to `headers` (a dict, modified).

    `path` is the request path exactly as sent on the wire (already URI-encoded).  Returns
    (seed signature, amz_date, scope, signing key) for aws-chunked signing."""
    if amz_date is None:
        amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = payload_hash
    signed = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()
              if k.lower() not in ("content-length", "transfer-encoding", "user-agent", "expect")}
    names = sorted(signed)
    canon_headers = "".join(f"{k}:{signed[k]}\n" for k in names)
    creq = "\n".join([method, path, canonical_query(query_pairs), canon_headers, ";".join(names), payload_hash])
    scope = f"{date}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = signing_key(secret_key, date, region)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return sig, amz_date, scope, key


def aws_chunked_signed(data, chunk_size, seed_sig, amz_date, scope, key, trailer=None):
    """Body for x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]."""
    out = []
    prev = seed_sig
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for ch in chunks:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
                         hashlib.sha256(ch).hexdigest()])
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out.append(f"{len(ch):x};chunk-signature={prev}\r\n".encode() + ch)
        if ch or trailer is None:
            out.append(b"\r\n")
    if trailer is not None:
        name, value = trailer
        tline = f"{name}:{value}"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                         hashlib.sha256((tline + "\n").encode()).hexdigest()])
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out.append(f"{tline}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode())
    return b"".join(out)


def aws_chunked_unsigned(data, chunk_size, trailer=None):
    """Body for STREAMING-UNSIGNED-PAYLOAD-TRAILER (what SDKs send with trailing checksums)."""
    out = []
    for i in range(0, len(data), chunk_size):
        ch = data[i:i + chunk_size]
        out.append(f"{len(ch):x}\r\n".encode() + ch + b"\r\n")
    out.append(b"0\r\n")
    if trailer is not None:
        out.append(f"{trailer[0]}:{trailer[1]}\r\n".encode())
    out.append(b"\r\n")
    return b"".join(out)


def presign_v4(method, host, path, access_key, secret_key, expires=300, amz_date=None, extra_query=(),
               scheme="http"):
    """Query-string-signed URL built by hand (independent of botocore)."""
    if amz_date is None:
        amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    q = list(extra_query) + [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    creq = "\n".join([method, path, canonical_query(q), f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(signing_key(secret_key, amz_date[:8]), sts.encode(), hashlib.sha256).hexdigest()
    q.append(("X-Amz-Signature", sig))
    return f"{scheme}://{host}{path}?{canonical_query(q)}"


# ----- raw HTTP ---------------------------------------------------------------------------------------


class Resp:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> value (repeated headers joined with ", ")
        self.body = body

    @property
    def xml(self):
        return ET.fromstring(self.body)

    @property
    def code(self):
        """S3 error code from an XML error body, or None."""
        if not self.body:
            return None
        try:
            root = ET.fromstring(self.body)
        except ET.ParseError:
            return None
        el = root.find("Code")
        if el is None:
            el = root.find(S3NS + "Code")
        return el.text if el is not None else None

    def __repr__(self):
        return f"<Resp {self.status} {self.reason} {self.headers} {self.body[:600]!r}>"


class _NoClose:
    """File proxy whose close() is a no-op: HTTPResponse closes its file after reading a body, which
    would end the connection for the next pipelined response."""

    def __init__(self, f):
        self._f = f

    def close(self):
        pass

    def __getattr__(self, name):
        return getattr(self._f, name)


class _FileSock:
    def __init__(self, f):
        self.f = _NoClose(f)

    def makefile(self, *args, **kwargs):
        return self.f


def parse_http_response(sock_file, method="GET"):
    """Parse one response from a socket file object (for hand-written requests).  Several responses
    can be read one after another from the same file object (keep-alive / pipelining)."""
    resp = http.client.HTTPResponse(_FileSock(sock_file), method=method)
    resp.begin()
    body = resp.read()
    return Resp(resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()}, body)


# --------------------------------------------------------------------------------------------------
# server process management

_LIVE_PROCS = set()


def _kill_all():
    for p in list(_LIVE_PROCS):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        except Exception:
            pass


atexit.register(_kill_all)


class Server:
    """One server process (sluice or moto) on 127.0.0.1 with its data dir and log."""

    def __init__(self, workdir, name="sluice", overrides=(), tls_dir=None, users=("alice", "bob"),
                 domain=None, drives=None):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.datadir = self.workdir / "data"
        self.log_path = self.workdir / "server.log"
        self.port = free_port()
        self.kafka_port = free_port()
        self.tls_dir = pathlib.Path(tls_dir) if tls_dir else None
        self.scheme = "https" if tls_dir else "http"
        self.overrides = list(overrides)
        self.users = list(users)
        self.domain = domain
        # Drive folders: None = SLUICE_TEST_DRIVES (default 1); N > 1 = erasure-coded datadir/drive1..N.
        self.drives = drives
        self.proc = None
        self.target = TARGET
        self.starts = 0

    # --- addresses
    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def kafka(self):
        """bootstrap.servers of the server's Kafka API."""
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def endpoint(self):
        return f"{self.scheme}://{self.host}"

    @property
    def drive_count(self):
        return self.drives or int(os.environ.get("SLUICE_TEST_DRIVES", "1"))

    @property
    def drive_dirs(self):
        """The drive folders, in the order the server was given them."""
        n = self.drive_count
        if n == 1:
            return [self.datadir]
        return [self.datadir / f"drive{i}" for i in range(1, n + 1)]

    @property
    def cafile(self):
        return str(self.tls_dir / "public.crt") if self.tls_dir else None

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # --- lifecycle
    def command(self):
        if TARGET == "moto":
            cmd = [moto_python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
            if self.tls_dir:
                cmd += ["-c", str(self.tls_dir / "public.crt"), "-k", str(self.tls_dir / "private.key")]
            return cmd
        exe = sluice_bin()
        if not exe:
            pytest.fail("sluice binary not found: set SLUICE_BIN or build build/ci (or build/dev) first "
                        "(or run with SLUICE_TEST_TARGET=moto)", pytrace=False)
        # SLUICE_TEST_DRIVES=N runs the suite on N erasure-coded drive folders instead of one.
        drives = self.drive_count
        data = str(self.datadir) if drives == 1 else f"{self.datadir}/drive{{1...{drives}}}"
        cmd = [exe, "server", data, "--override", f"s3.listeners=127.0.0.1:{self.port}",
               # Each test server has its own Kafka port and a small WAL (tests start many servers).
               "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.kafka_port}",
               "--override", "s3.wal.capacity=32MiB",
               "--override", "group.initial.rebalance.delay.ms=200"]
        for u in self.users:
            ak, sk = USERS[u]
            cmd += ["--override", f"iam.user.{ak}={sk}"]
        if self.tls_dir:
            cmd += ["--override", f"tls.certs.dir={self.tls_dir}"]
        if self.domain:
            cmd += ["--override", f"s3.domain={self.domain}"]
        for o in self.overrides:
            cmd += ["--override", o]
        return cmd

    def start(self, timeout=30):
        assert self.proc is None or self.proc.poll() is not None
        self.datadir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["SLUICE_ROOT_USER"], env["SLUICE_ROOT_PASSWORD"] = USERS["root"]
        env.pop("AWS_PROFILE", None)
        cmd = self.command()
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=str(self.workdir), start_new_session=True)
        _LIVE_PROCS.add(self.proc)
        if self not in _ACTIVE_SERVERS:
            _ACTIVE_SERVERS.append(self)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode} during start-up; log:\n"
                            f"{self.log_since(0)[-8000:]}", pytrace=False)
            try:
                r = self.health()
                if r.status == 200:
                    return self
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        pytest.fail(f"server not ready after {timeout}s (last: {last!r}); log:\n{self.log_since(0)[-8000:]}",
                    pytrace=False)

    def health(self):
        path = "/" if TARGET == "moto" else "/minio/health/live"
        return self.request("GET", path, timeout=2)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        _LIVE_PROCS.discard(p)
        return p.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def close(self, remove_data=True):
        self.stop(signal.SIGTERM, timeout=10)
        if self in _ACTIVE_SERVERS:
            _ACTIVE_SERVERS.remove(self)
        if remove_data:
            shutil.rmtree(self.datadir, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # --- clients
    def client(self, user="root", addressing="path", verify=None, checksum_calc=None, read_timeout=120,
               creds=None, **cfg):
        ak, sk = creds if creds else USERS[user]
        kw = dict(region_name=REGION, signature_version="s3v4", s3={"addressing_style": addressing},
                  retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout,
                  max_pool_connections=64)
        if checksum_calc and NEW_BOTO:
            kw["request_checksum_calculation"] = checksum_calc
            kw["response_checksum_validation"] = checksum_calc
        kw.update(cfg)
        if verify is None:
            verify = self.cafile if self.tls_dir else None
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
            config=Config(**kw), verify=verify)

    def _conn(self, timeout):
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, query=None, headers=None, body=b"", user=None, payload_hash=None,
                amz_date=None, host=None, creds=None, timeout=30):
        """Send one hand-made request.

        path: wire path, already URI-encoded (see obj_path()).  query: list of (k, v) pairs or dict.
        user: a USERS name to SigV4-sign as, or None for an anonymous request.  creds=(ak, sk) signs
        with arbitrary credentials.  payload_hash: x-amz-content-sha256 (default: sha256 of body)."""
        if isinstance(query, dict):
            query = list(query.items())
        query = list(query or [])
        headers = dict(headers or {})
        if isinstance(body, str):
            body = body.encode()
        headers.setdefault("Host", host or self.host)
        if user is not None or creds is not None:
            ak, sk = creds if creds else USERS[user]
            ph = payload_hash or hashlib.sha256(body).hexdigest()
            sign_v4(method, path, query, headers, ph, ak, sk, amz_date=amz_date)
        url = path
        if query:
            url += "?" + "&".join(
                s3quote(str(k), safe="") + ("=" + s3quote(str(v), safe="") if v is not None else "")
                for k, v in query)
        conn = self._conn(timeout)
        try:
            conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            if body or method in ("PUT", "POST"):
                if not any(k.lower() in ("content-length", "transfer-encoding") for k in headers):
                    conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            if body:
                conn.send(body)
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def raw_socket(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.cafile)
            s = ctx.wrap_socket(s, server_hostname="localhost")
        return s

    def signed_headers(self, method, path, query=(), headers=None, payload_hash=EMPTY_SHA256, user="root",
                       amz_date=None, host=None):
        """Headers (incl. Host and Authorization) for a hand-written request over a raw socket."""
        headers = dict(headers or {})
        headers.setdefault("Host", host or self.host)
        ak, sk = USERS[user]
        sig, amz_date, scope, key = sign_v4(method, path, list(query), headers, payload_hash, ak, sk,
                                           amz_date=amz_date)
        return headers, (sig, amz_date, scope, key)

    def admin(self, *args, timeout=120):
        """Runs `sluice admin --endpoint <this server> ARGS...` as root; returns the CompletedProcess (text)."""
        env = dict(os.environ)
        env["SLUICE_ROOT_USER"], env["SLUICE_ROOT_PASSWORD"] = USERS["root"]
        env.pop("SLUICE_ENDPOINT", None)
        return subprocess.run([sluice_bin(), "admin", "--endpoint", self.endpoint, *args], env=env,
                              capture_output=True, text=True, timeout=timeout)

    def assert_healthy(self):
        assert self.alive(), f"server process died; log:\n{self.log_since(0)[-8000:]}"
        r = self.health()
        assert r.status == 200, r


def send_raw(server, data, read=True, shutdown_write=False, timeout=10):
    """Write raw bytes to the server and parse one HTTP response (None if the server just closed)."""
    s = server.raw_socket(timeout=timeout)
    try:
        s.sendall(data)
        if shutdown_write:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        if not read:
            return None
        f = s.makefile("rb")
        try:
            return parse_http_response(f)
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
            return None
        finally:
            f.close()
    finally:
        s.close()


def empty_bucket(client, bucket):
    try:
        for up in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:
        pass
    token = None
    while True:
        kw = {"Bucket": bucket}
        if token:
            kw["ContinuationToken"] = token
        r = client.list_objects_v2(**kw)
        keys = [{"Key": o["Key"]} for o in r.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        if not r.get("IsTruncated"):
            break
        token = r["NextContinuationToken"]


def delete_bucket_fully(client, bucket):
    try:
        empty_bucket(client, bucket)
        client.delete_bucket(Bucket=bucket)
    except Exception:
        pass


def make_cert(dirpath):
    dirpath = pathlib.Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(dirpath / "private.key"), "-out", str(dirpath / "public.crt")],
        check=True, capture_output=True)
    return dirpath


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("sluice-main"), name="main")
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(name=..., tls=False, domain=None, overrides=()) -> started Server."""
    made = []

    def make(name="extra", tls=False, start=True, **kw):
        tls_dir = make_cert(tmp_path / f"{name}-certs") if tls else None
        srv = Server(tmp_path / name, name=name, tls_dir=tls_dir, **kw)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in made:
        srv.close()


@pytest.fixture(scope="session")
def s3(server):
    """boto3 client for the root user of the shared server."""
    return server.client("root")


@pytest.fixture(scope="session")
def s3_alice(server):
    return server.client("alice")


@pytest.fixture(scope="session")
def s3_bob(server):
    return server.client("bob")


@pytest.fixture
def bucket(server, s3):
    """A fresh empty bucket owned by root; removed with its content afterwards."""
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    delete_bucket_fully(s3, name)


@pytest.fixture
def raw(server):
    """server.request: hand-made (optionally SigV4-signed) HTTP requests to the shared server."""
    return server.request
