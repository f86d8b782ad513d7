"""The Kafka API with real clients: kcat, kafka-python (the seed's consumer), confluent-kafka (librdkafka).

Runs in the first pass only (marker `cli`): the clients are Debian packages of /usr/bin/python3.
"""
import json
import subprocess
import threading
import time
import uuid

import pytest

from conftest import MOTO

pytestmark = [pytest.mark.cli, pytest.mark.sluice_only,
              pytest.mark.skipif(MOTO, reason="moto has no Kafka API")]

kafka = pytest.importorskip("kafka")
ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")


def topic_name(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def kcat(server, *args, input=None, timeout=30):
    r = subprocess.run(["kcat", "-b", server.kafka, *args], input=input, capture_output=True, timeout=timeout)
    return r


def consume_all(bootstrap, topic, n, group=None, timeout=30, extra=None):
    conf = {"bootstrap.servers": bootstrap, "group.id": group or f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest", "enable.auto.commit": False}
    conf.update(extra or {})
    c = ck.Consumer(conf)
    c.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert not m.error(), m.error()
            out.append(m)
        c.commit(asynchronous=False) if out else None
    finally:
        c.close()
    return out


def test_kcat_metadata_produce_consume_with_keys_and_headers(server):
    t = topic_name()
    r = kcat(server, "-t", t, "-P", "-K:", "-H", "h1=v1", input=b"k1:one\nk2:two\nk3:three\n")
    assert r.returncode == 0, r.stderr
    r = kcat(server, "-t", t, "-C", "-e", "-f", "%k|%s|%o|%h\\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().strip().splitlines()
    assert lines == ["k1|one|0|h1=v1", "k2|two|1|h1=v1", "k3|three|2|h1=v1"]
    meta = kcat(server, "-L", "-t", t).stdout.decode()
    assert f'topic "{t}" with 1 partitions' in meta
    assert "leader 1" in meta


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_kcat_every_compression_codec(server, codec):
    t = topic_name(codec)
    payload = "".join(f"{codec}-message-{i}\n" for i in range(50)).encode()
    r = kcat(server, "-t", t, "-P", "-z", codec, input=payload)
    assert r.returncode == 0, r.stderr
    r = kcat(server, "-t", t, "-C", "-e", "-f", "%s\\n")
    assert r.stdout.decode().splitlines() == payload.decode().splitlines()


def test_seed_consumer_pattern_kafka_python(server):
    """The seed's consumer: KafkaConsumer(bootstrap_servers=..., value_deserializer=...) + subscribe."""
    t = topic_name("my-topic")
    p = kafka.KafkaProducer(bootstrap_servers=server.kafka)
    events = [{"EventName": "s3:ObjectCreated:Put", "Key": f"images/{i}.jpg"} for i in range(20)]
    for e in events:
        p.send(t, key=e["Key"].encode(), value=json.dumps(e).encode("ascii"))
    p.flush()
    p.close()
    consumer = kafka.KafkaConsumer(bootstrap_servers=server.kafka,
                                   value_deserializer=lambda m: json.loads(m.decode("ascii")),
                                   auto_offset_reset="earliest", group_id=f"seed-{uuid.uuid4().hex[:6]}",
                                   consumer_timeout_ms=10000)
    consumer.subscribe([t])
    got = []
    for msg in consumer:
        got.append(msg.value)
        if len(got) == len(events):
            break
    consumer.commit()
    consumer.close()
    assert got == events


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4"])
def test_kafka_python_producer_codecs(server, codec):
    t = topic_name(codec)
    try:
        p = kafka.KafkaProducer(bootstrap_servers=server.kafka, compression_type=codec)
    except Exception as e:  # the codec's Python module may be missing
        pytest.skip(f"kafka-python cannot use {codec}: {e}")
    for i in range(30):
        p.send(t, value=f"{codec}-{i}".encode())
    p.flush()
    p.close()
    got = consume_all(server.kafka, t, 30)
    assert [m.value().decode() for m in got] == [f"{codec}-{i}" for i in range(30)]


def test_confluent_idempotent_producer_and_offsets_resume(server):
    t = topic_name("idem")
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    fs = admin.create_topics([ck_admin.NewTopic(t, num_partitions=4, replication_factor=1)])
    fs[t].result(timeout=10)
    p = ck.Producer({"bootstrap.servers": server.kafka, "enable.idempotence": True, "acks": "all"})
    for i in range(400):
        p.produce(t, key=str(i % 17).encode(), value=str(i).encode())
    assert p.flush(20) == 0
    group = f"resume-{uuid.uuid4().hex[:6]}"
    first = consume_all(server.kafka, t, 150, group=group)
    assert len(first) >= 150
    rest = consume_all(server.kafka, t, 400 - len(first), group=group)
    values = sorted(int(m.value()) for m in first + rest)
    assert values == list(range(400)), "every message exactly once across the two sessions"
    md = admin.list_topics(t, timeout=10)
    assert len(md.topics[t].partitions) == 4


def test_consumer_group_of_three_splits_partitions_and_survives_a_member_leaving(server):
    t = topic_name("grp")
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    admin.create_topics([ck_admin.NewTopic(t, num_partitions=6, replication_factor=1)])[t].result(timeout=10)
    group = f"three-{uuid.uuid4().hex[:6]}"
    seen = {}
    lock = threading.Lock()
    stop = threading.Event()
    assignments = {}

    def member(name, leave_after=None):
        c = ck.Consumer({"bootstrap.servers": server.kafka, "group.id": group, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})

        def on_assign(consumer, parts):
            with lock:
                assignments[name] = sorted(p.partition for p in parts)

        c.subscribe([t], on_assign=on_assign)
        start = time.monotonic()
        while not stop.is_set():
            m = c.poll(0.2)
            if m is not None and not m.error():
                with lock:
                    seen.setdefault(int(m.value()), name)
            if leave_after and time.monotonic() - start > leave_after:
                break
        c.close()

    threads = [threading.Thread(target=member, args=("a",)), threading.Thread(target=member, args=("b",)),
               threading.Thread(target=member, args=("c", 6))]
    for th in threads:
        th.start()
    # Wait for the three-way split.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(assignments) == 3 and sum(len(v) for v in assignments.values()) == 6 and \
                    all(assignments.values()):
                break
        time.sleep(0.2)
    with lock:
        split = dict(assignments)
    assert len(split) == 3 and all(len(v) == 2 for v in split.values()), split
    p = ck.Producer({"bootstrap.servers": server.kafka})
    for i in range(300):
        p.produce(t, value=str(i).encode(), partition=i % 6)
        if i == 150:
            p.flush(10)
            time.sleep(4)  # member c leaves around now: its partitions move to a and b
    p.flush(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(seen) == 300:
                break
        time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join(timeout=20)
    assert sorted(seen) == list(range(300)), f"missing {sorted(set(range(300)) - set(seen))[:10]}"


@pytest.mark.slow
def test_acknowledged_messages_survive_kill9(make_server):
    srv = make_server(name="kafka-kill9")
    t = topic_name("dur")
    p = ck.Producer({"bootstrap.servers": srv.kafka, "enable.idempotence": True, "acks": "all",
                     "linger.ms": 1})
    acked = []
    lock = threading.Lock()

    def cb(err, msg):
        if err is None:
            with lock:
                acked.append(int(msg.value()))

    stop = threading.Event()

    def produce():
        i = 0
        while not stop.is_set():
            try:
                p.produce(t, value=str(i).encode(), on_delivery=cb)
                i += 1
            except BufferError:
                pass
            p.poll(0)
        p.flush(0)

    th = threading.Thread(target=produce)
    th.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 2000:
                break
        time.sleep(0.05)
    srv.kill9()
    stop.set()
    th.join(timeout=10)
    with lock:
        acked_before = sorted(acked)
    assert len(acked_before) >= 2000
    srv.start()
    got = consume_all(srv.kafka, t, len(acked_before), timeout=40)
    values = [int(m.value()) for m in got]
    assert set(acked_before) <= set(values), "an acknowledged message was lost"
    assert len(values) == len(set(values)), "duplicates after restart"
    assert values == sorted(values), "order changed"


def test_bad_frames_get_a_closed_connection_not_a_crash(server):
    import socket
    import struct
    for payload in [b"\x00\x00\x00\x04abcd", struct.pack(">i", 2 ** 31 - 1) + b"x" * 10,
                    struct.pack(">ihhi", 8, 99, 0, 1), b"\xff" * 64]:
        with socket.create_connection(("127.0.0.1", server.kafka_port), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            try:
                s.recv(100)
            except OSError:
                pass
    r = kcat(server, "-L")
    assert r.returncode == 0, r.stderr
