"""Bucket operations: list, create (name rules, conflicts), head, delete, location."""

import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import MOTO, S3NS, assert_request_id, delete_bucket_fully, err_code, err_status, obj_path, unique_bucket


def test_create_list_head_delete(s3):
    name = unique_bucket()
    r = s3.create_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["Location"] == f"/{name}"
    try:
        listed = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
        assert name in listed
        created = listed[name]["CreationDate"]
        now = datetime.datetime.now(datetime.timezone.utc)
        assert abs((now - created).total_seconds()) < 300, created
        h = s3.head_bucket(Bucket=name)
        assert h["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        s3.delete_bucket(Bucket=name)
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert err_status(ei.value) == 404


@pytest.mark.sluice_only  # moto lists buckets in creation order, S3/MinIO sort them
def test_list_buckets_sorted_and_owner(s3):
    names = sorted(unique_bucket() for _ in range(3))
    for n in reversed(names):
        s3.create_bucket(Bucket=n)
    try:
        r = s3.list_buckets()
        got = [b["Name"] for b in r["Buckets"]]
        assert got == sorted(got), "ListBuckets must be in lexical order"
        for n in names:
            assert n in got
        assert "Owner" in r and r["Owner"].get("ID")
    finally:
        for n in names:
            s3.delete_bucket(Bucket=n)


# moto only checks the length; the other rules are S3/MinIO's and marked sluice_only.
_SO = pytest.mark.sluice_only


@pytest.mark.parametrize("name", [
    "ab",                      # too short
    "a" * 64,                  # too long
    pytest.param("UpperCase", marks=_SO),
    pytest.param("under_score", marks=_SO),
    pytest.param("-leading-dash", marks=_SO),
    pytest.param("trailing-dash-", marks=_SO),
    pytest.param("double..dot", marks=_SO),
    pytest.param("192.168.10.20", marks=_SO),  # looks like an IP address
    pytest.param(".leading-dot", marks=_SO),
])
def test_create_invalid_name(raw, s3, name):
    r = raw("PUT", "/" + name, user="root")
    assert (r.status, r.code) == (400, "InvalidBucketName"), r
    assert_request_id(r.headers)
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_create_valid_edge_names(s3):
    for name in ("abc", "a" * 63, "with.dots.ok", "0-digits-first"):
        s3.create_bucket(Bucket=name)
        try:
            s3.head_bucket(Bucket=name)
        finally:
            s3.delete_bucket(Bucket=name)


@pytest.mark.sluice_only  # moto (us-east-1) answers 200 and keeps the bucket; MinIO answers 409
def test_create_existing_own(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=bucket)
    assert err_code(ei.value) == "BucketAlreadyOwnedByYou"
    assert err_status(ei.value) == 409


@pytest.mark.sluice_only  # moto has no per-user ownership
def test_create_existing_other_user(s3_alice, s3_bob):
    name = unique_bucket("alice")
    s3_alice.create_bucket(Bucket=name)
    try:
        with pytest.raises(ClientError) as ei:
            s3_bob.create_bucket(Bucket=name)
        assert err_code(ei.value) == "BucketAlreadyExists"
        assert err_status(ei.value) == 409
    finally:
        delete_bucket_fully(s3_alice, name)


@pytest.mark.sluice_only  # moto has no per-user ownership
def test_list_buckets_per_user(s3, s3_alice, s3_bob):
    a = unique_bucket("alice")
    b = unique_bucket("bob")
    s3_alice.create_bucket(Bucket=a)
    s3_bob.create_bucket(Bucket=b)
    try:
        alice_sees = {x["Name"] for x in s3_alice.list_buckets()["Buckets"]}
        bob_sees = {x["Name"] for x in s3_bob.list_buckets()["Buckets"]}
        root_sees = {x["Name"] for x in s3.list_buckets()["Buckets"]}
        assert a in alice_sees and b not in alice_sees
        assert b in bob_sees and a not in bob_sees
        assert {a, b} <= root_sees
    finally:
        delete_bucket_fully(s3_alice, a)
        delete_bucket_fully(s3_bob, b)


def test_head_missing_bucket(s3, raw):
    name = unique_bucket("missing")
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert err_status(ei.value) == 404
    r = raw("HEAD", "/" + name, user="root")
    assert r.status == 404
    assert r.body == b""
    assert_request_id(r.headers)


def test_delete_missing_bucket(s3):
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=unique_bucket("missing"))
    assert err_code(ei.value) == "NoSuchBucket"
    assert err_status(ei.value) == 404


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=bucket)
    assert err_code(ei.value) == "BucketNotEmpty"
    assert err_status(ei.value) == 409
    s3.head_bucket(Bucket=bucket)  # still there
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"1"
    s3.delete_object(Bucket=bucket, Key="x")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=bucket)
    assert err_status(ei.value) == 404


@pytest.mark.sluice_only  # moto lets DeleteBucket through while a multipart upload is open
def test_delete_bucket_with_open_upload_is_not_silent(s3, bucket):
    """An open multipart upload must not be silently lost: MinIO refuses (BucketNotEmpty) or aborts it."""
    up = s3.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    try:
        s3.delete_bucket(Bucket=bucket)
    except ClientError as e:
        assert err_code(e) == "BucketNotEmpty"
        s3.abort_multipart_upload(Bucket=bucket, Key="pending", UploadId=up)
        return
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)


def test_get_bucket_location(s3, bucket, raw):
    r = s3.get_bucket_location(Bucket=bucket)
    assert r["LocationConstraint"] in (None, "us-east-1")
    rr = raw("GET", "/" + bucket, query=[("location", "")], user="root")
    assert rr.status == 200
    assert rr.xml.tag == S3NS + "LocationConstraint"


def test_get_bucket_location_missing(s3):
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_location(Bucket=unique_bucket("missing"))
    assert err_code(ei.value) == "NoSuchBucket"
    assert err_status(ei.value) == 404


def test_recreate_after_delete(s3):
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"old")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    try:
        assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    finally:
        s3.delete_bucket(Bucket=name)


def test_error_body_shape(raw):
    name = unique_bucket("missing")
    r = raw("GET", obj_path(name, "some/key"), user="root")
    assert r.status == 404
    assert r.code == "NoSuchBucket"
    assert r.headers.get("content-type", "").startswith(("application/xml", "text/xml"))
    root = r.xml
    assert root.tag == "Error"
    assert root.findtext("BucketName") in (name, None)
    assert_request_id(r.headers)
    if not MOTO:
        assert root.findtext("RequestId") == r.headers["x-amz-request-id"]


@pytest.mark.skipif(MOTO, reason="Sluice's own stream bucket")
def test_stream_bucket_is_read_only_over_s3(s3):
    """The local stream engine's bucket can be read (operators inspect it) but no S3 request changes it,
    not even the root user's: deleting its objects would destroy the Kafka topics' data."""
    stream = "sluice-stream"
    assert stream in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    s3.head_bucket(Bucket=stream)
    s3.list_objects_v2(Bucket=stream)
    attempts = {
        "put": lambda: s3.put_object(Bucket=stream, Key="x", Body=b"x"),
        "delete": lambda: s3.delete_object(Bucket=stream, Key="x"),
        "delete-objects": lambda: s3.delete_objects(Bucket=stream, Delete={"Objects": [{"Key": "x"}]}),
        "delete-bucket": lambda: s3.delete_bucket(Bucket=stream),
        "multipart": lambda: s3.create_multipart_upload(Bucket=stream, Key="x"),
        "versioning": lambda: s3.put_bucket_versioning(Bucket=stream,
                                                       VersioningConfiguration={"Status": "Enabled"}),
        "policy": lambda: s3.put_bucket_policy(Bucket=stream, Policy="{}"),
        "notification": lambda: s3.put_bucket_notification_configuration(
            Bucket=stream, NotificationConfiguration={}),
        "tagging": lambda: s3.put_object_tagging(Bucket=stream, Key="x", Tagging={"TagSet": []}),
    }
    for name, call in attempts.items():
        with pytest.raises(ClientError) as ei:
            call()
        assert err_code(ei.value) == "AccessDenied", name
        assert "stream data" in ei.value.response["Error"].get("Message", ""), name
    # Reading its objects through S3 still works.
    for o in s3.list_objects_v2(Bucket=stream).get("Contents", [])[:1]:
        s3.head_object(Bucket=stream, Key=o["Key"])
