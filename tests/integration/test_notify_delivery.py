"""Bucket event delivery to real targets: the built-in stream engine (read back with kafka-python, the seed's
library), an external Kafka cluster (a second `sluice` process reached through librdkafka), and a webhook.

Runs in the first pass only (marker `cli`): the Kafka clients are Debian packages of /usr/bin/python3.
"""
import http.server
import json
import os
import signal
import threading
import time
import uuid

import pytest

from conftest import MOTO, unique_bucket

pytestmark = [pytest.mark.cli, pytest.mark.sluice_only,
              pytest.mark.skipif(MOTO, reason="moto has no bucket notifications")]

kafka = pytest.importorskip("kafka")
ck = pytest.importorskip("confluent_kafka")


def admin_ok(server, *args):
    r = server.admin(*args)
    assert r.returncode == 0, f"sluice admin {' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def builtin_target(server, topic):
    """A built-in target of its own (topic per test); returns its ARN."""
    tid = "t" + uuid.uuid4().hex[:8]
    admin_ok(server, "config", "set", f"notify_sluice:{tid}", f"topic={topic}")
    return f"arn:minio:sqs::{tid}:sluice"


def put_rule(s3, bucket, arn, events=("s3:ObjectCreated:*",), prefix=None, suffix=None):
    rules = []
    if prefix is not None:
        rules.append({"Name": "prefix", "Value": prefix})
    if suffix is not None:
        rules.append({"Name": "suffix", "Value": suffix})
    qc = {"Id": "rule1", "QueueArn": arn, "Events": list(events)}
    if rules:
        qc["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"QueueConfigurations": [qc]})


def bucket_with_rule(s3, prefix, arn, **rule):
    """A new bucket whose rule sends its events (default: every ObjectCreated) to `arn`."""
    bucket = unique_bucket(prefix)
    s3.create_bucket(Bucket=bucket)
    put_rule(s3, bucket, arn, **rule)
    return bucket


def read_topic(bootstrap, topic, n, timeout=30, done=None):
    """Every message of `topic` from the beginning: waits for n, then a moment more for extras; with `done`
    (a test of the messages read so far) until it holds instead, however many came (at-least-once delivery
    may repeat events, so a count alone can stop before the last one)."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"rd-{uuid.uuid4().hex[:8]}",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "topic.metadata.refresh.interval.ms": 500})
    c.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    settle = None
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.3)
            if m is not None and not m.error():
                out.append(m)
            if done is not None:
                if m is not None and done(out):
                    break
                continue
            if len(out) >= n:
                settle = settle or time.monotonic() + 1.5
                if time.monotonic() > settle:
                    break
    finally:
        c.close()
    return out


def event_of(msg):
    return json.loads(msg.value().decode("ascii"))


def test_seed_flow_builtin_target_kafka_python(server):
    """The seed: rule with suffix .jpg on `images`, the seed's exact consumer pattern (kafka-python,
    value_deserializer decoding ASCII JSON, subscribe), rose.jpg + deeper/path/rose.jpg raise one event each,
    a .png raises none."""
    topic = f"my-topic-{uuid.uuid4().hex[:6]}"
    arn = builtin_target(server, topic)
    s3 = server.client()
    bucket = bucket_with_rule(s3, "images", arn,
                              events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectAccessed:*"),
                              suffix=".jpg")
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert got[0]["QueueArn"] == arn

    consumer = kafka.KafkaConsumer(bootstrap_servers=server.kafka,
                                   value_deserializer=lambda m: json.loads(m.decode("ascii")),
                                   auto_offset_reset="earliest", consumer_timeout_ms=15000)
    consumer.subscribe([topic])
    s3.put_object(Bucket=bucket, Key="rose.jpg", Body=b"\xff\xd8jpeg-1", ContentType="image/jpeg",
                  Metadata={"camera": "x"})
    s3.put_object(Bucket=bucket, Key="deeper/path/rose.jpg", Body=b"\xff\xd8jpeg-22", ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="rose.png", Body=b"png")
    events = []
    for msg in consumer:
        events.append(msg)
        if len(events) == 2:
            break
    # Nothing more (the .png does not match).
    extra = consumer.poll(timeout_ms=1500)
    consumer.close()
    assert len(events) == 2 and not any(extra.values()), [e.value for e in events]
    first, second = events[0].value, events[1].value
    assert events[0].key == f"{bucket}/rose.jpg".encode()
    assert events[1].key == f"{bucket}/deeper/path/rose.jpg".encode()
    assert first["EventName"] == "s3:ObjectCreated:Put"
    assert first["Key"] == f"{bucket}/rose.jpg"
    assert second["Key"] == f"{bucket}/deeper/path/rose.jpg"
    rec = second["Records"][0]
    assert rec["eventName"] == "s3:ObjectCreated:Put"
    assert rec["s3"]["bucket"]["name"] == bucket
    assert rec["s3"]["object"]["key"] == "deeper%2Fpath%2Frose.jpg"
    assert rec["s3"]["object"]["size"] == 9
    assert rec["s3"]["object"]["contentType"] == "image/jpeg"
    assert rec["s3"]["object"]["eTag"]
    assert first["Records"][0]["s3"]["object"]["userMetadata"].get("X-Amz-Meta-Camera") == "x"
    assert dict(events[0].headers).get("x-sluice-event-id"), events[0].headers


def test_every_operation_raises_its_event_name_and_no_other(make_server):
    server = make_server(name="names-ec", drives=4)  # versioning (delete markers) needs erasure-coded drives
    topic = f"names-{uuid.uuid4().hex[:6]}"
    arn = builtin_target(server, topic)
    s3 = server.client()
    bucket = bucket_with_rule(s3, "names", arn,
                              events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectAccessed:*"))
    expected = []

    def step(name, fn):
        fn()
        expected.append(name)

    step("s3:ObjectCreated:Put", lambda: s3.put_object(Bucket=bucket, Key="a", Body=b"1"))
    step("s3:ObjectAccessed:Get", lambda: s3.get_object(Bucket=bucket, Key="a")["Body"].read())
    step("s3:ObjectAccessed:Head", lambda: s3.head_object(Bucket=bucket, Key="a"))
    step("s3:ObjectCreated:Copy", lambda: s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"}))
    step("s3:ObjectCreated:PutTagging", lambda: s3.put_object_tagging(
        Bucket=bucket, Key="a", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}))
    step("s3:ObjectCreated:DeleteTagging", lambda: s3.delete_object_tagging(Bucket=bucket, Key="a"))

    def multipart():
        up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
        part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 100)
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    step("s3:ObjectCreated:CompleteMultipartUpload", multipart)
    step("s3:ObjectRemoved:Delete", lambda: s3.delete_object(Bucket=bucket, Key="b"))
    # Listing, bucket reads and a failed GET raise nothing.
    s3.list_objects_v2(Bucket=bucket)
    with pytest.raises(Exception):
        s3.get_object(Bucket=bucket, Key="missing")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "mp"}]})
    expected += ["s3:ObjectRemoved:Delete", "s3:ObjectRemoved:Delete"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    step("s3:ObjectCreated:Put", lambda: s3.put_object(Bucket=bucket, Key="v", Body=b"1"))
    step("s3:ObjectRemoved:DeleteMarkerCreated", lambda: s3.delete_object(Bucket=bucket, Key="v"))

    msgs = read_topic(server.kafka, topic, len(expected))
    names = [event_of(m)["EventName"] for m in msgs]
    assert names == expected
    keys = [event_of(m)["Key"] for m in msgs]
    assert keys[-2:] == [f"{bucket}/v", f"{bucket}/v"]
    dm = event_of(msgs[-1])["Records"][0]["s3"]["object"]
    assert "size" not in dm and "eTag" not in dm and dm.get("versionId"), dm


def test_external_kafka_target_down_then_up_delivers_everything_in_order(make_server):
    ext = make_server(name="ext-kafka")
    srv = make_server(name="notify-src")
    admin_ok(srv, "config", "set", "notify_kafka:ext", f"brokers={ext.kafka}", "topic=ext-events")
    s3 = srv.client()
    bucket = bucket_with_rule(s3, "ext", "arn:minio:sqs::ext:kafka")
    ext.stop()
    # 1,000 writes while the target is down: 100 keys written 10 times each, in order.
    for rnd in range(10):
        for k in range(100):
            s3.put_object(Bucket=bucket, Key=f"k{k:03d}", Body=f"{rnd}".encode())
    listed = json.loads(admin_ok(srv, "notify", "list", "--json"))["targets"]
    ext_row = [t for t in listed if t["arn"] == "arn:minio:sqs::ext:kafka"][0]
    assert ext_row["queued"] > 0, ext_row
    assert wait_for(lambda: [t for t in json.loads(admin_ok(srv, "notify", "list", "--json"))["targets"]
                             if t["arn"] == "arn:minio:sqs::ext:kafka"][0]["state"] == "offline", 20)
    ext.start()
    msgs = read_topic(ext.kafka, "ext-events", 1000, timeout=90)
    assert len(msgs) >= 1000
    ids = {dict(m.headers() or [])["x-sluice-event-id"] for m in msgs}
    assert len(ids) == 1000, "every event arrived (duplicates carry the same id)"
    per_key = {}
    seen_ids = set()
    for m in msgs:
        eid = dict(m.headers())["x-sluice-event-id"]
        if eid in seen_ids:
            continue
        seen_ids.add(eid)
        rec = event_of(m)["Records"][0]
        per_key.setdefault(rec["s3"]["object"]["key"], []).append(rec["s3"]["object"]["sequencer"])
    assert len(per_key) == 100
    for key, seqs in per_key.items():
        assert len(seqs) == 10 and seqs == sorted(seqs, key=lambda s: int(s, 16)), (key, seqs)


@pytest.mark.slow
def test_kill9_loses_no_event_of_an_acknowledged_write(make_server):
    srv = make_server(name="notify-kill9")
    topic = f"k9-{uuid.uuid4().hex[:6]}"
    arn = builtin_target(srv, topic)
    s3 = srv.client()
    bucket = bucket_with_rule(s3, "kill", arn)
    acked = []
    stop = threading.Event()

    def writer():
        c = srv.client()
        i = 0
        while not stop.is_set():
            try:
                c.put_object(Bucket=bucket, Key=f"o{i:05d}", Body=b"x")
                acked.append(f"o{i:05d}")
            except Exception:
                return
            i += 1

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(3)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 20
    srv.start()
    def keys_of(msgs):
        return {event_of(m)["Key"].split("/", 1)[1] for m in msgs}

    msgs = read_topic(srv.kafka, topic, len(acked), timeout=60, done=lambda out: set(acked) <= keys_of(out))
    keys = keys_of(msgs)
    missing = sorted(set(acked) - keys)
    assert not missing, (
        f"{len(missing)} acknowledged writes lost their event, e.g. {missing[:5]} "
        f"({len(msgs)} messages read for {len(acked)} acknowledged writes)")


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv = self.server
        with srv.lock:
            srv.attempts += 1
            fail = srv.attempts <= srv.fail_first
            if not fail:
                srv.got.append((dict(self.headers), body))
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    h = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    h.lock, h.attempts, h.fail_first, h.got = threading.Lock(), 0, 2, []
    t = threading.Thread(target=h.serve_forever, daemon=True)
    t.start()
    yield h
    h.shutdown()


def wait_for(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_webhook_target_retries_and_keeps_order(server, hook):
    port = hook.server_address[1]
    admin_ok(server, "config", "set", "notify_webhook:wh", f"endpoint=http://127.0.0.1:{port}/hook",
             "auth_token=s3cret")
    s3 = server.client()
    bucket = bucket_with_rule(s3, "hook", "arn:minio:sqs::wh:webhook")
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"w{i}", Body=b"x")
    assert wait_for(lambda: len(hook.got) >= 5), (hook.attempts, len(hook.got))
    assert hook.attempts >= 7, "the first two attempts failed and were retried"
    keys = [json.loads(b)["Key"] for _, b in hook.got]
    assert keys == [f"{bucket}/w{i}" for i in range(5)]
    headers = {k.lower(): v for k, v in hook.got[0][0].items()}
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["content-type"].startswith("application/json")
    assert headers.get("x-sluice-event-id")


def test_target_reconfigured_at_runtime(server, make_server):
    ext = make_server(name="ext-reconf")
    admin_ok(server, "config", "set", "notify_kafka:rc", f"brokers={ext.kafka}", "topic=first")
    s3 = server.client()
    bucket = bucket_with_rule(s3, "reconf", "arn:minio:sqs::rc:kafka")
    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    assert len(read_topic(ext.kafka, "first", 1)) == 1
    admin_ok(server, "config", "set", "notify_kafka:rc", "topic=second")
    out = admin_ok(server, "config", "get", "notify_kafka:rc")
    assert "topic=second" in out and f"brokers={ext.kafka}" in out
    s3.put_object(Bucket=bucket, Key="two", Body=b"2")
    msgs = read_topic(ext.kafka, "second", 1)
    assert [event_of(m)["Key"] for m in msgs] == [f"{bucket}/two"]


def test_admin_config_errors(server):
    r = server.admin("config", "set", "notify_kafka:bad", "brokers=")
    assert r.returncode != 0 and "brokers" in (r.stderr + r.stdout)
    r = server.admin("config", "set", "notify_kafka:bad", "no_such_key=1", "brokers=127.0.0.1:1")
    assert r.returncode != 0 and "no_such_key" in (r.stderr + r.stdout)
    r = server.admin("config", "set", "notify_webhook:bad", "endpoint=not a url")
    assert r.returncode != 0
    r = server.admin("config", "get", "notify_nothing:1")
    assert r.returncode != 0


def test_targets_from_the_config_file_and_environment(make_server, monkeypatch):
    monkeypatch.setenv("MINIO_NOTIFY_KAFKA_ENABLE_ENVK", "on")
    monkeypatch.setenv("MINIO_NOTIFY_KAFKA_BROKERS_ENVK", "127.0.0.1:1")
    monkeypatch.setenv("MINIO_NOTIFY_KAFKA_TOPIC_ENVK", "env-topic")
    srv = make_server(name="cfg-targets", overrides=["notify_sluice.cfg.topic=cfg-topic"])
    arns = {t["arn"]: t for t in json.loads(admin_ok(srv, "notify", "list", "--json"))["targets"]}
    assert "arn:minio:sqs::1:sluice" in arns, "the default built-in target"
    assert "arn:minio:sqs::cfg:sluice" in arns and "arn:minio:sqs::ENVK:kafka" in arns, arns  # ids keep their case, as in MinIO
    s3 = srv.client()
    bucket = bucket_with_rule(s3, "cfg", "arn:minio:sqs::cfg:sluice")
    s3.put_object(Bucket=bucket, Key="c", Body=b"1")
    msgs = read_topic(srv.kafka, "cfg-topic", 1)
    assert [event_of(m)["Key"] for m in msgs] == [f"{bucket}/c"]
