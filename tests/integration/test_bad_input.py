"""Malformed input over raw sockets: every case gets a clean error, nothing half-written becomes
visible, and the server keeps serving."""

import base64
import hashlib
import socket
import time

import pytest
from botocore.exceptions import ClientError

from conftest import (EMPTY_SHA256, MOTO, aws_chunked_unsigned, err_status, obj_path, parse_http_response,
                      random_bytes, send_raw)


def md5_b64(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def absent(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        return err_status(e) == 404
    return False


def request_bytes(server, method, path, headers, body=b"", query=(), payload_hash=None, sign=True):
    """Serialize a (signed) request by hand.  headers may contain Content-Length that lies."""
    h = dict(headers)
    if sign:
        ph = payload_hash or hashlib.sha256(body).hexdigest()
        h, _ = server.signed_headers(method, path, query=query, headers=h, payload_hash=ph)
    else:
        h.setdefault("Host", server.host)
    target = path
    if query:
        target += "?" + "&".join(f"{k}={v}" for k, v in query)
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ----------------------------------------------------------------------------- malformed XML


@pytest.mark.sluice_only  # moto answers 500
@pytest.mark.parametrize("body", [
    b"<Delete><Object><Key>a</Key></Object>",          # not closed
    b"this is not xml",
    b"<Delete><Object><Key>a</Key></Object></Wrong>",
])
def test_delete_objects_malformed_xml(server, s3, bucket, body):
    s3.put_object(Bucket=bucket, Key="a", Body=b"keep me")
    r = server.request("POST", "/" + bucket, query=[("delete", "")], body=body, user="root",
                       headers={"Content-MD5": md5_b64(body), "Content-Type": "application/xml"})
    assert (r.status, r.code) == (400, "MalformedXML"), r
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"keep me"
    server.assert_healthy()


@pytest.mark.sluice_only  # moto answers 500 to a broken CompleteMultipartUpload body
@pytest.mark.parametrize("body", [
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
    b"\x00\x01\x02 binary junk",
    b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
])
def test_complete_multipart_malformed_xml(server, s3, bucket, body):
    up = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    try:
        s3.upload_part(Bucket=bucket, Key="m", UploadId=up, PartNumber=1, Body=b"part")
        r = server.request("POST", obj_path(bucket, "m"), query=[("uploadId", up)], body=body, user="root")
        assert (r.status, r.code) == (400, "MalformedXML"), r
        assert absent(s3, bucket, "m")
        # the upload survives a bad completion request
        assert len(s3.list_parts(Bucket=bucket, Key="m", UploadId=up)["Parts"]) == 1
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=up)
    server.assert_healthy()


@pytest.mark.sluice_only  # moto answers 500
def test_put_tagging_malformed_xml(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    body = b"<Tagging><TagSet><Tag><Key>a</Key>"
    r = server.request("PUT", obj_path(bucket, "t"), query=[("tagging", "")], body=body, user="root",
                       headers={"Content-MD5": md5_b64(body)})
    assert (r.status, r.code) == (400, "MalformedXML"), r
    server.assert_healthy()


# ----------------------------------------------------------------------------- aws-chunked framing


def _chunked_headers(server, bucket, key, decoded_len, trailer=None):
    h = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(decoded_len)}
    if trailer:
        h["x-amz-trailer"] = trailer
    return h


BAD_FRAMES = {
    "bad-hex-size": b"zz\r\n" + b"a" * 10 + b"\r\n0\r\n\r\n",
    "size-larger-than-data": b"64\r\n" + b"a" * 10 + b"\r\n0\r\n\r\n",
    "missing-crlf-after-data": b"a\r\n" + b"a" * 10 + b"XX0\r\n\r\n",
    "no-final-chunk": b"a\r\n" + b"a" * 10 + b"\r\n",
    "negative-size": b"-a\r\n" + b"a" * 10 + b"\r\n0\r\n\r\n",
    "huge-size": b"ffffffffffffffffff\r\n" + b"a" * 10 + b"\r\n0\r\n\r\n",
    "decoded-length-mismatch": b"5\r\n" + b"a" * 5 + b"\r\n0\r\n\r\n",  # header says 10
}


@pytest.mark.sluice_only  # moto's aws-chunked decoder crashes (500) or accepts these
@pytest.mark.parametrize("name", list(BAD_FRAMES))
def test_bad_aws_chunked_framing(server, s3, bucket, name):
    body = BAD_FRAMES[name]
    key = "chunk-" + name
    hdrs = _chunked_headers(server, bucket, key, 10)
    hdrs["Content-Length"] = str(len(body))
    r = server.request("PUT", obj_path(bucket, key), headers=hdrs, body=body, user="root",
                       payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER", timeout=10)
    assert r.status == 400, r
    assert r.code, r
    assert absent(s3, bucket, key)
    server.assert_healthy()


@pytest.mark.sluice_only
def test_aws_chunked_trailer_declared_but_missing(server, s3, bucket):
    data = b"x" * 1000
    body = aws_chunked_unsigned(data, 400, trailer=None)
    hdrs = _chunked_headers(server, bucket, "nt", len(data), trailer="x-amz-checksum-crc32")
    hdrs["Content-Length"] = str(len(body))
    r = server.request("PUT", obj_path(bucket, "nt"), headers=hdrs, body=body, user="root",
                       payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert r.status == 400, r
    assert absent(s3, bucket, "nt")


# ----------------------------------------------------------------------------- truncated bodies


def test_truncated_body_not_visible(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")
    for key in ("fresh", "existing"):
        full = random_bytes(200_000, seed=1)
        req = request_bytes(server, "PUT", obj_path(bucket, key), {"Content-Length": str(len(full))},
                            body=full, payload_hash="UNSIGNED-PAYLOAD")
        partial = req[:len(req) - 120_000]
        s = server.raw_socket()
        try:
            s.sendall(partial)
            time.sleep(0.2)
        finally:
            s.close()
        # give the server time to notice the disconnect, then check repeatedly
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            if key == "fresh":
                assert absent(s3, bucket, "fresh")
            else:
                assert s3.get_object(Bucket=bucket, Key="existing")["Body"].read() == b"old content"
            time.sleep(0.25)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["existing"]
    server.assert_healthy()


def test_truncated_multipart_part_not_listed(server, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    try:
        body = random_bytes(300_000, seed=2)
        path = obj_path(bucket, "mp")
        req = request_bytes(server, "PUT", path, {"Content-Length": str(len(body))}, body=body,
                            query=[("partNumber", "1"), ("uploadId", up)], payload_hash="UNSIGNED-PAYLOAD")
        s = server.raw_socket()
        try:
            s.sendall(req[:-150_000])
            time.sleep(0.2)
        finally:
            s.close()
        time.sleep(0.5)
        assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=up).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)
    server.assert_healthy()


@pytest.mark.sluice_only  # moto does not check x-amz-content-sha256
def test_content_length_shorter_than_signed_body(server, s3, bucket):
    body = b"0123456789"
    req = request_bytes(server, "PUT", obj_path(bucket, "cl"), {"Content-Length": "5"}, body=body,
                        payload_hash=hashlib.sha256(body).hexdigest())
    r = send_raw(server, req)
    assert r is not None and r.status == 400 and r.code == "XAmzContentSHA256Mismatch", r
    assert absent(s3, bucket, "cl")
    server.assert_healthy()


@pytest.mark.sluice_only
def test_content_md5_with_short_body(server, s3, bucket):
    body = b"0123456789"
    req = request_bytes(server, "PUT", obj_path(bucket, "md5cl"),
                        {"Content-Length": "5", "Content-MD5": md5_b64(body)}, body=body,
                        payload_hash="UNSIGNED-PAYLOAD")
    r = send_raw(server, req)
    assert r is not None and r.status == 400 and r.code == "BadDigest", r
    assert absent(s3, bucket, "md5cl")


@pytest.mark.sluice_only  # moto (werkzeug) treats a bad Content-Length as 0 and stores an empty object
@pytest.mark.parametrize("cl", ["abc", "-5", "1e3", "99999999999999999999999"])
def test_invalid_content_length(server, s3, bucket, cl):
    req = request_bytes(server, "PUT", obj_path(bucket, "badcl"), {"Content-Length": cl}, body=b"hello",
                        payload_hash="UNSIGNED-PAYLOAD")
    r = send_raw(server, req, shutdown_write=True)
    if r is not None:  # closing the connection is acceptable too
        assert 400 <= r.status < 500, r
    assert absent(s3, bucket, "badcl")
    server.assert_healthy()


@pytest.mark.sluice_only  # moto (werkzeug) stores an empty object
def test_put_without_content_length(server, s3, bucket):
    req = request_bytes(server, "PUT", obj_path(bucket, "nocl"), {}, body=b"", payload_hash="UNSIGNED-PAYLOAD")
    r = send_raw(server, req + b"body without length", shutdown_write=True)
    assert r is not None and r.status == 411 and r.code == "MissingContentLength", r
    assert absent(s3, bucket, "nocl")


# ----------------------------------------------------------------------------- HTTP-level garbage


def test_huge_header(server):
    req = request_bytes(server, "GET", "/", {"X-Big": "a" * 200_000}, sign=False)
    r = send_raw(server, req, shutdown_write=True)
    if r is not None:
        assert r.status in (400, 431), r
    server.assert_healthy()


def test_many_headers(server):
    h = {f"X-H{i}": "v" for i in range(2000)}
    r = send_raw(server, request_bytes(server, "GET", "/", h, sign=False), shutdown_write=True)
    if r is not None:
        assert r.status in (400, 431), r
    server.assert_healthy()


def test_huge_url(server):
    r = send_raw(server, f"GET /{'a' * 100_000} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode(),
                 shutdown_write=True)
    if r is not None:
        assert r.status in (400, 414), r
    server.assert_healthy()


@pytest.mark.parametrize("junk", [
    b"HELLO\r\n\r\n",
    b"GET\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100),  # a TLS ClientHello on the plain port
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n",
                 marks=pytest.mark.sluice_only),  # werkzeug ignores the line
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    b"\r\n" * 1000,
    bytes(range(256)) * 10,
])
def test_garbage_requests(server, junk):
    if server.scheme == "https":
        pytest.skip("plain socket test")
    try:
        r = send_raw(server, junk, shutdown_write=True, timeout=5)
    except (ConnectionResetError, socket.timeout, BrokenPipeError):
        r = None
    if r is not None:
        assert 400 <= r.status < 600 and r.status != 500, r
    server.assert_healthy()


@pytest.mark.sluice_only  # moto (werkzeug) answers 500 here
def test_invalid_percent_encoding(server, bucket):
    r = send_raw(server, request_bytes(server, "GET", f"/{bucket}/%ZZbad", {}, sign=False), shutdown_write=True)
    assert r is not None and r.status == 400, r
    server.assert_healthy()


@pytest.mark.sluice_only  # moto accepts NUL in keys
def test_nul_in_key_rejected(server, s3, bucket):
    r = server.request("PUT", f"/{bucket}/nul%00byte", body=b"x", user="root")
    assert 400 <= r.status < 500, r
    server.assert_healthy()


@pytest.mark.sluice_only  # moto accepts any max-keys
def test_invalid_max_keys(server, bucket):
    r = server.request("GET", "/" + bucket, query=[("list-type", "2"), ("max-keys", "abc")], user="root")
    assert (r.status, r.code) == (400, "InvalidArgument"), r


def test_unsupported_method(server, bucket):
    r = server.request("BREW", "/" + bucket, user="root")
    assert r.status in (400, 405, 501), r
    server.assert_healthy()


# ----------------------------------------------------------------------------- connection handling


@pytest.mark.sluice_only  # moto (werkzeug) closes the connection after each response
def test_keepalive_pipelined_requests(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="ka", Body=b"keepalive")
    path = obj_path(bucket, "ka")
    r1 = request_bytes(server, "GET", path, {}, payload_hash=EMPTY_SHA256)
    r2 = request_bytes(server, "GET", obj_path(bucket, "missing"), {}, payload_hash=EMPTY_SHA256)
    r3 = request_bytes(server, "HEAD", path, {}, payload_hash=EMPTY_SHA256)
    s = server.raw_socket()
    try:
        s.sendall(r1 + r2 + r3)
        f = s.makefile("rb")
        a = parse_http_response(f)
        b = parse_http_response(f)
        c = parse_http_response(f, method="HEAD")
        assert (a.status, a.body) == (200, b"keepalive")
        assert b.status == 404
        assert (c.status, c.body) == (200, b"")
        assert c.headers["content-length"] == "9"
    finally:
        s.close()


def test_expect_100_continue(server, s3, bucket):
    body = random_bytes(50_000, seed=3)
    req = request_bytes(server, "PUT", obj_path(bucket, "expect"), {"Expect": "100-continue",
                        "Content-Length": str(len(body))}, body=b"", payload_hash=hashlib.sha256(body).hexdigest())
    s = server.raw_socket()
    try:
        s.sendall(req)
        s.settimeout(3)
        try:
            first = s.recv(4096)
        except socket.timeout:
            first = b""  # a server may just wait for the body (allowed, clients time out and send)
        if first:
            assert first.startswith(b"HTTP/1.1 100"), first
        s.settimeout(10)
        s.sendall(body)
        f = s.makefile("rb")
        if first and not MOTO and b"\r\n\r\n" in first and len(first.split(b"\r\n\r\n", 1)[1]) > 0:
            pytest.fail(f"unexpected data after 100 Continue: {first!r}")
        r = parse_http_response(f)
        assert r.status == 200, r
    finally:
        s.close()
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == body
    if not MOTO:
        assert first.startswith(b"HTTP/1.1 100"), "no 100 Continue sent"


def test_expect_100_continue_empty_body(server, s3, bucket):
    """Every boto3 PutObject carries `Expect: 100-continue`.  If the server answers a zero-length PUT
    with its final status and no 100 Continue, botocore remembers that status line for the
    connection and misreads the next response on it (a 60 s stall, see
    test_objects.py::test_expect_100_empty_body_then_reuse_connection).  So: send 100 Continue
    first, or close the connection after the final response."""
    s = server.raw_socket()
    try:
        s.sendall(request_bytes(server, "PUT", obj_path(bucket, "e1"), {"Expect": "100-continue",
                                                                        "Content-Length": "0"},
                                body=b"", payload_hash=EMPTY_SHA256))
        s.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        if not data.startswith(b"HTTP/1.1 100"):
            assert data.startswith(b"HTTP/1.1 200"), data
            assert b"connection: close" in head, (
                "final response to an Expect: 100-continue request without a prior 100 Continue must "
                f"close the connection (botocore cannot reuse it): {data[:400]!r}")
    finally:
        s.close()
    assert s3.get_object(Bucket=bucket, Key="e1")["Body"].read() == b""


@pytest.mark.sluice_only
def test_expect_100_continue_rejected_early(server, s3, bucket):
    """With bad credentials the server should answer the final error without reading the body."""
    headers = {"Expect": "100-continue", "Content-Length": "10000000"}
    hdrs, _ = server.signed_headers("PUT", obj_path(bucket, "e2"), headers=headers,
                                    payload_hash="UNSIGNED-PAYLOAD")
    hdrs["Authorization"] = hdrs["Authorization"][:-4] + "0000"
    req = (f"PUT {obj_path(bucket, 'e2')} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
           + "\r\n").encode()
    s = server.raw_socket()
    try:
        s.sendall(req)
        s.settimeout(5)
        r = parse_http_response(s.makefile("rb"))
        assert r.status == 403, r
    finally:
        s.close()
    server.assert_healthy()


def test_idle_connections_do_not_block(server):
    """Open idle connections must not starve other clients."""
    idle = []
    try:
        for _ in range(50):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        half = server.raw_socket()
        half.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        idle.append(half)
        t0 = time.monotonic()
        server.assert_healthy()
        assert time.monotonic() - t0 < 2
    finally:
        for s in idle:
            s.close()


ODD_REQUESTS = [
    ("GET", "k", [], {"Range": "bytes=99999999999999999999-"}),
    ("GET", "k", [], {"Range": "bytes=-99999999999999999999"}),
    ("GET", "k", [], {"Range": "bytes=0-99999999999999999999"}),
    ("GET", "k", [], {"Range": "bytes=5-3"}),
    ("GET", "k", [("partNumber", "0")], {}),
    ("GET", "k", [("partNumber", "99999999999999")], {}),
    ("GET", "k", [("partNumber", "-1")], {}),
    ("GET", "k", [("versionId", "\x01garbage")], {}),
    ("GET", "k", [("versionId", "x" * 5000)], {}),
    ("GET", None, [("max-keys", "99999999999999999999")], {}),
    ("GET", None, [("max-keys", "-5")], {}),
    ("GET", None, [("list-type", "2"), ("continuation-token", "%%%garbage")], {}),
    ("GET", None, [("list-type", "2"), ("continuation-token", "Zm9v")], {}),
    ("GET", None, [("uploads", ""), ("max-uploads", "99999999999999999999")], {}),
    ("GET", None, [("versions", ""), ("version-id-marker", "zzz"), ("key-marker", "k")], {}),
    ("GET", "k", [("uploadId", "garbage"), ("part-number-marker", "abc")], {}),
    ("GET", "k", [("uploadId", "garbage"), ("max-parts", "99999999999")], {}),
    ("PUT", "k", [("partNumber", "1"), ("uploadId", "../../etc")], {}),
    ("PUT", "k", [("partNumber", "10001"), ("uploadId", "x")], {}),
    ("PUT", "k", [("partNumber", "abc"), ("uploadId", "x")], {}),
    ("PUT", "k2", [], {"x-amz-copy-source": "/odd-requests/k", "x-amz-copy-source-range": "bytes=0-99999999999999999999"}),
    ("PUT", "k2", [], {"x-amz-copy-source": "%%%"}),
    ("PUT", "k2", [], {"x-amz-copy-source": "/odd-requests/k?versionId=" + "z" * 100}),
    ("PUT", "k2", [], {"x-amz-tagging": "a=%%%&&&=="}),
    ("PUT", "k2", [], {"x-amz-tagging": "&".join(f"k{i}=v" for i in range(100))}),
    ("PUT", "k2", [], {"x-amz-meta-a": "x" * 9000}),
    ("PUT", "k2", [], {"Content-MD5": "!!!"}),
    ("PUT", "k2", [], {"x-amz-checksum-crc32": "!!!"}),
    ("PUT", "k2", [], {"x-amz-checksum-crc32": "AAAA"}),
    ("PUT", "k2", [], {"x-amz-storage-class": "NOPE"}),
    ("PUT", "k2", [], {"x-amz-object-lock-retain-until-date": "1013-01-01T00:00:00Z", "x-amz-object-lock-mode": "GOVERNANCE"}),
    ("PUT", "k2", [], {"Expires": "garbage"}),
    ("PUT", "k2", [], {"x-amz-server-side-encryption": "aws:kms"}),
    ("HEAD", "k", [], {"If-Match": "*" * 5000}),
    ("GET", "k", [("response-content-type", "a\r\nb")], {}),
    ("GET", "k", [("response-expires", "garbage")], {}),
    ("DELETE", "k", [("versionId", "null")], {}),
    ("POST", "k", [("uploads", "")], {"x-amz-checksum-algorithm": "MD99"}),
    ("POST", None, [("delete", "")], {}),
    ("PUT", None, [("versioning", "")], {}),
    ("PUT", None, [("tagging", "")], {}),
    ("PUT", None, [("policy", "")], {}),
    ("PUT", None, [("lifecycle", "")], {}),
    ("PUT", None, [("cors", "")], {}),
    ("PUT", None, [("notification", "")], {}),
    ("GET", None, [("location", ""), ("acl", ""), ("tagging", "")], {}),
    ("GET", None, [("events", "s3:Bogus"), ("prefix", "a")], {}),
]


@pytest.mark.sluice_only
@pytest.mark.parametrize("i", range(len(ODD_REQUESTS)))
def test_odd_parameters_and_headers_get_a_client_error(raw, s3, i):
    """Out-of-range numbers, garbage ids, control characters, unknown values: a 4xx in S3's format (or 501 for a
    subresource Sluice does not implement), never a 500, a crash or a hang."""
    try:
        s3.create_bucket(Bucket="odd-requests")
    except ClientError:
        pass
    s3.put_object(Bucket="odd-requests", Key="k", Body=b"hello world")
    method, key, query, headers = ODD_REQUESTS[i]
    r = raw(method, obj_path("odd-requests", key), query=query, headers=headers, user="root", timeout=10)
    assert r.status < 500 or (r.status, r.code) == (501, "NotImplemented"), (ODD_REQUESTS[i], r.status, r.body[:300])
    assert raw("GET", "/minio/health/live", timeout=10).status == 200
