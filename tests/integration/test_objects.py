"""Object operations: put/get/head/delete, metadata, ranges, conditionals, copy, tagging, odd keys."""

import datetime
import email.utils
import gzip
import hashlib
import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import (MOTO, assert_request_id, b64, err_code, err_status, md5hex, obj_path, random_bytes,
                      sha256, unique_bucket)

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def http_date(dt):
    return email.utils.format_datetime(dt.astimezone(datetime.timezone.utc), usegmt=True)


def hdrs(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"]


# ----------------------------------------------------------------------------- basic CRUD


def test_put_get_head_delete(s3, bucket):
    data = b"hello sluice\n"
    r = s3.put_object(Bucket=bucket, Key="greeting.txt", Body=data)
    assert r["ETag"] == f'"{md5hex(data)}"'
    assert_request_id(hdrs(r))

    g = s3.get_object(Bucket=bucket, Key="greeting.txt")
    assert g["Body"].read() == data
    assert g["ETag"] == f'"{md5hex(data)}"'
    assert g["ContentLength"] == len(data)
    assert g["AcceptRanges"] == "bytes"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - g["LastModified"]).total_seconds()) < 300

    h = s3.head_object(Bucket=bucket, Key="greeting.txt")
    assert h["ContentLength"] == len(data)
    assert h["ETag"] == g["ETag"]
    assert h["LastModified"] == g["LastModified"]

    d = s3.delete_object(Bucket=bucket, Key="greeting.txt")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="greeting.txt")
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchKey", 404)


@pytest.mark.sluice_only  # moto answers 400 to versionId=null (rclone sends it; S3 and MinIO accept it)
def test_version_id_null_on_unversioned_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="v", Body=b"versionless")
    assert s3.head_object(Bucket=bucket, Key="v", VersionId="null")["ContentLength"] == 11
    assert s3.get_object(Bucket=bucket, Key="v", VersionId="null")["Body"].read() == b"versionless"
    s3.delete_object(Bucket=bucket, Key="v", VersionId="null")
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="v")
    assert err_status(ei.value) == 404


def test_overwrite(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first version")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 6


def test_delete_missing_key_is_204(s3, bucket):
    r = s3.delete_object(Bucket=bucket, Key="never-existed")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_empty_object(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert r["ETag"] == f'"{EMPTY_MD5}"'
    g = s3.get_object(Bucket=bucket, Key="empty")
    assert g["ContentLength"] == 0
    assert g["Body"].read() == b""
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0
    assert [o["Size"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [0]


def test_expect_100_empty_body_then_reuse_connection(server, bucket):
    """botocore adds `Expect: 100-continue` for file-like bodies.  For an empty body a server may answer
    at once without 100 Continue; botocore then keeps that status line for the connection's next
    Expect request, which stalls until the server drops the idle connection (seen with
    `aws s3 sync` of a tree holding an empty file: 60 s stall).  A server avoids it by sending
    100 Continue anyway or by closing such a connection.  One pooled connection forces the reuse."""
    import io
    s3 = server.client(max_pool_connections=1, read_timeout=10)
    for i in range(3):
        t0 = time.monotonic()
        s3.put_object(Bucket=bucket, Key=f"empty{i}", Body=io.BytesIO(b""))
        r = s3.put_object(Bucket=bucket, Key=f"after{i}", Body=io.BytesIO(b"next body"))
        assert r["ETag"] == f'"{md5hex(b"next body")}"'
        assert time.monotonic() - t0 < 5
    assert s3.get_object(Bucket=bucket, Key="after2")["Body"].read() == b"next body"
    assert s3.get_object(Bucket=bucket, Key="empty2")["Body"].read() == b""


@pytest.mark.parametrize("size", [1, 10 * 1024 * 1024])
def test_roundtrip_exact_bytes(s3, bucket, size):
    data = random_bytes(size)
    s3.put_object(Bucket=bucket, Key=f"blob-{size}", Body=data)
    got = s3.get_object(Bucket=bucket, Key=f"blob-{size}")["Body"].read()
    assert len(got) == size
    assert sha256(got) == sha256(data)
    assert s3.head_object(Bucket=bucket, Key=f"blob-{size}")["ETag"] == f'"{md5hex(data)}"'


def test_put_with_correct_content_md5(s3, bucket):
    data = b"md5 checked body"
    s3.put_object(Bucket=bucket, Key="m", Body=data, ContentMD5=b64(hashlib.md5(data).digest()))
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == data


def test_get_missing_key_and_bucket(s3, bucket, raw):
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="nope")
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchKey", 404)
    assert_request_id(ei.value.response["ResponseMetadata"]["HTTPHeaders"])

    r = raw("GET", obj_path(bucket, "nope"), user="root")
    assert (r.status, r.code) == (404, "NoSuchKey")
    assert r.xml.findtext("Key") == "nope"
    assert_request_id(r.headers)

    r = raw("HEAD", obj_path(bucket, "nope"), user="root")
    assert r.status == 404 and r.body == b""
    assert_request_id(r.headers)

    missing = unique_bucket("missing")
    for call in (lambda: s3.get_object(Bucket=missing, Key="k"),
                 lambda: s3.put_object(Bucket=missing, Key="k", Body=b"x")):
        with pytest.raises(ClientError) as ei:
            call()
        assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchBucket", 404)


def test_request_id_on_every_response(s3, bucket, raw):
    s3.put_object(Bucket=bucket, Key="rid", Body=b"x")
    seen = set()
    for method, path, query in [
        ("GET", "/", []),
        ("HEAD", "/" + bucket, []),
        ("GET", "/" + bucket, [("list-type", "2")]),
        ("GET", obj_path(bucket, "rid"), []),
        ("HEAD", obj_path(bucket, "rid"), []),
        ("GET", obj_path(bucket, "missing"), []),
        ("GET", "/" + unique_bucket("missing"), []),
        ("DELETE", obj_path(bucket, "missing"), []),
    ]:
        r = raw(method, path, query=query, user="root")
        assert_request_id(r.headers)
        if not MOTO:
            seen.add(r.headers["x-amz-request-id"])
    if not MOTO:
        assert len(seen) == 8, "request ids must be unique per request"


# ----------------------------------------------------------------------------- metadata & headers


def test_user_metadata_and_content_headers(s3, bucket, raw):
    body = gzip.compress(b"compressed text " * 10)
    expires = "Wed, 21 Oct 2037 07:28:00 GMT"
    s3.put_object(
        Bucket=bucket, Key="meta", Body=body,
        Metadata={"color": "blue", "Mixed-Case": "Value With Spaces", "empty-ish": "-"},
        ContentType="application/x-custom; charset=utf-8",
        CacheControl="max-age=3600, must-revalidate",
        ContentDisposition='attachment; filename="report.txt"',
        ContentEncoding="gzip",
        ContentLanguage="de-CH",
        Expires=datetime.datetime(2037, 10, 21, 7, 28, 0, tzinfo=datetime.timezone.utc),
    )
    for resp in (s3.head_object(Bucket=bucket, Key="meta"), s3.get_object(Bucket=bucket, Key="meta")):
        assert resp["Metadata"] == {"color": "blue", "mixed-case": "Value With Spaces", "empty-ish": "-"}
        assert resp["ContentType"] == "application/x-custom; charset=utf-8"
        assert resp["CacheControl"] == "max-age=3600, must-revalidate"
        assert resp["ContentDisposition"] == 'attachment; filename="report.txt"'
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentLanguage"] == "de-CH"
        assert hdrs(resp)["expires"] == expires
        if "Body" in resp:
            assert resp["Body"].read() == body
    r = raw("HEAD", obj_path(bucket, "meta"), user="root")
    assert r.headers["x-amz-meta-color"] == "blue"
    assert r.headers["x-amz-meta-mixed-case"] == "Value With Spaces"


def test_default_content_type(s3, bucket, raw):
    r = raw("PUT", obj_path(bucket, "noct"), body=b"abc", user="root")
    assert r.status == 200, r
    ct = s3.head_object(Bucket=bucket, Key="noct")["ContentType"]
    assert ct in ("binary/octet-stream", "application/octet-stream")


@pytest.mark.sluice_only  # moto does not limit user metadata size
def test_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"m": "v" * 2100})
    assert (err_code(ei.value), err_status(ei.value)) == ("MetadataTooLarge", 400)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="big-meta")
    assert err_status(ei.value) == 404


@pytest.mark.sluice_only  # moto accepts keys longer than 1024 bytes
def test_key_too_long(s3, bucket):
    ok = "/".join(["k" * 200] * 5) + "/" + "k" * 19  # 1024 bytes; segments short (see below)
    assert len(ok) == 1024
    s3.put_object(Bucket=bucket, Key=ok, Body=b"x")
    assert s3.get_object(Bucket=bucket, Key=ok)["Body"].read() == b"x"
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert (err_code(ei.value), err_status(ei.value)) == ("KeyTooLongError", 400)


@pytest.mark.sluice_only  # moto ignores the response-* query overrides
def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ov", Body=b"data", ContentType="text/plain")
    g = s3.get_object(
        Bucket=bucket, Key="ov",
        ResponseContentType="application/json",
        ResponseContentDisposition='inline; filename="x.json"',
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
        ResponseExpires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
    )
    h = hdrs(g)
    assert h["content-type"] == "application/json"
    assert h["content-disposition"] == 'inline; filename="x.json"'
    assert h["cache-control"] == "no-cache"
    assert h["content-language"] == "fr"
    assert h["content-encoding"] == "identity"
    assert h["expires"] == "Tue, 01 Jan 2030 00:00:00 GMT"
    assert g["Body"].read() == b"data"
    # stored metadata is unchanged
    assert s3.head_object(Bucket=bucket, Key="ov")["ContentType"] == "text/plain"


# ----------------------------------------------------------------------------- ranges

DATA100 = bytes(range(100))


@pytest.fixture
def obj100(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=DATA100)
    return bucket


@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=10-", 10, 99),
    ("bytes=-5", 95, 99),
    ("bytes=95-200", 95, 99),   # end past the size is clipped
    ("bytes=0-0", 0, 0),
    ("bytes=99-99", 99, 99),
    ("bytes=-500", 0, 99),      # suffix longer than the object
])
def test_range_get(s3, obj100, rng, start, end):
    g = s3.get_object(Bucket=obj100, Key="r", Range=rng)
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == f"bytes {start}-{end}/100"
    assert g["ContentLength"] == end - start + 1
    assert g["Body"].read() == DATA100[start:end + 1]


@pytest.mark.parametrize("rng", ["bytes=100-", "bytes=150-200"])
def test_range_unsatisfiable(raw, obj100, rng):
    r = raw("GET", obj_path(obj100, "r"), headers={"Range": rng}, user="root")
    assert (r.status, r.code) == (416, "InvalidRange"), r
    if not MOTO:  # moto omits Content-Range on 416
        assert r.headers.get("content-range") == "bytes */100"
    assert_request_id(r.headers)


@pytest.mark.sluice_only  # moto answers 200 with the whole object for a range on an empty object? (S3: 416)
def test_range_on_empty_object(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="e", Body=b"")
    r = raw("GET", obj_path(bucket, "e"), headers={"Range": "bytes=0-0"}, user="root")
    assert (r.status, r.code) == (416, "InvalidRange"), r


def test_range_invalid_syntax_ignored(raw, obj100):
    # RFC 9110: a syntactically invalid Range is ignored -> whole object.  S3 does the same.
    r = raw("GET", obj_path(obj100, "r"), headers={"Range": "bytes=abc"}, user="root")
    assert r.status == 200 and r.body == DATA100


def test_head_with_range(raw, obj100):
    r = raw("HEAD", obj_path(obj100, "r"), headers={"Range": "bytes=0-9"}, user="root")
    assert r.status == 206
    assert r.headers["content-length"] == "10"
    assert r.headers["content-range"] == "bytes 0-9/100"


# ----------------------------------------------------------------------------- conditionals


@pytest.fixture
def cond_obj(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    h = s3.head_object(Bucket=bucket, Key="c")
    return bucket, r["ETag"], h["LastModified"]


def test_if_match(raw, cond_obj):
    bucket, etag, _ = cond_obj
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Match": etag}, user="root")
    assert r.status == 200 and r.body == b"conditional"
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Match": '"0123456789abcdef0123456789abcdef"'}, user="root")
    assert (r.status, r.code) == (412, "PreconditionFailed"), r
    r = raw("HEAD", obj_path(bucket, "c"), headers={"If-Match": '"0123456789abcdef0123456789abcdef"'}, user="root")
    assert r.status == 412


def test_if_match_unquoted(raw, cond_obj):
    bucket, etag, _ = cond_obj
    assert raw("GET", obj_path(bucket, "c"), headers={"If-Match": etag.strip('"')}, user="root").status == 200


def test_if_none_match(raw, cond_obj):
    bucket, etag, _ = cond_obj
    r = raw("GET", obj_path(bucket, "c"), headers={"If-None-Match": etag}, user="root")
    assert r.status == 304, r
    assert r.body == b""
    assert r.headers.get("etag") == etag
    r = raw("HEAD", obj_path(bucket, "c"), headers={"If-None-Match": etag}, user="root")
    assert r.status == 304
    r = raw("GET", obj_path(bucket, "c"), headers={"If-None-Match": '"ffffffffffffffffffffffffffffffff"'},
            user="root")
    assert r.status == 200 and r.body == b"conditional"


def test_if_modified_since(raw, cond_obj):
    bucket, _, lm = cond_obj
    later = http_date(lm + datetime.timedelta(hours=1))
    earlier = http_date(lm - datetime.timedelta(hours=1))
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Modified-Since": later}, user="root")
    assert r.status == 304 and r.body == b""
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Modified-Since": http_date(lm)}, user="root")
    assert r.status == 304
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Modified-Since": earlier}, user="root")
    assert r.status == 200 and r.body == b"conditional"


def test_conditional_dates_far_outside_the_clock_range_keep_their_sense(raw, cond_obj):
    """Dates before 1678 or after 2261 (beyond a nanosecond clock) are compared as the dates they are."""
    bucket, _, _ = cond_obj
    ancient, far = "Sat, 01 Jan 1000 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Modified-Since": ancient}, user="root")
    assert r.status == 200 and r.body == b"conditional"
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Modified-Since": far}, user="root")
    assert r.status == 304
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Unmodified-Since": ancient}, user="root")
    assert (r.status, r.code) == (412, "PreconditionFailed"), r
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Unmodified-Since": far}, user="root")
    assert r.status == 200


@pytest.mark.sluice_only
@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
def test_response_override_with_control_characters_is_refused(raw, cond_obj, value):
    """response-content-type=a%0D%0AX-Injected:%201 must not split the answer (it used to hang the client)."""
    bucket, _, _ = cond_obj
    r = raw("GET", obj_path(bucket, "c"), query=[("response-content-type", value)], user="root", timeout=10)
    assert (r.status, r.code) == (400, "InvalidArgument"), r
    assert "x-injected" not in {k.lower() for k in r.headers}


def test_if_unmodified_since(raw, cond_obj):
    bucket, _, lm = cond_obj
    earlier = http_date(lm - datetime.timedelta(hours=1))
    later = http_date(lm + datetime.timedelta(hours=1))
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Unmodified-Since": earlier}, user="root")
    assert (r.status, r.code) == (412, "PreconditionFailed"), r
    r = raw("GET", obj_path(bucket, "c"), headers={"If-Unmodified-Since": later}, user="root")
    assert r.status == 200 and r.body == b"conditional"


def test_conditionals_via_boto3(s3, cond_obj):
    bucket, etag, lm = cond_obj
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"deadbeefdeadbeefdeadbeefdeadbeef"')
    assert (err_code(ei.value), err_status(ei.value)) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err_status(ei.value) == 304
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=lm - datetime.timedelta(days=1))
    assert err_status(ei.value) == 412
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"


@pytest.mark.sluice_only  # moto evaluates If-Unmodified-Since even when If-Match matches
def test_if_match_overrides_unmodified_since(raw, cond_obj):
    """S3: If-Match true + If-Unmodified-Since false -> 200 (RFC 7232 section 6)."""
    bucket, etag, lm = cond_obj
    r = raw("GET", obj_path(bucket, "c"), user="root",
            headers={"If-Match": etag, "If-Unmodified-Since": http_date(lm - datetime.timedelta(hours=1))})
    assert r.status == 200


def test_if_none_match_overrides_modified_since(raw, cond_obj):
    """S3: If-None-Match false + If-Modified-Since true -> 304."""
    bucket, etag, lm = cond_obj
    r = raw("GET", obj_path(bucket, "c"), user="root",
            headers={"If-None-Match": etag, "If-Modified-Since": http_date(lm - datetime.timedelta(hours=1))})
    assert r.status == 304


# ----------------------------------------------------------------------------- multi-delete


def test_delete_objects(s3, bucket):
    for k in ("a", "b", "dir/c"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "dir/c"}, {"Key": "ghost"}]})
    assert sorted(d["Key"] for d in r.get("Deleted", [])) == ["a", "dir/c", "ghost"]
    assert r.get("Errors", []) == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]


@pytest.mark.sluice_only  # moto lists the deleted keys even in quiet mode
def test_delete_objects_quiet(s3, bucket):
    for k in ("q1", "q2", "keep"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q1"}, {"Key": "q2"}], "Quiet": True})
    assert r.get("Deleted", []) == []
    assert r.get("Errors", []) == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]


def test_delete_objects_many(s3, bucket):
    keys = [f"many/{i:04d}" for i in range(150)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert len(r["Deleted"]) == 150
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_delete_objects_missing_bucket(s3):
    with pytest.raises(ClientError) as ei:
        s3.delete_objects(Bucket=unique_bucket("missing"), Delete={"Objects": [{"Key": "a"}]})
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchBucket", 404)


# ----------------------------------------------------------------------------- copy


@pytest.fixture
def src_obj(s3, bucket):
    body = b"source body " * 100
    r = s3.put_object(Bucket=bucket, Key="src", Body=body, ContentType="text/x-src",
                      Metadata={"origin": "source"}, CacheControl="max-age=5")
    lm = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    return bucket, body, r["ETag"], lm


def test_copy_metadata_copy(s3, src_obj):
    bucket, body, etag, _ = src_obj
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == etag
    g = s3.get_object(Bucket=bucket, Key="dst")
    assert g["Body"].read() == body
    assert g["Metadata"] == {"origin": "source"}
    assert g["ContentType"] == "text/x-src"
    assert g["CacheControl"] == "max-age=5"
    assert g["ETag"] == etag


def test_copy_metadata_replace(s3, src_obj):
    bucket, body, _, _ = src_obj
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"new": "meta"}, ContentType="text/x-new")
    h = s3.head_object(Bucket=bucket, Key="dst")
    assert h["Metadata"] == {"new": "meta"}
    assert h["ContentType"] == "text/x-new"
    assert "CacheControl" not in h
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == body
    # source untouched
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"origin": "source"}


def test_copy_across_buckets_and_odd_key(s3, src_obj):
    bucket, body, _, _ = src_obj
    odd = "sp ace/ünï+%&=?.txt"
    s3.copy_object(Bucket=bucket, Key=odd, CopySource={"Bucket": bucket, "Key": "src"})
    other = unique_bucket()
    s3.create_bucket(Bucket=other)
    try:
        s3.copy_object(Bucket=other, Key="copied", CopySource={"Bucket": bucket, "Key": odd})
        assert s3.get_object(Bucket=other, Key="copied")["Body"].read() == body
    finally:
        s3.delete_object(Bucket=other, Key="copied")
        s3.delete_bucket(Bucket=other)


def test_copy_missing_source(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": unique_bucket("missing"), "Key": "x"})
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchBucket", 404)


@pytest.mark.sluice_only  # moto ignores x-amz-copy-source-if-* headers
def test_copy_conditions(s3, src_obj):
    bucket, body, etag, lm = src_obj
    src = {"Bucket": bucket, "Key": "src"}
    hour = datetime.timedelta(hours=1)
    failing = [
        {"CopySourceIfMatch": '"00000000000000000000000000000000"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": lm + hour},
        {"CopySourceIfUnmodifiedSince": lm - hour},
    ]
    for kw in failing:
        with pytest.raises(ClientError) as ei:
            s3.copy_object(Bucket=bucket, Key="dst-fail", CopySource=src, **kw)
        assert (err_code(ei.value), err_status(ei.value)) == ("PreconditionFailed", 412), kw
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="dst-fail")
    assert err_status(ei.value) == 404
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"00000000000000000000000000000000"'},
        {"CopySourceIfModifiedSince": lm - hour},
        {"CopySourceIfUnmodifiedSince": lm + hour},
    ]
    for i, kw in enumerate(passing):
        s3.copy_object(Bucket=bucket, Key=f"dst-ok-{i}", CopySource=src, **kw)
        assert s3.get_object(Bucket=bucket, Key=f"dst-ok-{i}")["Body"].read() == body, kw


def test_self_copy_replace_changes_metadata(s3, src_obj):
    bucket, body, etag, _ = src_obj
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"changed": "yes"}, ContentType="text/x-changed")
    h = s3.head_object(Bucket=bucket, Key="src")
    assert h["Metadata"] == {"changed": "yes"}
    assert h["ContentType"] == "text/x-changed"
    assert h["ETag"] == etag
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == body


def test_self_copy_without_change_rejected(s3, src_obj):
    bucket, body, _, _ = src_obj
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert (err_code(ei.value), err_status(ei.value)) == ("InvalidRequest", 400)
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == body


def test_copy_with_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tsrc", Body=b"t", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="tcopy", CopySource={"Bucket": bucket, "Key": "tsrc"})
    assert s3.get_object_tagging(Bucket=bucket, Key="tcopy")["TagSet"] == [{"Key": "a", "Value": "1"}]
    s3.copy_object(Bucket=bucket, Key="treplace", CopySource={"Bucket": bucket, "Key": "tsrc"},
                   TaggingDirective="REPLACE", Tagging="b=2")
    assert s3.get_object_tagging(Bucket=bucket, Key="treplace")["TagSet"] == [{"Key": "b", "Value": "2"}]


# ----------------------------------------------------------------------------- tagging


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="project=sluice&note=two%20words")
    tags = s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("note", "two words"), ("project", "sluice")]
    assert s3.get_object(Bucket=bucket, Key="tagged")["TagCount"] == 2

    s3.put_object_tagging(Bucket=bucket, Key="tagged",
                          Tagging={"TagSet": [{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": ""}]})
    tags = s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("k1", "v1"), ("k2", "")]
    h = s3.head_object(Bucket=bucket, Key="tagged")
    assert hdrs(h).get("x-amz-tagging-count") == "2"

    d = s3.delete_object_tagging(Bucket=bucket, Key="tagged")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="tagged")["Body"].read() == b"x"


def test_tagging_missing_object(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.get_object_tagging(Bucket=bucket, Key="ghost")
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.put_object_tagging(Bucket=bucket, Key="ghost", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchKey", 404)


@pytest.mark.sluice_only  # moto accepts 11 tags
def test_too_many_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.put_object_tagging(Bucket=bucket, Key="t",
                              Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert err_status(ei.value) == 400
    assert err_code(ei.value) in ("BadRequest", "InvalidTag")


# ----------------------------------------------------------------------------- odd keys

ODD_KEYS = [
    "with space.txt",
    "unicode-ñ-日本語-🚀.bin",
    "percent%20literal%",
    "plus+sign+",
    "amp&er=sand?q#frag",
    "dir/",
    "dir/sub/file",
    "~tilde!$'()*,;:@[]",
    "quote\"back\\slash",
    "x" * 200 + "/" + "y" * 200,
]


@pytest.mark.parametrize("key", ODD_KEYS, ids=range(len(ODD_KEYS)))
def test_odd_keys(s3, bucket, key):
    data = ("content of " + key).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize("key", ["a//double//slash", "seg/" + "x" * 300, "/leading-slash"])
def test_keys_minio_may_refuse(s3, bucket, key):
    """S3 stores these keys; MinIO (file-per-object layout) refuses them with 400
    XMinioInvalidObjectName.  Either is fine -- storing them wrongly or failing uncleanly is not."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"edge")
    except ClientError as e:
        assert (err_code(e), err_status(e)) == ("XMinioInvalidObjectName", 400), e
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        return
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"edge"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_dir_object_and_file_coexist(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d/", Body=b"")
    s3.put_object(Bucket=bucket, Key="d", Body=b"file")
    s3.put_object(Bucket=bucket, Key="d/inner", Body=b"inner")
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"file"
    assert s3.get_object(Bucket=bucket, Key="d/")["Body"].read() == b""
    assert s3.get_object(Bucket=bucket, Key="d/inner")["Body"].read() == b"inner"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d", "d/", "d/inner"]
    s3.delete_object(Bucket=bucket, Key="d/")
    assert s3.get_object(Bucket=bucket, Key="d/inner")["Body"].read() == b"inner"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d", "d/inner"]


def test_object_and_prefix_same_name(s3, bucket):
    """'a' as an object and 'a/b' as another must both work (file vs directory on disk)."""
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"ab")
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a"
    assert s3.get_object(Bucket=bucket, Key="a/b")["Body"].read() == b"ab"
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="a/b/c")
    assert err_code(ei.value) == "NoSuchKey"


def _files_outside(root, datadir, marker):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.abspath(dirpath).startswith(os.path.abspath(datadir)):
            continue
        for n in filenames + dirnames:
            if marker in n:
                found.append(os.path.join(dirpath, n))
    return found


@pytest.mark.sluice_only  # moto is in-memory (no filesystem to escape from)
@pytest.mark.parametrize("wire_key", [
    "..%2F{m}",                 # key "../m"
    "a%2F..%2F..%2F{m}",        # key "a/../../m"
    "..%2F..%2F..%2F..%2F{m}",
    "../{m}",                   # literal dot segments on the wire
    "a/../../{m}",
    "%2E%2E/%2E%2E/{m}",
])
def test_path_traversal_rejected(server, s3, bucket, wire_key):
    marker = "escape-" + os.urandom(4).hex()
    path = f"/{bucket}/" + wire_key.format(m=marker)
    r = server.request("PUT", path, body=b"evil", user="root")
    # MinIO answers 400 (XMinioInvalidObjectName); anything but success is clean enough, 5xx is not.
    assert 400 <= r.status < 500, r
    server.assert_healthy()
    assert _files_outside(server.workdir.parent, server.datadir, marker) == []
    base = server.datadir / bucket / "x" / "y"
    for depth in range(8):  # every directory a "../" chain could reach from the data dir
        base = base.parent
        assert not (base / marker).exists(), base / marker
    # and nothing can be read back through the same path
    r = server.request("GET", path, user="root")
    assert r.status >= 400
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not any(marker in k for k in keys), keys
