"""Flexible checksums (CRC32/CRC32C/SHA1/SHA256/CRC64NVME), Content-MD5, aws-chunked payloads.

botocore >= 1.36 (the second pass of run.sh) adds a CRC32 to every PutObject/UploadPart by default: as an
x-amz-checksum-crc32 header over http, and as an aws-chunked body with a trailing checksum (HTTP
Transfer-Encoding: chunked around it) over https -- test_default_put_over_tls covers the latter.
"""

import base64
import hashlib
import zlib

import botocore
import pytest
from botocore.exceptions import ClientError

from conftest import (MOTO, NEW_BOTO, aws_chunked_signed, aws_chunked_unsigned, b64, checksum_b64, err_code,
                      err_status, obj_path, random_bytes, sha256)

ALGOS = ["crc32", "crc32c", "sha1", "sha256", "crc64nvme"]
MISMATCH_CODES = ("BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest")


def client_can(algo):
    """Can this botocore compute `algo` itself (ChecksumAlgorithm=...)?"""
    from botocore import httpchecksum
    if algo == "crc64nvme":
        if not hasattr(httpchecksum, "CrtCrc64NvmeChecksum"):
            return False
        try:
            import awscrt.checksums
            return hasattr(awscrt.checksums, "crc64nvme")
        except ImportError:
            return False
    if algo == "crc32c":
        return bool(getattr(botocore.compat, "HAS_CRT", False))
    return True


def head_checksum(s3, bucket, key, algo):
    h = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return h["ResponseMetadata"]["HTTPHeaders"].get(f"x-amz-checksum-{algo}")


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert err_status(ei.value) == 404


# ----------------------------------------------------------------------------- single PUT


@pytest.mark.parametrize("algo", ALGOS)
def test_put_with_checksum_algorithm(s3, bucket, algo):
    if not client_can(algo):
        pytest.skip(f"botocore {botocore.__version__} here cannot compute {algo} (needs awscrt support)")
    data = random_bytes(300_000, seed=1)
    s3.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm=algo.upper())
    assert head_checksum(s3, bucket, "ck", algo) == checksum_b64(algo, data)
    g = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert g["ResponseMetadata"]["HTTPHeaders"].get(f"x-amz-checksum-{algo}") == checksum_b64(algo, data)
    assert g["Body"].read() == data  # botocore validates the returned checksum while reading


@pytest.mark.parametrize("algo", ALGOS)
def test_put_with_precomputed_checksum_header(server, s3, bucket, algo):
    data = random_bytes(70_000, seed=2)
    value = checksum_b64(algo, data)
    r = server.request("PUT", obj_path(bucket, "pre"), body=data, user="root",
                       headers={f"x-amz-checksum-{algo}": value, "x-amz-sdk-checksum-algorithm": algo.upper()})
    assert r.status == 200, r
    if not MOTO:  # moto does not echo the checksum on PUT
        assert r.headers.get(f"x-amz-checksum-{algo}") == value
    assert head_checksum(s3, bucket, "pre", algo) == value
    assert s3.get_object(Bucket=bucket, Key="pre")["Body"].read() == data


def test_put_crc64nvme_value_via_boto3(s3, bucket):
    """New botocore has a ChecksumCRC64NVME member; send a value computed here."""
    if not NEW_BOTO:
        pytest.skip("botocore < 1.36 has no ChecksumCRC64NVME member")
    data = random_bytes(40_000, seed=5)
    s3.put_object(Bucket=bucket, Key="nv", Body=data, ChecksumCRC64NVME=checksum_b64("crc64nvme", data))
    h = s3.head_object(Bucket=bucket, Key="nv", ChecksumMode="ENABLED")
    if not MOTO:  # moto only stores it when x-amz-sdk-checksum-algorithm is sent too
        assert h.get("ChecksumCRC64NVME") == checksum_b64("crc64nvme", data)
    assert s3.get_object(Bucket=bucket, Key="nv")["Body"].read() == data


def test_checksum_not_returned_without_mode(s3, bucket):
    s3.put_object(Bucket=bucket, Key="nm", Body=b"abc", ChecksumAlgorithm="SHA256")
    h = s3.head_object(Bucket=bucket, Key="nm")
    assert "x-amz-checksum-sha256" not in h["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.sluice_only  # moto does not verify checksums / Content-MD5
def test_wrong_checksum_header_rejected(server, s3, bucket, algo):
    data = b"the real payload"
    wrong = checksum_b64(algo, b"some other payload")
    r = server.request("PUT", obj_path(bucket, "bad"), body=data, user="root",
                       headers={f"x-amz-checksum-{algo}": wrong})
    assert r.status == 400, r
    assert r.code in MISMATCH_CODES, r
    assert_absent(s3, bucket, "bad")


@pytest.mark.sluice_only  # moto accepts a checksum value of the wrong length
def test_malformed_checksum_value_rejected(server, s3, bucket):
    r = server.request("PUT", obj_path(bucket, "bad"), body=b"x", user="root",
                       headers={"x-amz-checksum-crc32": "not-base64!!"})
    assert r.status == 400, r
    assert_absent(s3, bucket, "bad")


@pytest.mark.sluice_only  # moto does not verify checksums / Content-MD5
def test_wrong_checksum_via_boto3(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"payload", ChecksumSHA256=checksum_b64("sha256", b"nope"))
    assert err_status(ei.value) == 400
    assert err_code(ei.value) in MISMATCH_CODES
    assert_absent(s3, bucket, "bad")


@pytest.mark.sluice_only  # moto does not verify checksums / Content-MD5
def test_wrong_content_md5(s3, bucket, server):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5=b64(hashlib.md5(b"other").digest()))
    assert (err_code(ei.value), err_status(ei.value)) == ("BadDigest", 400)
    assert_absent(s3, bucket, "md5")
    r = server.request("PUT", obj_path(bucket, "md5"), body=b"payload", user="root",
                       headers={"Content-MD5": "this is not base64 md5"})
    assert r.status == 400 and r.code == "InvalidDigest", r
    assert_absent(s3, bucket, "md5")


@pytest.mark.sluice_only  # moto does not verify x-amz-content-sha256
def test_wrong_payload_sha256(server, s3, bucket):
    r = server.request("PUT", obj_path(bucket, "sha"), body=b"payload", user="root",
                       payload_hash=hashlib.sha256(b"different").hexdigest())
    assert (r.status, r.code) == (400, "XAmzContentSHA256Mismatch"), r
    assert_absent(s3, bucket, "sha")


def test_unsigned_payload(server, s3, bucket):
    r = server.request("PUT", obj_path(bucket, "u"), body=b"unsigned body", user="root",
                       payload_hash="UNSIGNED-PAYLOAD")
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key="u")["Body"].read() == b"unsigned body"


def test_default_put_new_boto(s3, bucket):
    """boto3 defaults: with botocore >= 1.36 a CRC32 is sent (header over http) and must be stored."""
    data = random_bytes(1_000_003, seed=3)
    s3.put_object(Bucket=bucket, Key="default", Body=data)
    assert s3.get_object(Bucket=bucket, Key="default")["Body"].read() == data
    if NEW_BOTO:
        assert head_checksum(s3, bucket, "default", "crc32") == checksum_b64("crc32", data)


# ----------------------------------------------------------------------------- multipart


def composite(algo, part_datas):
    raws = [base64.b64decode(checksum_b64(algo, d)) for d in part_datas]
    return checksum_b64(algo, b"".join(raws)) + f"-{len(part_datas)}"


@pytest.mark.parametrize("algo", ["crc32", "crc32c", "sha1", "sha256"])
def test_multipart_with_checksums(s3, bucket, algo):
    if not client_can(algo):
        pytest.skip(f"botocore here cannot compute {algo}")
    A = algo.upper()
    parts_data = [random_bytes(5 * 1024 * 1024, seed=10), random_bytes(1234, seed=11)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm=A)["UploadId"]
    parts = []
    for i, d in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=i, Body=d, ChecksumAlgorithm=A)
        assert r.get(f"Checksum{A}") == checksum_b64(algo, d)
        parts.append({"PartNumber": i, "ETag": r["ETag"], f"Checksum{A}": r[f"Checksum{A}"]})
    lp = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)
    if not MOTO:  # moto does not list part checksums
        assert [p.get(f"Checksum{A}") for p in lp["Parts"]] == [checksum_b64(algo, d) for d in parts_data]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
    got = head_checksum(s3, bucket, "mp", algo)
    if not MOTO:  # moto drops the "-N" suffix of composite checksums (and mixes up crc32c)
        assert got == composite(algo, parts_data)
    body = s3.get_object(Bucket=bucket, Key="mp")["Body"].read()
    assert sha256(body) == sha256(b"".join(parts_data))


@pytest.mark.parametrize("algo", ["crc32", "sha256"])
@pytest.mark.sluice_only  # moto does not verify checksums / Content-MD5
def test_upload_part_wrong_checksum(s3, bucket, algo):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mpbad", ChecksumAlgorithm=algo.upper())["UploadId"]
    try:
        with pytest.raises(ClientError) as ei:
            s3.upload_part(Bucket=bucket, Key="mpbad", UploadId=up, PartNumber=1, Body=b"part data",
                           **{f"Checksum{algo.upper()}": checksum_b64(algo, b"other data")})
        assert err_status(ei.value) == 400
        assert err_code(ei.value) in MISMATCH_CODES
        assert s3.list_parts(Bucket=bucket, Key="mpbad", UploadId=up).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="mpbad", UploadId=up)


# ----------------------------------------------------------------------------- aws-chunked by hand


def _chunked_put(server, bucket, key, data, mode, chunk=64 * 1024, trailer_algo=None, corrupt=None,
                 http_chunked=False):
    """PUT `data` with an aws-chunked body.  mode: signed | unsigned-trailer | signed-trailer."""
    path = obj_path(bucket, key)
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    trailer = None
    if trailer_algo:
        headers["x-amz-trailer"] = f"x-amz-checksum-{trailer_algo}"
        value = checksum_b64(trailer_algo, data if corrupt != "trailer" else data + b"!")
        trailer = (f"x-amz-checksum-{trailer_algo}", value)
    ph = {"signed": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
          "unsigned-trailer": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          "signed-trailer": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"}[mode]
    hdrs, (seed, amz_date, scope, key_) = server.signed_headers("PUT", path, headers=headers, payload_hash=ph)
    if mode == "unsigned-trailer":
        body = aws_chunked_unsigned(data, chunk, trailer)
    else:
        if corrupt == "chunk-signature":
            seed = "0" * 64
        body = aws_chunked_signed(data, chunk, seed, amz_date, scope, key_,
                                  trailer=trailer if mode == "signed-trailer" else None)
    if corrupt == "payload":
        body = body.replace(data[:16], bytes(16), 1)
    if http_chunked:
        hdrs["Transfer-Encoding"] = "chunked"
        body = _http_chunk(body)
    return server.request("PUT", path, headers=hdrs, body=body)


def _http_chunk(body, size=10000):
    out = []
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, 65536, 200_000])
def test_aws_chunked_signed(server, s3, bucket, size):
    data = random_bytes(size, seed=size)
    r = _chunked_put(server, bucket, "chunked", data, "signed")
    assert r.status == 200, r
    g = s3.get_object(Bucket=bucket, Key="chunked")
    assert g["ContentLength"] == size
    assert g["Body"].read() == data
    assert g["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert "aws-chunked" not in (g.get("ContentEncoding") or "")


@pytest.mark.parametrize("algo", ["crc32", "crc32c", "sha256", "crc64nvme"])
def test_aws_chunked_unsigned_trailer(server, s3, bucket, algo):
    data = random_bytes(150_000, seed=7)
    r = _chunked_put(server, bucket, "trail", data, "unsigned-trailer", trailer_algo=algo)
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key="trail")["Body"].read() == data
    if not MOTO:  # moto drops trailing checksums
        assert head_checksum(s3, bucket, "trail", algo) == checksum_b64(algo, data)


def test_aws_chunked_inside_http_chunked(server, s3, bucket):
    """What botocore >= 1.36 sends over TLS: Transfer-Encoding: chunked around an aws-chunked body."""
    data = random_bytes(100_000, seed=8)
    r = _chunked_put(server, bucket, "te", data, "unsigned-trailer", trailer_algo="crc32", http_chunked=True)
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key="te")["Body"].read() == data


@pytest.mark.sluice_only  # moto does not verify trailing checksums
def test_aws_chunked_wrong_trailer_checksum(server, s3, bucket):
    data = random_bytes(100_000, seed=9)
    r = _chunked_put(server, bucket, "bad-trailer", data, "unsigned-trailer", trailer_algo="crc32",
                     corrupt="trailer")
    assert r.status == 400, r
    assert r.code in MISMATCH_CODES, r
    assert_absent(s3, bucket, "bad-trailer")


@pytest.mark.sluice_only  # moto does not verify chunk signatures
def test_aws_chunked_bad_chunk_signature(server, s3, bucket):
    data = random_bytes(100_000, seed=10)
    r = _chunked_put(server, bucket, "bad-sig", data, "signed", corrupt="chunk-signature")
    assert r.status == 403 and r.code == "SignatureDoesNotMatch", r
    assert_absent(s3, bucket, "bad-sig")
    r = _chunked_put(server, bucket, "bad-payload", data, "signed", corrupt="payload")
    assert r.status == 403 and r.code == "SignatureDoesNotMatch", r
    assert_absent(s3, bucket, "bad-payload")


@pytest.mark.sluice_only  # moto does not implement signed trailers
def test_aws_chunked_signed_trailer(server, s3, bucket):
    data = random_bytes(130_000, seed=11)
    r = _chunked_put(server, bucket, "strail", data, "signed-trailer", trailer_algo="crc32c")
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key="strail")["Body"].read() == data
    assert head_checksum(s3, bucket, "strail", "crc32c") == checksum_b64("crc32c", data)


# ----------------------------------------------------------------------------- over TLS (trailers)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    from conftest import Server, make_cert
    base = tmp_path_factory.mktemp("cksum-tls")
    srv = Server(base / "srv", name="cksum-tls", tls_dir=make_cert(base / "certs"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def test_default_put_over_tls(tls_server):
    """With botocore >= 1.36 this is the default aws-chunked + trailing CRC32 upload."""
    s3 = tls_server.client()
    b = "tls-cksum"
    s3.create_bucket(Bucket=b)
    for size in (0, 1, 65537, 3 * 1024 * 1024 + 5):
        data = random_bytes(size, seed=size)
        s3.put_object(Bucket=b, Key=f"o{size}", Body=data)
        g = s3.get_object(Bucket=b, Key=f"o{size}")
        assert g["Body"].read() == data
        assert g["ContentLength"] == size
        assert "aws-chunked" not in (g.get("ContentEncoding") or "")
        if NEW_BOTO:
            assert head_checksum(s3, b, f"o{size}", "crc32") == checksum_b64("crc32", data)


@pytest.mark.parametrize("algo", ["crc32c", "sha1", "sha256"])
def test_explicit_algorithm_over_tls(tls_server, algo):
    if not client_can(algo):
        pytest.skip(f"botocore here cannot compute {algo}")
    s3 = tls_server.client()
    b = "tls-algo-" + algo
    s3.create_bucket(Bucket=b)
    data = random_bytes(500_000, seed=12)
    s3.put_object(Bucket=b, Key="x", Body=data, ChecksumAlgorithm=algo.upper())
    assert s3.get_object(Bucket=b, Key="x")["Body"].read() == data
    assert head_checksum(s3, b, "x", algo) == checksum_b64(algo, data)


def test_multipart_over_tls(tls_server):
    s3 = tls_server.client()
    b = "tls-mp"
    s3.create_bucket(Bucket=b)
    p1, p2 = random_bytes(5 * 1024 * 1024, seed=1), random_bytes(77, seed=2)
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    e1 = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=p1)
    e2 = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=2, Body=p2)
    parts = [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]
    if NEW_BOTO:
        parts[0]["ChecksumCRC32"] = e1["ChecksumCRC32"]
        parts[1]["ChecksumCRC32"] = e2["ChecksumCRC32"]
    s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={"Parts": parts})
    assert sha256(s3.get_object(Bucket=b, Key="m")["Body"].read()) == sha256(p1 + p2)
