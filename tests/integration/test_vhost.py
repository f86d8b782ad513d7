"""Virtual-host-style addressing (`Host: <bucket>.<s3.domain>`), next to path style on one server.

`bucket.localhost` need not resolve here, so requests go to 127.0.0.1 with the Host header set (raw
requests), and boto3's virtual addressing is redirected to 127.0.0.1 by a before-send hook that keeps
the signed Host header."""

import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import S3NS, err_status, s3quote

# moto understands bucket.localhost Host headers too, so only the multi-user test is sluice_only.

DOMAIN = "localhost"


@pytest.fixture(scope="module")
def vsrv(tmp_path_factory):
    from conftest import Server
    srv = Server(tmp_path_factory.mktemp("vhost") / "srv", name="vhost", domain=DOMAIN)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def vhost(srv, bucket):
    return f"{bucket}.{DOMAIN}:{srv.port}"


def _redirect_to_loopback(srv):
    def hook(request, **kwargs):
        u = urllib.parse.urlsplit(request.url)
        request.headers["Host"] = u.netloc
        request.url = urllib.parse.urlunsplit((u.scheme, f"127.0.0.1:{srv.port}", u.path, u.query, ""))
    return hook


@pytest.fixture(scope="module")
def vs3(vsrv):
    import boto3
    from botocore.config import Config
    from conftest import REGION, USERS
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=f"http://{DOMAIN}:{vsrv.port}", aws_access_key_id=USERS["root"][0],
        aws_secret_access_key=USERS["root"][1],
        config=Config(region_name=REGION, signature_version="s3v4", s3={"addressing_style": "virtual"},
                      retries={"total_max_attempts": 1}))
    s3.meta.events.register("before-send.s3", _redirect_to_loopback(vsrv))
    return s3


def test_raw_virtual_host_requests(vsrv):
    b = "vhost-raw"
    host = vhost(vsrv, b)
    r = vsrv.request("PUT", "/", host=host, user="root")
    assert r.status == 200, r
    r = vsrv.request("HEAD", "/", host=host, user="root")
    assert r.status == 200, r
    r = vsrv.request("PUT", "/" + s3quote("dir/hello world.txt"), host=host, body=b"vhost body", user="root",
                     headers={"Content-Type": "text/plain"})
    assert r.status == 200, r
    r = vsrv.request("GET", "/" + s3quote("dir/hello world.txt"), host=host, user="root")
    assert (r.status, r.body) == (200, b"vhost body")
    assert r.headers["content-type"] == "text/plain"
    r = vsrv.request("GET", "/", query=[("list-type", "2"), ("prefix", "dir/")], host=host, user="root")
    assert r.status == 200, r
    assert [c.findtext(S3NS + "Key") for c in r.xml.findall(S3NS + "Contents")] == ["dir/hello world.txt"]
    assert r.xml.findtext(S3NS + "Name") == b
    # the same object through path style on the same server
    r = vsrv.request("GET", f"/{b}/" + s3quote("dir/hello world.txt"), user="root")
    assert (r.status, r.body) == (200, b"vhost body")
    r = vsrv.request("DELETE", "/" + s3quote("dir/hello world.txt"), host=host, user="root")
    assert r.status == 204, r
    r = vsrv.request("GET", "/" + s3quote("dir/hello world.txt"), host=host, user="root")
    assert (r.status, r.code) == (404, "NoSuchKey")
    r = vsrv.request("DELETE", "/", host=host, user="root")
    assert r.status == 204, r
    r = vsrv.request("HEAD", "/", host=host, user="root")
    assert r.status == 404


def test_virtual_host_missing_bucket(vsrv):
    r = vsrv.request("GET", "/key", host=vhost(vsrv, "no-such-vhost-bucket"), user="root")
    assert (r.status, r.code) == (404, "NoSuchBucket"), r


def test_bare_domain_is_service(vsrv):
    """Host equal to the domain itself means ListBuckets / path style."""
    r = vsrv.request("GET", "/", host=f"{DOMAIN}:{vsrv.port}", user="root")
    assert r.status == 200, r
    assert r.xml.tag == S3NS + "ListAllMyBucketsResult"


def test_key_that_looks_like_bucket_path(vsrv):
    """In virtual-host style the whole path is the key, even if it starts with another bucket's name."""
    s3 = vsrv.client()
    s3.create_bucket(Bucket="vh-one")
    s3.create_bucket(Bucket="vh-two")
    r = vsrv.request("PUT", "/vh-two/file", host=vhost(vsrv, "vh-one"), body=b"in one", user="root")
    assert r.status == 200, r
    assert s3.get_object(Bucket="vh-one", Key="vh-two/file")["Body"].read() == b"in one"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket="vh-two", Key="file")
    assert err_status(ei.value) == 404


def test_boto3_virtual_addressing(vs3):
    b = "vhost-boto"
    vs3.create_bucket(Bucket=b)
    vs3.put_object(Bucket=b, Key="a/b.txt", Body=b"virtual")
    assert vs3.get_object(Bucket=b, Key="a/b.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in vs3.list_objects_v2(Bucket=b)["Contents"]] == ["a/b.txt"]
    up = vs3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    e = vs3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"part")["ETag"]
    vs3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert vs3.get_object(Bucket=b, Key="mp")["Body"].read() == b"part"
    vs3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "a/b.txt"})
    assert vs3.get_object(Bucket=b, Key="copy")["Body"].read() == b"virtual"
    url = vs3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "copy"}, ExpiresIn=60)
    assert url.startswith(f"http://{b}.{DOMAIN}:")
    vs3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in ("a/b.txt", "mp", "copy")]})
    vs3.delete_bucket(Bucket=b)
    with pytest.raises(ClientError) as ei:
        vs3.head_bucket(Bucket=b)
    assert err_status(ei.value) == 404


def test_presigned_virtual_host(vsrv, vs3):
    import requests
    vs3.create_bucket(Bucket="vhost-pre")
    vs3.put_object(Bucket="vhost-pre", Key="k", Body=b"presigned vhost")
    url = vs3.generate_presigned_url("get_object", Params={"Bucket": "vhost-pre", "Key": "k"}, ExpiresIn=60)
    u = urllib.parse.urlsplit(url)
    r = requests.get(urllib.parse.urlunsplit((u.scheme, f"127.0.0.1:{vsrv.port}", u.path, u.query, "")),
                     headers={"Host": u.netloc}, timeout=10)
    assert r.status_code == 200 and r.content == b"presigned vhost"


@pytest.mark.sluice_only  # moto has no users
def test_vhost_other_user_denied(vsrv):
    s3a = vsrv.client("alice")
    s3a.create_bucket(Bucket="vh-alice")
    s3a.put_object(Bucket="vh-alice", Key="k", Body=b"a")
    r = vsrv.request("GET", "/k", host=vhost(vsrv, "vh-alice"), user="bob")
    assert (r.status, r.code) == (403, "AccessDenied"), r
    r = vsrv.request("GET", "/k", host=vhost(vsrv, "vh-alice"), user="alice")
    assert (r.status, r.body) == (200, b"a")


def test_unknown_host_falls_back_to_path_style(vsrv):
    """A Host that is not below s3.domain (e.g. an IP) means path style."""
    s3 = vsrv.client()
    s3.create_bucket(Bucket="vh-path")
    s3.put_object(Bucket="vh-path", Key="x", Body=b"path")
    r = vsrv.request("GET", "/vh-path/x", host=f"127.0.0.1:{vsrv.port}", user="root")
    assert (r.status, r.body) == (200, b"path")
