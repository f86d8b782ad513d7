"""Unmodified command-line clients: aws cli, s3cmd, rclone (marker `cli`, first pass only)."""

import filecmp
import hashlib
import json
import os
import shutil
import subprocess

import pytest
import requests

from conftest import MOTO, USERS, delete_bucket_fully, random_bytes, unique_bucket

pytestmark = pytest.mark.cli

MiB = 1024 * 1024


def run(cmd, env=None, timeout=180, check=True, input=None):
    p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} -> {p.returncode}\nstdout:\n{p.stdout.decode(errors='replace')}\n"
                    f"stderr:\n{p.stderr.decode(errors='replace')}", pytrace=False)
    return p


def make_tree(root):
    files = {
        "a.txt": b"alpha\n",
        "empty": b"",
        "sub/b.bin": random_bytes(300_000, seed=1),
        "sub/deeper/c with space.txt": b"gamma\n",
        "unicodé/ß.txt": "straße\n".encode(),
        "big/twelve.bin": random_bytes(12 * MiB + 7, seed=2),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def same_tree(a, b):
    fa = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    fb = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    assert fa == fb
    for rel in fa:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


# ----------------------------------------------------------------------------- aws cli


@pytest.fixture
def aws(server, tmp_path):
    if not shutil.which("aws"):
        pytest.skip("aws cli not installed")
    cfg = tmp_path / "aws-config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=USERS["root"][0], AWS_SECRET_ACCESS_KEY=USERS["root"][1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(cfg),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"), AWS_PAGER="")
    env.pop("AWS_PROFILE", None)
    extra = ["--ca-bundle", server.cafile] if server.cafile else []

    def aws_(*args, **kw):
        return run(["aws", "--endpoint-url", server.endpoint, *extra, *args], env=env, **kw)
    return aws_


def test_aws_s3_high_level(server, aws, s3, tmp_path):
    b = unique_bucket("awscli")
    src = tmp_path / "src"
    files = make_tree(src)
    try:
        aws("s3", "mb", f"s3://{b}")
        aws("s3", "cp", str(src / "a.txt"), f"s3://{b}/single/a.txt")
        out = aws("s3", "ls", f"s3://{b}/single/").stdout.decode()
        assert "a.txt" in out and " 6 " in out, out
        assert s3.get_object(Bucket=b, Key="single/a.txt")["Body"].read() == b"alpha\n"

        aws("s3", "sync", str(src), f"s3://{b}/sync/")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="sync/")["Contents"])
        assert keys == sorted("sync/" + k for k in files)
        big = s3.head_object(Bucket=b, Key="sync/big/twelve.bin")
        assert big["ContentLength"] == len(files["big/twelve.bin"])
        assert big["ETag"].endswith('-2"')  # multipart with 8 MiB parts

        out = aws("s3", "ls", "--recursive", f"s3://{b}/sync/").stdout.decode()
        assert "c with space.txt" in out and "ß.txt" in out, out

        dst = tmp_path / "dst"
        aws("s3", "sync", f"s3://{b}/sync/", str(dst))
        same_tree(src, dst)

        # second sync uploads nothing; deleting a local file + --delete removes it remotely
        (src / "a.txt").unlink()
        aws("s3", "sync", "--delete", str(src), f"s3://{b}/sync/")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="sync/")["Contents"]}
        assert "sync/a.txt" not in keys and "sync/sub/b.bin" in keys

        url = aws("s3", "presign", f"s3://{b}/sync/sub/b.bin", "--expires-in", "120").stdout.decode().strip()
        r = requests.get(url, timeout=30, verify=server.cafile or True)
        assert r.status_code == 200 and r.content == files["sub/b.bin"]

        aws("s3", "rm", f"s3://{b}/single/a.txt")
        aws("s3", "rm", "--recursive", f"s3://{b}/sync/")
        assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
        aws("s3", "rb", f"s3://{b}")
        assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    finally:
        delete_bucket_fully(s3, b)


def test_aws_s3api(aws, s3, tmp_path):
    b = unique_bucket("s3api")
    body = tmp_path / "body.bin"
    body.write_bytes(random_bytes(70_000, seed=3))
    try:
        aws("s3api", "create-bucket", "--bucket", b)
        r = json.loads(aws("s3api", "put-object", "--bucket", b, "--key", "dir/obj", "--body", str(body),
                           "--content-type", "application/x-test", "--metadata", "k1=v1").stdout)
        assert r["ETag"] == '"' + hashlib.md5(body.read_bytes()).hexdigest() + '"'
        h = json.loads(aws("s3api", "head-object", "--bucket", b, "--key", "dir/obj").stdout)
        assert h["ContentLength"] == 70_000 and h["ContentType"] == "application/x-test"
        assert h["Metadata"] == {"k1": "v1"}
        lst = json.loads(aws("s3api", "list-objects-v2", "--bucket", b, "--prefix", "dir/").stdout)
        assert [o["Key"] for o in lst["Contents"]] == ["dir/obj"]
        out = tmp_path / "out.bin"
        aws("s3api", "get-object", "--bucket", b, "--key", "dir/obj", "--range", "bytes=0-99", str(out))
        assert out.read_bytes() == body.read_bytes()[:100]
        aws("s3api", "put-object-tagging", "--bucket", b, "--key", "dir/obj",
            "--tagging", "TagSet=[{Key=t,Value=v}]")
        tags = json.loads(aws("s3api", "get-object-tagging", "--bucket", b, "--key", "dir/obj").stdout)
        assert tags["TagSet"] == [{"Key": "t", "Value": "v"}]
        p = aws("s3api", "get-object", "--bucket", b, "--key", "missing", str(out), check=False)
        assert p.returncode != 0 and b"NoSuchKey" in p.stderr
        aws("s3api", "delete-object", "--bucket", b, "--key", "dir/obj")
        aws("s3api", "delete-bucket", "--bucket", b)
    finally:
        delete_bucket_fully(s3, b)


# ----------------------------------------------------------------------------- s3cmd


@pytest.fixture
def s3cmd(server, tmp_path):
    if not shutil.which("s3cmd"):
        pytest.skip("s3cmd not installed")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {USERS['root'][0]}\n"
        f"secret_key = {USERS['root'][1]}\n"
        f"host_base = {server.host}\n"
        f"host_bucket = {server.host}\n"
        f"use_https = {'True' if server.scheme == 'https' else 'False'}\n"
        f"check_ssl_certificate = False\n"
        "signature_v2 = False\n"
        "bucket_location = us-east-1\n"
        "multipart_chunk_size_mb = 5\n")
    env = dict(os.environ, HOME=str(tmp_path))

    def s3cmd_(*args, **kw):
        return run(["s3cmd", "-c", str(cfg), *args], env=env, **kw)
    return s3cmd_


def test_s3cmd(s3cmd, s3, tmp_path):
    b = unique_bucket("s3cmd")
    src = tmp_path / "src"
    files = make_tree(src)
    try:
        s3cmd("mb", f"s3://{b}")
        s3cmd("put", str(src / "a.txt"), f"s3://{b}/a.txt")
        s3cmd("put", str(src / "big/twelve.bin"), f"s3://{b}/big.bin")  # multipart (5 MiB chunks)
        assert s3.head_object(Bucket=b, Key="big.bin")["ContentLength"] == len(files["big/twelve.bin"])
        out = s3cmd("ls", f"s3://{b}").stdout.decode()
        assert f"s3://{b}/a.txt" in out and f"s3://{b}/big.bin" in out, out
        buckets = s3cmd("ls").stdout.decode()
        assert f"s3://{b}" in buckets
        s3cmd("get", f"s3://{b}/big.bin", str(tmp_path / "big.out"))
        assert (tmp_path / "big.out").read_bytes() == files["big/twelve.bin"]
        s3cmd("sync", str(src) + "/", f"s3://{b}/tree/")
        dst = tmp_path / "dst"
        dst.mkdir()
        s3cmd("sync", f"s3://{b}/tree/", str(dst) + "/")
        same_tree(src, dst)
        info = s3cmd("info", f"s3://{b}/a.txt").stdout.decode()
        assert hashlib.md5(b"alpha\n").hexdigest() in info
        s3cmd("del", f"s3://{b}/a.txt")
        out = s3cmd("ls", f"s3://{b}/a.txt").stdout.decode()
        assert "a.txt" not in out
        s3cmd("del", "--recursive", "--force", f"s3://{b}/")
        s3cmd("rb", f"s3://{b}")
    finally:
        delete_bucket_fully(s3, b)


# ----------------------------------------------------------------------------- rclone


@pytest.fixture
def rclone(server, tmp_path):
    if not shutil.which("rclone"):
        pytest.skip("rclone not installed")
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[sl]\n"
        "type = s3\n"
        "provider = Minio\n"
        f"access_key_id = {USERS['root'][0]}\n"
        f"secret_access_key = {USERS['root'][1]}\n"
        f"endpoint = {server.endpoint}\n"
        "region = us-east-1\n"
        "upload_cutoff = 5M\n"
        "chunk_size = 5M\n"
        # moto answers 400 to the HEAD ?versionId=null rclone sends after a multipart upload
        + ("no_head = true\n" if MOTO else ""))
    extra = ["--ca-cert", server.cafile] if server.cafile else []
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("AWS_CA_BUNDLE", None)  # rclone's aws sdk refuses it with its own transport

    def rclone_(*args, **kw):
        return run(["rclone", "--config", str(conf), "--retries", "1", "--low-level-retries", "1", *extra, *args],
                   env=env, **kw)
    return rclone_


def test_rclone(rclone, s3, tmp_path):
    b = unique_bucket("rclone")
    src = tmp_path / "src"
    files = make_tree(src)
    try:
        rclone("mkdir", f"sl:{b}")
        rclone("copy", str(src), f"sl:{b}/copy")
        out = rclone("ls", f"sl:{b}/copy").stdout.decode()
        for rel, data in files.items():
            assert f"{len(data)} {rel}" in out, (rel, out)
        rclone("check", str(src), f"sl:{b}/copy")  # compares sizes and MD5s
        assert s3.head_object(Bucket=b, Key="copy/big/twelve.bin")["ETag"].endswith('-3"')

        (src / "a.txt").write_bytes(b"changed\n")
        (src / "sub/b.bin").unlink()
        rclone("sync", str(src), f"sl:{b}/copy")
        rclone("check", str(src), f"sl:{b}/copy")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="copy/")["Contents"]}
        assert "copy/sub/b.bin" not in keys
        assert s3.get_object(Bucket=b, Key="copy/a.txt")["Body"].read() == b"changed\n"

        dst = tmp_path / "dst"
        rclone("copy", f"sl:{b}/copy", str(dst))
        same_tree(src, dst)

        p = rclone("check", str(tmp_path / "dst"), f"sl:{b}/copy")
        assert p.returncode == 0
        rclone("delete", f"sl:{b}/copy/unicodé")
        out = rclone("lsf", "-R", f"sl:{b}").stdout.decode()
        assert "ß.txt" not in out
        rclone("purge", f"sl:{b}")
        assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    finally:
        delete_bucket_fully(s3, b)
