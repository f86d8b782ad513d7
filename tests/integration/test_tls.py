"""HTTPS with a self-signed certificate (tls.certs.dir with public.crt + private.key)."""

import http.client
import os
import shutil
import socket
import ssl
import subprocess

import botocore.exceptions
import pytest
import requests

from conftest import MOTO, USERS, Server, make_cert, obj_path, random_bytes, sha256, sluice_bin


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    srv = Server(base / "srv", name="tls", tls_dir=make_cert(base / "certs"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


HEALTH = "/" if MOTO else "/minio/health/live"


def test_boto3_with_ca_bundle(tls):
    s3 = tls.client(verify=tls.cafile)
    s3.create_bucket(Bucket="tls-ca")
    s3.put_object(Bucket="tls-ca", Key="k", Body=b"over tls")
    assert s3.get_object(Bucket="tls-ca", Key="k")["Body"].read() == b"over tls"
    assert tls.endpoint.startswith("https://")


def test_boto3_verify_false(tls):
    s3 = tls.client(verify=False)
    s3.create_bucket(Bucket="tls-noverify")
    data = random_bytes(20 * 1024 * 1024 + 3, seed=1)
    s3.put_object(Bucket="tls-noverify", Key="big", Body=data)
    assert sha256(s3.get_object(Bucket="tls-noverify", Key="big")["Body"].read()) == sha256(data)


def test_untrusted_cert_rejected_by_default(tls):
    """Without the self-signed cert in the trust store the client must refuse (the TLS is real)."""
    system = "/etc/ssl/certs/ca-certificates.crt"
    s3 = tls.client(verify=system if os.path.exists(system) else True)
    with pytest.raises(botocore.exceptions.SSLError):
        s3.list_buckets()


def test_hostname_localhost_matches_san(tls):
    r = requests.get(f"https://localhost:{tls.port}{HEALTH}", verify=tls.cafile, timeout=10)
    assert r.status_code == 200
    r = requests.get(f"https://127.0.0.1:{tls.port}{HEALTH}", verify=tls.cafile, timeout=10)
    assert r.status_code == 200


def test_presigned_over_tls(tls):
    s3 = tls.client()
    s3.create_bucket(Bucket="tls-presign")
    s3.put_object(Bucket="tls-presign", Key="p", Body=b"presigned tls")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "tls-presign", "Key": "p"}, ExpiresIn=60)
    assert url.startswith("https://")
    r = requests.get(url, verify=tls.cafile, timeout=10)
    assert r.status_code == 200 and r.content == b"presigned tls"


def test_plain_http_to_tls_port_fails_cleanly(tls):
    conn = http.client.HTTPConnection("127.0.0.1", tls.port, timeout=5)
    try:
        conn.request("GET", HEALTH)
        resp = conn.getresponse()
        # Some servers answer plain text "400 Bad Request"; a 2xx would mean no TLS on the port.
        assert resp.status >= 400
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine, socket.timeout,
            BrokenPipeError):
        pass
    finally:
        conn.close()
    tls.assert_healthy()


def test_garbage_handshake(tls):
    for junk in (b"\x16\x03\x01\xff\xff" + os.urandom(500), os.urandom(2000), b"\x16\x03\x01\x00\x05hello"):
        s = socket.create_connection(("127.0.0.1", tls.port), timeout=5)
        try:
            try:  # the server may drop the connection at any point: that is fine
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.recv(1000)
            except (ConnectionResetError, BrokenPipeError, socket.timeout, OSError):
                pass
        finally:
            s.close()
    tls.assert_healthy()


@pytest.mark.sluice_only  # moto (werkzeug) handshakes in its accept loop and stalls
def test_abandoned_handshake_does_not_block(tls):
    """A client that connects and never sends a ClientHello must not stall the listener."""
    idle = [socket.create_connection(("127.0.0.1", tls.port), timeout=5) for _ in range(10)]
    try:
        ctx = ssl.create_default_context(cafile=tls.cafile)
        with socket.create_connection(("127.0.0.1", tls.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(f"GET {HEALTH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
                assert s.recv(100).startswith(b"HTTP/1.")
    finally:
        for s in idle:
            s.close()


def test_raw_signed_request_over_tls(tls):
    s3 = tls.client()
    s3.create_bucket(Bucket="tls-raw")
    r = tls.request("PUT", obj_path("tls-raw", "raw key"), body=b"raw over tls", user="root")
    assert r.status == 200, r
    assert s3.get_object(Bucket="tls-raw", Key="raw key")["Body"].read() == b"raw over tls"


@pytest.mark.cli
def test_aws_cli_over_tls(tls, tmp_path):
    if not shutil.which("aws"):
        pytest.skip("aws cli not installed")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=USERS["root"][0], AWS_SECRET_ACCESS_KEY=USERS["root"][1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    f = tmp_path / "f.txt"
    f.write_bytes(random_bytes(9 * 1024 * 1024, seed=4))  # multipart over TLS (aws-chunked trailers)
    base = ["aws", "--endpoint-url", tls.endpoint]
    subprocess.run(base + ["--ca-bundle", tls.cafile, "s3", "mb", "s3://tls-cli"], env=env, check=True,
                   capture_output=True, timeout=60)
    subprocess.run(base + ["--ca-bundle", tls.cafile, "s3", "cp", str(f), "s3://tls-cli/f.txt"], env=env,
                   check=True, capture_output=True, timeout=120)
    p = subprocess.run(base + ["--no-verify-ssl", "s3", "ls", "s3://tls-cli/"], env=env, capture_output=True,
                       timeout=60)
    assert p.returncode == 0 and b"f.txt" in p.stdout, p
    out = tmp_path / "back.txt"
    subprocess.run(base + ["--ca-bundle", tls.cafile, "s3", "cp", "s3://tls-cli/f.txt", str(out)], env=env,
                   check=True, capture_output=True, timeout=120)
    assert out.read_bytes() == f.read_bytes()
    p = subprocess.run(base + ["s3", "ls"], env=dict(env, AWS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"),
                       capture_output=True, timeout=60)
    assert p.returncode != 0 and b"SSL" in p.stderr, p


@pytest.mark.sluice_only
def test_admin_cli_over_https(tls):
    """`sluice admin` reaches an HTTPS server: with the server's CA, or --insecure; a self-signed certificate
    the client was not told to trust is refused."""
    env = dict(os.environ, SLUICE_ROOT_USER=USERS["root"][0], SLUICE_ROOT_PASSWORD=USERS["root"][1])
    env.pop("SLUICE_ENDPOINT", None)

    def admin(*flags):
        return subprocess.run([sluice_bin(), "admin", "--endpoint", tls.endpoint, *flags, "info", "--json"],
                              env=env, capture_output=True, text=True, timeout=60)

    for flags in (("--ca-file", str(tls.cafile)), ("--insecure",)):
        p = admin(*flags)
        assert p.returncode == 0, (flags, p.stderr)
        assert "deployment_id" in p.stdout
    p = admin("--ca-file", "/etc/ssl/certs/ca-certificates.crt")
    assert p.returncode != 0 and "certificate" in p.stderr.lower(), p.stderr
