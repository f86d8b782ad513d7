"""Authentication and authorization: presigned URLs, signature errors, clock skew, anonymous access,
browser POST uploads, and per-user bucket ownership.

moto accepts any credentials and signature, so almost everything here is sluice_only; the presigned
URL / POST tests that only check the happy path run against moto too."""

import datetime
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (MOTO, USERS, delete_bucket_fully, err_code, err_status, obj_path, presign_v4, sign_v4,
                      unique_bucket)


def xml_code(resp):
    import xml.etree.ElementTree as ET
    try:
        return ET.fromstring(resp.content).findtext("Code")
    except ET.ParseError:
        return None


def amz_date(delta=datetime.timedelta()):
    return (datetime.datetime.now(datetime.timezone.utc) + delta).strftime("%Y%m%dT%H%M%SZ")


# ----------------------------------------------------------------------------- presigned URLs


def test_presigned_get_and_put(s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"presigned content")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=300)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    assert r.content == b"presigned content"

    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up loaded.bin"},
                                        ExpiresIn=300)
    r = requests.put(put_url, data=b"\x00\x01binary\xff", timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="up loaded.bin")["Body"].read() == b"\x00\x01binary\xff"


def test_presigned_with_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="f.bin", Body=b"abc")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "f.bin", "ResponseContentDisposition": 'attachment; filename="x.txt"',
        "ResponseContentType": "text/plain"}, ExpiresIn=60)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"abc"
    if not MOTO:  # moto ignores response-* overrides
        assert r.headers["Content-Disposition"] == 'attachment; filename="x.txt"'
        assert r.headers["Content-Type"] == "text/plain"


def test_handmade_presigned_url(server, s3, bucket):
    """A presigned URL built without botocore (checks the server's canonicalization independently)."""
    key = "dir/hand made+%.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"hand")
    url = presign_v4("GET", server.host, obj_path(bucket, key), *USERS["root"], scheme=server.scheme)
    r = requests.get(url, timeout=30, verify=server.cafile or True)
    assert r.status_code == 200, r.text
    assert r.content == b"hand"


@pytest.mark.sluice_only  # moto does not check expiry of presigned URLs
def test_presigned_expired(s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"}, ExpiresIn=1)
    time.sleep(2.1)
    r = requests.get(url, timeout=30)
    assert r.status_code == 403
    assert xml_code(r) == "AccessDenied"


@pytest.mark.sluice_only
def test_presigned_expired_handmade(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp2", Body=b"x")
    url = presign_v4("GET", server.host, obj_path(bucket, "exp2"), *USERS["root"], expires=60,
                     amz_date=amz_date(-datetime.timedelta(minutes=10)))
    r = requests.get(url, timeout=30)
    assert r.status_code == 403 and xml_code(r) == "AccessDenied", r.text


@pytest.mark.sluice_only
def test_presigned_expires_too_long(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="long", Body=b"x")
    url = presign_v4("GET", server.host, obj_path(bucket, "long"), *USERS["root"], expires=604801)
    r = requests.get(url, timeout=30)
    assert r.status_code == 400 and xml_code(r) == "AuthorizationQueryParametersError", r.text


@pytest.mark.sluice_only
def test_presigned_tampered(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t1", Body=b"one")
    s3.put_object(Bucket=bucket, Key="t2", Body=b"two")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "t1"}, ExpiresIn=60)
    r = requests.get(url.replace("/t1?", "/t2?"), timeout=30)
    assert r.status_code == 403 and xml_code(r) == "SignatureDoesNotMatch", r.text
    sig = url.rsplit("X-Amz-Signature=", 1)[1]
    bad = url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    r = requests.get(bad, timeout=30)
    assert r.status_code == 403 and xml_code(r) == "SignatureDoesNotMatch", r.text


@pytest.mark.sluice_only
def test_presigned_put_wrong_method(s3, bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "m"}, ExpiresIn=60)
    r = requests.put(url, data=b"sneaky", timeout=30)
    assert r.status_code == 403 and xml_code(r) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="m")


# ----------------------------------------------------------------------------- header auth errors


@pytest.mark.sluice_only  # moto accepts any secret
def test_wrong_secret(server, bucket):
    bad = server.client(creds=(USERS["root"][0], "not-the-right-secret"))
    for call in (lambda: bad.list_buckets(), lambda: bad.put_object(Bucket=bucket, Key="k", Body=b"x"),
                 lambda: bad.list_objects_v2(Bucket=bucket)):
        with pytest.raises(ClientError) as ei:
            call()
        assert (err_code(ei.value), err_status(ei.value)) == ("SignatureDoesNotMatch", 403)


@pytest.mark.sluice_only
def test_unknown_access_key(server, bucket):
    bad = server.client(creds=("NOSUCHACCESSKEY", "whatever-secret"))
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert (err_code(ei.value), err_status(ei.value)) == ("InvalidAccessKeyId", 403)
    with pytest.raises(ClientError) as ei:
        bad.get_object(Bucket=bucket, Key="x")
    assert (err_code(ei.value), err_status(ei.value)) == ("InvalidAccessKeyId", 403)


@pytest.mark.sluice_only
@pytest.mark.parametrize("delta", [datetime.timedelta(hours=1), -datetime.timedelta(hours=1)])
def test_request_time_too_skewed(server, bucket, delta):
    r = server.request("GET", "/" + bucket, query=[("list-type", "2")], user="root", amz_date=amz_date(delta))
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), r


@pytest.mark.sluice_only
def test_small_skew_accepted(server, bucket):
    r = server.request("GET", "/" + bucket, query=[("list-type", "2")], user="root",
                       amz_date=amz_date(datetime.timedelta(minutes=3)))
    assert r.status == 200, r


@pytest.mark.sluice_only
def test_wrong_region_in_scope(server, bucket):
    headers = {"Host": server.host}
    import hashlib
    sign_v4("GET", "/" + bucket, [], headers, hashlib.sha256(b"").hexdigest(), *USERS["root"], region="eu-west-1")
    r = server.request("GET", "/" + bucket, headers=headers)
    assert r.status == 400 and r.code == "AuthorizationHeaderMalformed", r


@pytest.mark.sluice_only
@pytest.mark.parametrize("auth", [
    "AWS4-HMAC-SHA256 garbage",
    "AWS4-HMAC-SHA256 Credential=sluiceroot/20240101/us-east-1/s3/aws4_request",
    "Bearer abc",
])
def test_malformed_authorization(server, bucket, auth):
    r = server.request("GET", "/" + bucket, headers={"Authorization": auth, "x-amz-date": amz_date(),
                                                     "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert 400 <= r.status < 500 and r.status != 404, r
    assert r.code in ("AuthorizationHeaderMalformed", "MissingFields", "InvalidArgument", "AccessDenied",
                      "SignatureDoesNotMatch", "InvalidRequest", "SignatureVersionNotSupported",
                      "MissingSecurityHeader"), r
    server.assert_healthy()


@pytest.mark.sluice_only
def test_signed_header_modified(server, bucket):
    """A header covered by SignedHeaders changed after signing -> SignatureDoesNotMatch."""
    import hashlib
    headers = {"Host": server.host, "x-amz-meta-a": "original"}
    sign_v4("PUT", obj_path(bucket, "sm"), [], headers, hashlib.sha256(b"x").hexdigest(), *USERS["root"])
    headers["x-amz-meta-a"] = "changed"
    r = server.request("PUT", obj_path(bucket, "sm"), headers=headers, body=b"x")
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r


# ----------------------------------------------------------------------------- anonymous access


@pytest.mark.sluice_only  # moto serves anonymous requests
def test_anonymous_denied(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    for method, path, query, body in [
        ("GET", obj_path(bucket, "private"), [], b""),
        ("HEAD", obj_path(bucket, "private"), [], b""),
        ("GET", "/" + bucket, [("list-type", "2")], b""),
        ("PUT", obj_path(bucket, "anon"), [], b"anon"),
        ("DELETE", obj_path(bucket, "private"), [], b""),
        ("GET", "/", [], b""),
        ("PUT", "/" + unique_bucket("anon"), [], b""),
    ]:
        r = server.request(method, path, query=query, body=body)
        assert r.status == 403, (method, path, r)
        if method != "HEAD":
            assert r.code == "AccessDenied", (method, path, r)
    assert s3.get_object(Bucket=bucket, Key="private")["Body"].read() == b"secret"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="anon")


@pytest.mark.sluice_only
def test_health_endpoint_is_anonymous(server):
    r = server.request("GET", "/minio/health/live")
    assert r.status == 200


# ----------------------------------------------------------------------------- POST object (browser upload)


def test_post_object(s3, bucket):
    post = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"Content-Type": "image/jpeg", "x-amz-meta-source": "browser"},
        Conditions=[["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1024 * 1024],
                    {"Content-Type": "image/jpeg"}, {"x-amz-meta-source": "browser"}],
        ExpiresIn=300)
    data = b"\xff\xd8\xff fake jpeg bytes"
    r = requests.post(post["url"], data=post["fields"], files={"file": ("rose.jpg", data, "image/jpeg")}, timeout=30)
    assert r.status_code == 204, r.text
    g = s3.get_object(Bucket=bucket, Key="uploads/rose.jpg")
    assert g["Body"].read() == data
    assert g["ContentType"] == "image/jpeg"
    assert g["Metadata"] == {"source": "browser"}


def test_post_object_success_status_201(s3, bucket):
    post = s3.generate_presigned_post(bucket, "p201.txt", Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}], ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("x", b"created")}, timeout=30)
    assert r.status_code == 201, r.text
    if not MOTO:  # moto answers 201 with an empty body; S3 sends a PostResponse document
        import xml.etree.ElementTree as ET
        root = ET.fromstring(r.content)
        assert root.tag.endswith("PostResponse")
        assert (root.findtext("Key") or root.findtext("{*}Key")) == "p201.txt"
    assert s3.get_object(Bucket=bucket, Key="p201.txt")["Body"].read() == b"created"


@pytest.mark.sluice_only  # moto does not enforce POST policies
def test_post_object_policy_violations(s3, bucket):
    post = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Conditions=[["starts-with", "$key", "uploads/"], ["content-length-range", 1, 100]], ExpiresIn=300)
    # key outside the allowed prefix
    fields = dict(post["fields"], key="elsewhere/evil.txt")
    r = requests.post(post["url"], data=fields, files={"file": ("evil.txt", b"evil")}, timeout=30)
    assert r.status_code == 403 and xml_code(r) == "AccessDenied", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="elsewhere/evil.txt")
    # too large for content-length-range
    r = requests.post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 101)}, timeout=30)
    assert r.status_code == 400 and xml_code(r) == "EntityTooLarge", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="uploads/big.txt")
    # tampered policy signature
    fields = dict(post["fields"])
    sig_field = "x-amz-signature" if "x-amz-signature" in fields else "signature"
    fields[sig_field] = "0" * len(fields[sig_field])
    r = requests.post(post["url"], data=fields, files={"file": ("s.txt", b"x")}, timeout=30)
    assert r.status_code == 403 and xml_code(r) == "SignatureDoesNotMatch", r.text


@pytest.mark.sluice_only
@pytest.mark.parametrize("bounds", [["abc", 10], ["", 10], [-1, 10], [10, 1]])
def test_post_object_malformed_size_range(s3, bucket, bounds):
    """A signed policy whose content-length-range is not two ordered non-negative integers is malformed (400)."""
    post = s3.generate_presigned_post(bucket, "range.txt", Conditions=[["content-length-range", *bounds]],
                                      ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("range.txt", b"five")}, timeout=30)
    assert r.status_code == 400 and xml_code(r) == "MalformedPOSTRequest", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="range.txt")


@pytest.mark.sluice_only
@pytest.mark.parametrize("field", ["x-amz-meta-note", "Content-Disposition", "success_action_redirect"])
def test_post_object_refuses_fields_that_would_inject_headers(s3, bucket, field):
    """A form field becomes a header of later answers; CR/LF in it would let the uploader forge headers or a
    body in every download of the object (response splitting)."""
    evil = "http://example.com/\r\nX-Injected: 1\r\n\r\nforged" if field == "success_action_redirect" \
        else "a\r\nX-Injected: 1"
    post = s3.generate_presigned_post(bucket, "inject.txt", Fields={field: evil},
                                      Conditions=[{field: evil}], ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("inject.txt", b"x")}, timeout=30,
                      allow_redirects=False)
    assert r.status_code == 400 and xml_code(r) == "InvalidArgument", r.text
    assert "X-Injected" not in r.headers
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="inject.txt")


@pytest.mark.sluice_only
def test_post_object_expired_policy(s3, bucket):
    post = s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=1)
    time.sleep(2.1)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("late.txt", b"late")}, timeout=30)
    assert r.status_code == 403 and xml_code(r) == "AccessDenied", r.text


# ----------------------------------------------------------------------------- users and ownership


@pytest.fixture
def alice_bucket(s3_alice):
    name = unique_bucket("alice")
    s3_alice.create_bucket(Bucket=name)
    s3_alice.put_object(Bucket=name, Key="diary.txt", Body=b"alice's secrets")
    yield name
    delete_bucket_fully(s3_alice, name)


@pytest.mark.sluice_only  # moto has no users
def test_other_user_denied(s3_bob, s3_alice, alice_bucket):
    calls = {
        "get": lambda: s3_bob.get_object(Bucket=alice_bucket, Key="diary.txt"),
        "list2": lambda: s3_bob.list_objects_v2(Bucket=alice_bucket),
        "list1": lambda: s3_bob.list_objects(Bucket=alice_bucket),
        "put": lambda: s3_bob.put_object(Bucket=alice_bucket, Key="graffiti", Body=b"bob was here"),
        "delete": lambda: s3_bob.delete_object(Bucket=alice_bucket, Key="diary.txt"),
        "delete_objects": lambda: s3_bob.delete_objects(Bucket=alice_bucket, Delete={"Objects": [{"Key": "diary.txt"}]}),
        "copy_out": lambda: s3_bob.copy_object(Bucket=alice_bucket, Key="copy",
                                               CopySource={"Bucket": alice_bucket, "Key": "diary.txt"}),
        "delete_bucket": lambda: s3_bob.delete_bucket(Bucket=alice_bucket),
        "mpu": lambda: s3_bob.create_multipart_upload(Bucket=alice_bucket, Key="mpu"),
        "tagging": lambda: s3_bob.put_object_tagging(Bucket=alice_bucket, Key="diary.txt",
                                                     Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as ei:
            call()
        assert (err_code(ei.value), err_status(ei.value)) == ("AccessDenied", 403), name
    with pytest.raises(ClientError) as ei:
        s3_bob.head_bucket(Bucket=alice_bucket)
    assert err_status(ei.value) == 403
    with pytest.raises(ClientError) as ei:
        s3_bob.head_object(Bucket=alice_bucket, Key="diary.txt")
    assert err_status(ei.value) == 403
    # nothing changed
    assert s3_alice.get_object(Bucket=alice_bucket, Key="diary.txt")["Body"].read() == b"alice's secrets"
    assert [o["Key"] for o in s3_alice.list_objects_v2(Bucket=alice_bucket)["Contents"]] == ["diary.txt"]
    assert s3_alice.get_object_tagging(Bucket=alice_bucket, Key="diary.txt")["TagSet"] == []


@pytest.mark.sluice_only
def test_cross_user_copy_denied(s3_bob, alice_bucket):
    mine = unique_bucket("bob")
    s3_bob.create_bucket(Bucket=mine)
    try:
        with pytest.raises(ClientError) as ei:
            s3_bob.copy_object(Bucket=mine, Key="stolen", CopySource={"Bucket": alice_bucket, "Key": "diary.txt"})
        assert (err_code(ei.value), err_status(ei.value)) == ("AccessDenied", 403)
        with pytest.raises(ClientError):
            s3_bob.head_object(Bucket=mine, Key="stolen")
    finally:
        delete_bucket_fully(s3_bob, mine)


@pytest.mark.sluice_only
def test_presigned_by_other_user_denied(s3_bob, alice_bucket):
    url = s3_bob.generate_presigned_url("get_object", Params={"Bucket": alice_bucket, "Key": "diary.txt"},
                                        ExpiresIn=60)
    r = requests.get(url, timeout=30)
    assert r.status_code == 403 and xml_code(r) == "AccessDenied"


@pytest.mark.sluice_only
def test_root_can_access_user_bucket(s3, alice_bucket):
    assert s3.get_object(Bucket=alice_bucket, Key="diary.txt")["Body"].read() == b"alice's secrets"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=alice_bucket)["Contents"]] == ["diary.txt"]
    s3.put_object(Bucket=alice_bucket, Key="from-root", Body=b"r")
    s3.delete_object(Bucket=alice_bucket, Key="from-root")
    s3.head_bucket(Bucket=alice_bucket)


@pytest.mark.sluice_only
def test_user_owns_own_bucket(s3_alice, s3_bob):
    b = unique_bucket("bob")
    s3_bob.create_bucket(Bucket=b)
    try:
        s3_bob.put_object(Bucket=b, Key="k", Body=b"bob")
        assert s3_bob.get_object(Bucket=b, Key="k")["Body"].read() == b"bob"
        with pytest.raises(ClientError) as ei:
            s3_alice.get_object(Bucket=b, Key="k")
        assert err_code(ei.value) == "AccessDenied"
    finally:
        delete_bucket_fully(s3_bob, b)
