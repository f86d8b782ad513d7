"""`sluice s3url generate` and `sluice s3url start-command` (AutoMQ's generate-s3-url / generate-start-command).

generate runs the ping check against the shared server (or moto) with Sluice's own S3 client and must
print `[ OK ]` for every step and a parseable s3url; failures print `[FAIL] <step>: <S3 error>` and a hint,
and exit 1; bad usage exits 2."""

import os
import shlex
import subprocess
import urllib.parse
import uuid

import pytest

from conftest import REGION, USERS, delete_bucket_fully, free_port, sluice_bin, unique_bucket

STEPS = [
    "put object",
    "read object back (byte comparison)",
    "range read (byte comparison)",
    "delete object",
    "multipart upload (2 parts, first 5 MiB)",
    "read multipart object (byte comparison)",
    "upload part copy",
    "delete objects (2 keys in one request)",
    "ops bucket: put and delete object",
]

URL_KEYS = ["s3-access-key", "s3-secret-key", "s3-region", "s3-endpoint-protocol", "s3-data-bucket",
            "s3-path-style", "s3-ops-bucket", "cluster-id"]


def sluice(*args, timeout=120, env=None):
    exe = sluice_bin()
    if not exe:
        pytest.fail("sluice binary not found: set SLUICE_BIN or build build/ci (or build/dev) first", pytrace=False)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=env)


def generate_args(endpoint, data, ops=None, secret=None, path_style="true", protocol="http"):
    ak, sk = USERS["root"]
    args = ["s3url", "generate", "--s3-endpoint", endpoint, "--s3-access-key", ak,
            "--s3-secret-key", sk if secret is None else secret, "--s3-region", REGION,
            "--s3-endpoint-protocol", protocol, "--s3-data-bucket", data, "--timeout", "20"]
    if ops:
        args += ["--s3-ops-bucket", ops]
    if path_style is not None:
        args += ["--s3-path-style", path_style]
    return args


def s3url_lines(out):
    return [line for line in out.splitlines() if line.startswith("s3://")]


def parse_url(url):
    u = urllib.parse.urlsplit(url)
    assert u.scheme == "s3"
    pairs = [p.split("=", 1) for p in u.query.split("&")]
    return u.netloc, pairs


@pytest.fixture
def buckets(server, s3):
    data, ops = unique_bucket("s3url-data"), unique_bucket("s3url-ops")
    s3.create_bucket(Bucket=data)
    s3.create_bucket(Bucket=ops)
    yield data, ops
    delete_bucket_fully(s3, data)
    delete_bucket_fully(s3, ops)


def test_generate_passes_every_check_and_prints_an_s3url(server, s3, buckets):
    data, ops = buckets
    r = sluice(*generate_args(server.host, data, ops))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert [line for line in lines if line.startswith("[ OK ] ")] == [f"[ OK ] {s}" for s in STEPS], r.stdout
    assert "[FAIL]" not in r.stdout and "[SKIP]" not in r.stdout

    urls = s3url_lines(r.stdout)
    assert len(urls) == 1, r.stdout
    netloc, pairs = parse_url(urls[0])
    assert netloc == server.host
    assert [k for k, _ in pairs] == URL_KEYS  # AutoMQ's order
    q = dict(pairs)
    assert q == {
        "s3-access-key": USERS["root"][0], "s3-secret-key": USERS["root"][1], "s3-region": REGION,
        "s3-endpoint-protocol": "http", "s3-data-bucket": data, "s3-path-style": "true", "s3-ops-bucket": ops,
        "cluster-id": q["cluster-id"],
    }
    assert str(uuid.UUID(q["cluster-id"])) == q["cluster-id"]

    # The check leaves nothing behind: no objects, no multipart uploads.
    for b in (data, ops):
        assert s3.list_objects_v2(Bucket=b).get("KeyCount", 0) == 0
        assert not s3.list_multipart_uploads(Bucket=b).get("Uploads")

    # A fresh cluster id every time.
    again = sluice(*generate_args(server.host, data))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ops bucket" not in again.stdout
    other = dict(parse_url(s3url_lines(again.stdout)[0])[1])
    assert other["cluster-id"] != q["cluster-id"]
    assert "s3-ops-bucket" not in other


def test_path_style_defaults_to_true_for_an_ip_endpoint(server, buckets):
    r = sluice(*generate_args(server.host, buckets[0], path_style=None))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "path style" in r.stdout
    assert dict(parse_url(s3url_lines(r.stdout)[0])[1])["s3-path-style"] == "true"


@pytest.mark.sluice_only  # moto does not check signatures
def test_wrong_secret_fails_with_the_s3_error(server, buckets):
    r = sluice(*generate_args(server.host, buckets[0], secret="not-the-secret-0000"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[FAIL] put object: SignatureDoesNotMatch: " in r.stdout, r.stdout
    assert "[FAIL] multipart upload (2 parts, first 5 MiB): SignatureDoesNotMatch: " in r.stdout
    assert "hint: check --s3-access-key and --s3-secret-key" in r.stdout
    assert "[ OK ]" not in r.stdout
    assert not s3url_lines(r.stdout), "no s3url after a failed check"


def test_missing_bucket_points_at_the_bucket_name(server):
    r = sluice(*generate_args(server.host, unique_bucket("s3url-missing")))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[FAIL] put object: NoSuchBucket: " in r.stdout, r.stdout
    assert "hint: check the bucket name (--s3-data-bucket)" in r.stdout
    assert not s3url_lines(r.stdout)


def test_missing_ops_bucket_fails_only_that_step(server, buckets):
    r = sluice(*generate_args(server.host, buckets[0], ops=unique_bucket("s3url-noops")))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.count("[ OK ] ") == len(STEPS) - 1
    assert "[FAIL] ops bucket: put and delete object: NoSuchBucket: " in r.stdout
    assert "hint: check the bucket name (--s3-ops-bucket)" in r.stdout


def test_unreachable_endpoint_fails_with_a_network_hint():
    r = sluice(*generate_args(f"127.0.0.1:{free_port()}", "data"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[FAIL] put object: connection refused by 127.0.0.1:" in r.stdout, r.stdout
    assert "hint: check the network" in r.stdout
    assert not s3url_lines(r.stdout)


def test_unknown_host_fails_with_an_endpoint_hint():
    r = sluice(*generate_args("no-such-host.invalid:9000", "data"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[FAIL] put object: unknown host no-such-host.invalid" in r.stdout, r.stdout
    assert "hint: check the endpoint" in r.stdout
    # Virtual-host style resolves BUCKET.ENDPOINT; the hint says so.
    r = sluice(*generate_args("no-such-host.invalid", "data", path_style="false"))
    assert r.returncode == 1
    assert "unknown host data.no-such-host.invalid" in r.stdout, r.stdout
    assert "--s3-path-style true" in r.stdout


def test_https_endpoint(make_server):
    """TLS: the certificate is checked against OpenSSL's trust store (SSL_CERT_FILE points it elsewhere)."""
    import boto3
    from botocore.config import Config
    srv = make_server("s3url-tls", tls=True)
    ak, sk = USERS["root"]
    boto3.session.Session().client(
        "s3", endpoint_url=srv.endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, verify=srv.cafile,
        config=Config(region_name=REGION, signature_version="s3v4")).create_bucket(Bucket="tlsdata")
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}

    untrusted = sluice(*generate_args(srv.host, "tlsdata", protocol="https"), env=env)
    assert untrusted.returncode == 1, untrusted.stdout + untrusted.stderr
    assert "[FAIL] put object: TLS handshake with 127.0.0.1: certificate verify failed" in untrusted.stdout
    assert "hint: check --s3-endpoint-protocol (http or https) and the server's TLS certificate" in untrusted.stdout

    trusted = sluice(*generate_args(srv.host, "tlsdata", protocol="https"), env={**env, "SSL_CERT_FILE": srv.cafile})
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert trusted.stdout.count("[ OK ] ") == len(STEPS) - 1
    assert dict(parse_url(s3url_lines(trusted.stdout)[0])[1])["s3-endpoint-protocol"] == "https"

    plain = sluice(*generate_args(srv.host, "tlsdata", protocol="http"), env=env)
    assert plain.returncode == 1
    assert "[FAIL] put object: " in plain.stdout


@pytest.mark.parametrize("drop, extra, message", [
    ("--s3-access-key", [], "missing --s3-access-key"),
    ("--s3-data-bucket", [], "missing --s3-data-bucket"),
    (None, ["--s3-endpoint-protocol", "ftp"], "--s3-endpoint-protocol must be http or https"),
    (None, ["--s3-path-style", "maybe"], "--s3-path-style must be true or false"),
    (None, ["--no-such-flag"], "unexpected argument '--no-such-flag'"),
])
def test_generate_bad_usage_exits_2(drop, extra, message):
    args = generate_args("127.0.0.1:1", "data", path_style=None)
    if drop:
        i = args.index(drop)
        del args[i:i + 2]
    r = sluice(*args, *extra)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr


def test_generate_rejects_an_endpoint_with_a_scheme():
    r = sluice("s3url", "generate", "--s3-endpoint", "http://127.0.0.1:9000", "--s3-access-key", "a",
               "--s3-secret-key", "b", "--s3-region", REGION, "--s3-data-bucket", "d")
    assert r.returncode == 2
    assert "must not carry a scheme" in r.stderr


# ---------------------------------------------------------------- start-command

URL = ("s3://s3.example.com:9000?s3-access-key=AK&s3-secret-key=S/K+x&s3-region=us-east-1"
       "&s3-endpoint-protocol=http&s3-data-bucket=data&s3-path-style=true&s3-ops-bucket=ops"
       "&cluster-id=0b6c0b1e-2d6f-4a57-b1a8-3c4c7a3c1e42")


def commands(out):
    """Each `sluice server` line as (argv, {override key: value})."""
    result = []
    for line in out.splitlines():
        if not line.startswith("sluice server "):
            continue
        argv = shlex.split(line)
        overrides = {}
        for i, a in enumerate(argv):
            if a == "--override":
                k, v = argv[i + 1].split("=", 1)
                overrides[k] = v
        result.append((argv, overrides))
    return result


def test_start_command_for_three_combined_nodes():
    r = sluice("s3url", "start-command", "--s3-url", URL,
               "--controller-list", "10.0.0.1:9093;10.0.0.2:9093;10.0.0.3:9093")
    assert r.returncode == 0, r.stdout + r.stderr
    cmds = commands(r.stdout)
    assert len(cmds) == 3, r.stdout
    voters = "0@10.0.0.1:9093,1@10.0.0.2:9093,2@10.0.0.3:9093"
    for i, (argv, o) in enumerate(cmds):
        ip = f"10.0.0.{i + 1}"
        assert argv[:2] == ["sluice", "server"]
        assert argv[2] == f"--s3-url={URL}"  # the URL survives shell quoting exactly
        assert o == {
            "process.roles": "broker,controller",
            "node.id": str(i),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{ip}:9092,CONTROLLER://{ip}:9093",
            "advertised.listeners": f"PLAINTEXT://{ip}:9092",
        }
    assert "Start the controllers first" in r.stdout


def test_start_command_with_controllers_and_brokers():
    r = sluice("s3url", "start-command", "--s3-url", URL, "--controller-list", "10.0.0.1:9093",
               "--broker-list", "10.0.0.4:9092;10.0.0.5:9092")
    assert r.returncode == 0, r.stdout + r.stderr
    cmds = commands(r.stdout)
    assert [o["node.id"] for _, o in cmds] == ["0", "1", "2"]
    assert [o["process.roles"] for _, o in cmds] == ["broker,controller", "broker", "broker"]
    assert cmds[2][1]["listeners"] == "PLAINTEXT://10.0.0.5:9092"
    assert cmds[2][1]["advertised.listeners"] == "PLAINTEXT://10.0.0.5:9092"
    assert all(o["controller.quorum.voters"] == "0@10.0.0.1:9093" for _, o in cmds)

    only = sluice("s3url", "start-command", "--s3-url", URL, "--controller-list", "10.0.0.1:9093;10.0.0.2:9093",
                  "--controller-only-mode")
    assert only.returncode == 0, only.stderr
    o = commands(only.stdout)[1][1]
    assert o["process.roles"] == "controller"
    assert o["listeners"] == "CONTROLLER://10.0.0.2:9093"
    assert "advertised.listeners" not in o


@pytest.mark.parametrize("url, controllers, brokers, message", [
    (URL, "10.0.0.1:9092", "", "port 9092 is the broker port"),
    (URL, "10.0.0.1:9093", "10.0.0.1:9092", "used twice"),
    (URL, "10.0.0.1", "", "is not ip:port"),
    (URL, "", "", "missing --controller-list"),
    (URL.replace("&cluster-id=0b6c0b1e-2d6f-4a57-b1a8-3c4c7a3c1e42", ""), "10.0.0.1:9093", "", "no cluster-id"),
    (URL + "&color=blue", "10.0.0.1:9093", "", "unknown parameter 'color'"),
    (URL.replace("s3-region=us-east-1&", ""), "10.0.0.1:9093", "", "missing required parameter(s) s3-region"),
    (URL.replace("cluster-id=", "cluster-id=a=b"), "10.0.0.1:9093", "", "not key=value"),
])
def test_start_command_rejects_bad_input(url, controllers, brokers, message):
    args = ["s3url", "start-command", "--s3-url", url]
    if controllers:
        args += ["--controller-list", controllers]
    if brokers:
        args += ["--broker-list", brokers]
    r = sluice(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr


def test_generated_url_feeds_start_command(server, buckets):
    g = sluice(*generate_args(server.host, buckets[0], buckets[1]))
    assert g.returncode == 0, g.stdout
    url = s3url_lines(g.stdout)[0]
    r = sluice("s3url", "start-command", f"--s3-url={url}", "--controller-list", "127.0.0.1:19093")
    assert r.returncode == 0, r.stderr
    (argv, o), = commands(r.stdout)
    assert argv[2] == f"--s3-url={url}"
    assert o["node.id"] == "0"


def test_bare_s3url_command_is_a_usage_error():
    r = sluice("s3url")
    assert r.returncode == 2
    assert "generate" in r.stderr and "start-command" in r.stderr
