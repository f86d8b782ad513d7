"""Multipart uploads: create/upload/copy/complete/abort/list, errors, and >= 100 MiB objects."""

import hashlib
import os
import re
import shutil
import subprocess

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import MOTO, USERS, err_code, err_status, md5hex, random_bytes, sha256, unique_bucket

MiB = 1024 * 1024


def multipart_etag(parts):
    return '"' + hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f'-{len(parts)}"'


def upload(s3, bucket, key, parts, **create_kw):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_kw)["UploadId"]
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=p)
        assert r["ETag"] == f'"{md5hex(p)}"'
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    return up, done


def test_basic_multipart(s3, bucket):
    parts = [random_bytes(5 * MiB, seed=1), random_bytes(5 * MiB, seed=2), random_bytes(123, seed=3)]
    up, done = upload(s3, bucket, "big/object.bin", parts, ContentType="application/x-mp",
                      Metadata={"stage": "multi"})
    # invisible until completed
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="big/object.bin")
    assert err_status(ei.value) == 404
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    r = s3.complete_multipart_upload(Bucket=bucket, Key="big/object.bin", UploadId=up,
                                     MultipartUpload={"Parts": done})
    assert re.fullmatch(r'"[0-9a-f]{32}-3"', r["ETag"]), r["ETag"]
    assert r["ETag"] == multipart_etag(parts)
    assert r["Key"] == "big/object.bin" and r["Bucket"] == bucket

    h = s3.head_object(Bucket=bucket, Key="big/object.bin")
    assert h["ContentLength"] == sum(map(len, parts))
    assert h["ETag"] == r["ETag"]
    assert h["ContentType"] == "application/x-mp"
    assert h["Metadata"] == {"stage": "multi"}
    body = s3.get_object(Bucket=bucket, Key="big/object.bin")["Body"].read()
    assert sha256(body) == sha256(b"".join(parts))
    # ranges across part boundaries
    g = s3.get_object(Bucket=bucket, Key="big/object.bin", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}")
    assert g["Body"].read() == (parts[0] + parts[1])[5 * MiB - 10:5 * MiB + 10]
    g = s3.get_object(Bucket=bucket, Key="big/object.bin", Range="bytes=-200")
    assert g["Body"].read() == b"".join(parts)[-200:]
    # the upload is gone
    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=up)
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchUpload", 404)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_single_part_multipart(s3, bucket):
    """One part may be smaller than 5 MiB (it is the last part)."""
    up, done = upload(s3, bucket, "one", [b"tiny"])
    r = s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=up, MultipartUpload={"Parts": done})
    assert r["ETag"] == multipart_etag([b"tiny"])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"tiny"


@pytest.mark.sluice_only  # moto ignores partNumber on GET/HEAD
def test_get_part_number(s3, bucket):
    parts = [random_bytes(5 * MiB, seed=4), b"second part"]
    up, done = upload(s3, bucket, "pn", parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="pn", UploadId=up, MultipartUpload={"Parts": done})
    g = s3.get_object(Bucket=bucket, Key="pn", PartNumber=2)
    assert g["Body"].read() == b"second part"
    assert g["PartsCount"] == 2
    assert s3.head_object(Bucket=bucket, Key="pn", PartNumber=1)["ContentLength"] == 5 * MiB


def test_overwrite_part_and_skip_parts(s3, bucket):
    p1_old, p1, p2, p3 = b"old" * 10, random_bytes(5 * MiB, seed=5), random_bytes(5 * MiB, seed=6), b"tail"
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=1, Body=p1_old)
    e1 = s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=2, Body=p2)
    e3 = s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=3, Body=p3)["ETag"]
    lp = s3.list_parts(Bucket=bucket, Key="k", UploadId=up)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in lp["Parts"]] == [
        (1, len(p1), e1), (2, len(p2), f'"{md5hex(p2)}"'), (3, 4, e3)]
    # complete with parts 1 and 3 only: part 2 is dropped
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}]})
    assert sha256(s3.get_object(Bucket=bucket, Key="k")["Body"].read()) == sha256(p1 + p3)


def test_multipart_overwrites_existing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ow", Body=b"previous single-part object")
    up, done = upload(s3, bucket, "ow", [b"new"])
    s3.complete_multipart_upload(Bucket=bucket, Key="ow", UploadId=up, MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="ow")["Body"].read() == b"new"


def test_abort(s3, bucket):
    up, _ = upload(s3, bucket, "ab", [b"x" * 100])
    r = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=up)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    calls = [lambda: s3.list_parts(Bucket=bucket, Key="ab", UploadId=up)]
    if not MOTO:  # moto answers 500 to these
        calls += [
        lambda: s3.upload_part(Bucket=bucket, Key="ab", UploadId=up, PartNumber=2, Body=b"y"),
        lambda: s3.complete_multipart_upload(Bucket=bucket, Key="ab", UploadId=up,
                                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=up),
        ]
    for call in calls:
        with pytest.raises(ClientError) as ei:
            call()
        assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="ab")
    assert err_status(ei.value) == 404


@pytest.mark.sluice_only  # moto answers 500
def test_unknown_upload_id(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="k", UploadId="bogus-upload-id", PartNumber=1, Body=b"x")
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchUpload", 404)


@pytest.mark.sluice_only  # moto keys uploads by id only and accepts a mismatched key
def test_upload_id_bound_to_key(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="right")["UploadId"]
    try:
        with pytest.raises(ClientError) as ei:
            s3.upload_part(Bucket=bucket, Key="wrong", UploadId=up, PartNumber=1, Body=b"x")
        assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchUpload", 404)
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="right", UploadId=up)


def test_list_parts_pagination(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="lp")["UploadId"]
    try:
        for i in range(1, 6):
            s3.upload_part(Bucket=bucket, Key="lp", UploadId=up, PartNumber=i, Body=bytes([i]) * (i * 100))
        seen, marker, pages = [], None, 0
        while True:
            kw = {"Bucket": bucket, "Key": "lp", "UploadId": up, "MaxParts": 2}
            if marker is not None:
                kw["PartNumberMarker"] = marker
            r = s3.list_parts(**kw)
            pages += 1
            seen += [(p["PartNumber"], p["Size"]) for p in r["Parts"]]
            if not r["IsTruncated"]:
                break
            marker = r["NextPartNumberMarker"]
            assert marker == seen[-1][0]
        assert pages == 3
        assert seen == [(i, i * 100) for i in range(1, 6)]
        r = s3.list_parts(Bucket=bucket, Key="lp", UploadId=up, PartNumberMarker=3)
        assert [p["PartNumber"] for p in r["Parts"]] == [4, 5]
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=up)


def test_list_multipart_uploads(s3, bucket):
    ups = [("a/one", s3.create_multipart_upload(Bucket=bucket, Key="a/one")["UploadId"]),
           ("a/two", s3.create_multipart_upload(Bucket=bucket, Key="a/two")["UploadId"]),
           ("b/three", s3.create_multipart_upload(Bucket=bucket, Key="b/three")["UploadId"]),
           ("a/two", s3.create_multipart_upload(Bucket=bucket, Key="a/two")["UploadId"])]
    try:
        r = s3.list_multipart_uploads(Bucket=bucket)
        got = sorted((u["Key"], u["UploadId"]) for u in r["Uploads"])
        assert got == sorted(ups)
        keys = [u["Key"] for u in r["Uploads"]]
        if not MOTO:  # moto lists in creation order
            assert keys == sorted(keys)
        assert all(u.get("Initiated") for u in r["Uploads"])
        r = s3.list_multipart_uploads(Bucket=bucket, Prefix="b/")
        assert [(u["Key"], u["UploadId"]) for u in r["Uploads"]] == [ups[2]]
    finally:
        for k, u in ups:
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.sluice_only  # moto ignores Delimiter/MaxUploads for ListMultipartUploads
def test_list_multipart_uploads_delimiter_and_pagination(s3, bucket):
    ups = [(k, s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"])
           for k in ("a/one", "a/two", "b/three", "c", "d")]
    try:
        r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
        assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["a/", "b/"]
        assert [u["Key"] for u in r["Uploads"]] == ["c", "d"]
        seen, km, um = [], None, None
        while True:
            kw = {"Bucket": bucket, "MaxUploads": 2}
            if km is not None:
                kw.update(KeyMarker=km, UploadIdMarker=um)
            r = s3.list_multipart_uploads(**kw)
            seen += [(u["Key"], u["UploadId"]) for u in r["Uploads"]]
            if not r["IsTruncated"]:
                break
            km, um = r["NextKeyMarker"], r["NextUploadIdMarker"]
        assert seen == sorted(ups)
    finally:
        for k, u in ups:
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)


def test_upload_part_copy(s3, bucket):
    src = random_bytes(10 * MiB + 11, seed=7)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    assert r1["CopyPartResult"]["ETag"] == f'"{md5hex(src[:5 * MiB])}"'
    r2 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes={5 * MiB}-{len(src) - 1}")
    r3 = s3.upload_part(Bucket=bucket, Key="dst", UploadId=up, PartNumber=3, Body=b"plain tail")
    parts = [{"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
             {"PartNumber": 3, "ETag": r3["ETag"]}]
    r = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=up, MultipartUpload={"Parts": parts})
    expected = src + b"plain tail"
    assert r["ETag"] == multipart_etag([src[:5 * MiB], src[5 * MiB:], b"plain tail"])
    assert sha256(s3.get_object(Bucket=bucket, Key="dst")["Body"].read()) == sha256(expected)


def test_upload_part_copy_whole_object_and_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="small", Body=b"0123456789")
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst2")["UploadId"]
    try:
        r = s3.upload_part_copy(Bucket=bucket, Key="dst2", UploadId=up, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "small"})
        assert r["CopyPartResult"]["ETag"] == f'"{md5hex(b"0123456789")}"'
        r = s3.upload_part_copy(Bucket=bucket, Key="dst2", UploadId=up, PartNumber=2,
                                CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange="bytes=2-4")
        assert r["CopyPartResult"]["ETag"] == f'"{md5hex(b"234")}"'
        with pytest.raises(ClientError) as ei:
            s3.upload_part_copy(Bucket=bucket, Key="dst2", UploadId=up, PartNumber=3,
                                CopySource={"Bucket": bucket, "Key": "missing"})
        assert err_status(ei.value) == 404
        if not MOTO:  # moto answers a bare 404 and does not validate the copy range
            assert err_code(ei.value) == "NoSuchKey"
            with pytest.raises(ClientError) as ei:
                s3.upload_part_copy(Bucket=bucket, Key="dst2", UploadId=up, PartNumber=4,
                                    CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange="bytes=5-100")
            assert err_status(ei.value) in (400, 416)
            assert err_code(ei.value) in ("InvalidRange", "InvalidArgument")
        lp = s3.list_parts(Bucket=bucket, Key="dst2", UploadId=up)
        assert [(p["PartNumber"], p["Size"]) for p in lp["Parts"]] == [(1, 10), (2, 3)]
    finally:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key="dst2", UploadId=up)
        except ClientError:
            pass


# ----------------------------------------------------------------------------- completion errors


@pytest.fixture
def two_parts(s3, bucket):
    p1, p2 = random_bytes(5 * MiB, seed=21), b"last"
    up, done = upload(s3, bucket, "e", [p1, p2])
    yield bucket, up, done
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key="e", UploadId=up)
    except ClientError:
        pass


def _complete(s3, bucket, up, parts):
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="e", UploadId=up, MultipartUpload={"Parts": parts})
    return err_code(ei.value), err_status(ei.value)


def test_invalid_part_wrong_etag(s3, two_parts):
    bucket, up, done = two_parts
    bad = [done[0], {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]
    assert _complete(s3, bucket, up, bad) == ("InvalidPart", 400)
    # the upload is still usable afterwards
    s3.complete_multipart_upload(Bucket=bucket, Key="e", UploadId=up, MultipartUpload={"Parts": done})


def test_invalid_part_missing_number(s3, two_parts):
    bucket, up, done = two_parts
    # part 7 was never uploaded (listed last so that no size rule applies)
    assert _complete(s3, bucket, up, [done[0], {"PartNumber": 7, "ETag": done[1]["ETag"]}]) == ("InvalidPart", 400)


@pytest.mark.sluice_only  # moto completes parts given in descending order
def test_invalid_part_order(s3, bucket):
    up, done = upload(s3, bucket, "e", [random_bytes(5 * MiB, seed=22), random_bytes(5 * MiB, seed=23)])
    try:
        assert _complete(s3, bucket, up, [done[1], done[0]]) == ("InvalidPartOrder", 400)
    finally:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key="e", UploadId=up)
        except ClientError:
            pass


def test_entity_too_small(s3, bucket):
    up, done = upload(s3, bucket, "small", [b"a" * MiB, b"b" * MiB])
    try:
        with pytest.raises(ClientError) as ei:
            s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=up, MultipartUpload={"Parts": done})
        assert (err_code(ei.value), err_status(ei.value)) == ("EntityTooSmall", 400)
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="small")
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=up)


@pytest.mark.sluice_only  # moto completes an upload with an empty part list
def test_complete_with_no_parts(raw, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="np")["UploadId"]
    try:
        body = b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CompleteMultipartUpload>'
        r = raw("POST", f"/{bucket}/np", query=[("uploadId", up)], body=body, user="root")
        assert (r.status, r.code) == (400, "MalformedXML"), r
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="np", UploadId=up)


@pytest.mark.sluice_only  # moto accepts part numbers outside 1..10000
@pytest.mark.parametrize("pn", [0, 10001])
def test_part_number_out_of_range(raw, s3, bucket, pn):
    up = s3.create_multipart_upload(Bucket=bucket, Key="pn")["UploadId"]
    try:
        r = raw("PUT", f"/{bucket}/pn", query=[("partNumber", str(pn)), ("uploadId", up)], body=b"x", user="root")
        assert (r.status, r.code) == (400, "InvalidArgument"), r
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="pn", UploadId=up)


def test_create_upload_missing_bucket(s3):
    with pytest.raises(ClientError) as ei:
        s3.create_multipart_upload(Bucket=unique_bucket("missing"), Key="k")
    assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchBucket", 404)


# ----------------------------------------------------------------------------- big objects


@pytest.fixture(scope="module")
def file_100m(tmp_path_factory):
    p = tmp_path_factory.mktemp("big") / "100m.bin"
    with open(p, "wb") as f:
        for i in range(10):
            f.write(os.urandom(10 * MiB))
        f.write(os.urandom(12345))
    h = hashlib.sha256(p.read_bytes()).hexdigest()
    yield p, h
    p.unlink()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


@pytest.mark.slow
def test_100m_upload_file(s3, bucket, file_100m, tmp_path):
    path, digest = file_100m
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(path), bucket, "huge.bin", Config=cfg)
    h = s3.head_object(Bucket=bucket, Key="huge.bin")
    assert h["ContentLength"] == path.stat().st_size
    assert re.fullmatch(r'"[0-9a-f]{32}-13"', h["ETag"]), h["ETag"]
    out = tmp_path / "down.bin"
    s3.download_file(bucket, "huge.bin", str(out), Config=cfg)
    assert file_sha256(out) == digest


@pytest.mark.slow
@pytest.mark.cli
def test_100m_aws_cli_cp(server, s3, bucket, file_100m, tmp_path):
    if not shutil.which("aws"):
        pytest.skip("aws cli not installed")
    path, digest = file_100m
    env = dict(os.environ, AWS_ACCESS_KEY_ID=USERS["root"][0], AWS_SECRET_ACCESS_KEY=USERS["root"][1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    base = ["aws", "--endpoint-url", server.endpoint]
    subprocess.run(base + ["s3", "cp", str(path), f"s3://{bucket}/cli/huge.bin"], env=env, check=True,
                   capture_output=True, timeout=300)
    h = s3.head_object(Bucket=bucket, Key="cli/huge.bin")
    assert h["ContentLength"] == path.stat().st_size
    assert h["ETag"].endswith('-13"')  # aws cli: 8 MiB parts
    out = tmp_path / "cli-down.bin"
    subprocess.run(base + ["s3", "cp", f"s3://{bucket}/cli/huge.bin", str(out)], env=env, check=True,
                   capture_output=True, timeout=300)
    assert file_sha256(out) == digest
