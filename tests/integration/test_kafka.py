"""The Kafka API with real clients: kcat, kafka-python (the seed's consumer), confluent-kafka (librdkafka).

Runs in the first pass only (marker `cli`): the clients are Debian packages of /usr/bin/python3.
"""
import json
import os
import shutil
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


@pytest.mark.parametrize("config, why", [
    ({"max.message.bytes": "99999999999"}, "Not a number of type INT"),  # used to be taken, then wrap
    ({"max.message.bytes": "-1"}, "at least 0"),
    ({"segment.bytes": "x"}, "Not a number of type INT"),
    ({"retention.ms": "abc"}, "Not a number of type LONG"),
    ({"retention.ms": "-7"}, "at least -1"),
    ({"retention.ms": "99999999999999999999"}, "Not a number of type LONG"),
    ({"no.such.config": "1"}, "Unknown topic config"),
])
def test_create_topic_with_a_bad_config_is_invalid_config(server, config, why):
    t = topic_name("badcfg")
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    with pytest.raises(ck.KafkaException) as e:
        admin.create_topics([ck_admin.NewTopic(t, num_partitions=1, replication_factor=1, config=config)])[t] \
            .result(timeout=10)
    err = e.value.args[0]
    assert err.code() == ck.KafkaError.INVALID_CONFIG and why in err.str(), err
    assert t not in admin.list_topics(timeout=10).topics


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


MEMBER_SCRIPT = r"""
import sys, confluent_kafka as ck
bootstrap, group, topic = sys.argv[1:4]
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                 "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "enable.auto.commit": True,
                 "auto.commit.interval.ms": 200})
c.subscribe([topic], on_assign=lambda _c, parts: print("assigned", len(parts), flush=True))
while True:
    m = c.poll(0.2)
    if m is not None and not m.error():
        print("got", int(m.value()), flush=True)
"""


def test_group_member_killed_mid_stream_loses_nothing(server):
    """Three members, one of them a process that is SIGKILLed while consuming: after its session times out
    its partitions move to the others, which resume from committed offsets: every message is seen."""
    t = topic_name("kill")
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    admin.create_topics([ck_admin.NewTopic(t, num_partitions=6, replication_factor=1)])[t].result(timeout=10)
    group = f"killed-{uuid.uuid4().hex[:6]}"
    victim = subprocess.Popen(["/usr/bin/python3", "-c", MEMBER_SCRIPT, server.kafka, group, t],
                              stdout=subprocess.PIPE, text=True)
    victim_seen = []
    reader = threading.Thread(target=lambda: [victim_seen.append(line) for line in victim.stdout], daemon=True)
    reader.start()
    seen, lock, stop, assignments = {}, threading.Lock(), threading.Event(), {}

    def member(name):
        c = ck.Consumer({"bootstrap.servers": server.kafka, "group.id": group, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
        c.subscribe([t], on_assign=lambda _c, parts: assignments.__setitem__(name, len(parts)))
        while not stop.is_set():
            m = c.poll(0.2)
            if m is not None and not m.error():
                with lock:
                    seen.setdefault(int(m.value()), name)
        c.close()

    threads = [threading.Thread(target=member, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                sum(assignments.values()) == 4 and any(x.startswith("assigned 2") for x in victim_seen)):
            time.sleep(0.2)
        assert sum(assignments.values()) == 4, (assignments, victim_seen[:3])
        p = ck.Producer({"bootstrap.servers": server.kafka, "acks": "all"})
        for i in range(300):
            p.produce(t, value=str(i).encode(), partition=i % 6)
            if i == 120:
                p.flush(10)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not any(x.startswith("got") for x in victim_seen):
                    time.sleep(0.1)
                victim.kill()  # SIGKILL: no LeaveGroup, no final commit
                victim.wait()
        p.flush(10)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with lock:
                if len(seen) == 300:
                    break
            time.sleep(0.2)
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=20)
        if victim.poll() is None:
            victim.kill()
    assert any(x.startswith("got") for x in victim_seen), "the victim consumed before it was killed"
    assert sorted(seen) == list(range(300)) or set(seen) | {
        int(x.split()[1]) for x in victim_seen if x.startswith("got")} == set(range(300)), \
        f"missing {sorted(set(range(300)) - set(seen))[:10]}"
    # Partitions of the killed member were taken over: messages produced after the kill on every partition
    # were consumed by the survivors.
    assert {i % 6 for i in seen if i > 200} == set(range(6))


def test_static_membership_restart_keeps_assignment_without_rebalance(server):
    """KIP-345: a member with group.instance.id that restarts within the session timeout gets its partitions
    back and the other member sees no rebalance."""
    t = topic_name("static")
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    admin.create_topics([ck_admin.NewTopic(t, num_partitions=4, replication_factor=1)])[t].result(timeout=10)
    group = f"static-{uuid.uuid4().hex[:6]}"

    def consumer(instance):
        return ck.Consumer({"bootstrap.servers": server.kafka, "group.id": group, "group.instance.id": instance,
                            "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
                            "auto.offset.reset": "earliest"})

    events = {"a": [], "b": []}

    def subscribe(c, name):
        c.subscribe([t], on_assign=lambda _c, parts: events[name].append(("assign", sorted(p.partition for p in parts))),
                    on_revoke=lambda _c, parts: events[name].append(("revoke", sorted(p.partition for p in parts))))

    def poll_until(cs, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not pred():
            for c in cs:
                c.poll(0.1)
        return pred()

    a, b = consumer("inst-a"), consumer("inst-b")
    subscribe(a, "a")
    subscribe(b, "b")
    settled = lambda: (events["a"] and events["b"] and events["a"][-1][0] == "assign" and events["b"][-1][0] == "assign"
                       and len(events["a"][-1][1]) + len(events["b"][-1][1]) == 4)
    assert poll_until([a, b], settled), events
    a_parts = events["a"][-1][1]
    b_events_before = len(events["b"])
    a.close()  # a static member does not send LeaveGroup on close
    a2 = consumer("inst-a")
    events["a"] = []
    subscribe(a2, "a")
    assert poll_until([a2, b], lambda: events["a"] and events["a"][-1][0] == "assign"), events
    for _ in range(20):  # give a (wrong) rebalance time to reach b
        b.poll(0.1)
        a2.poll(0.1)
    assert events["a"][-1][1] == a_parts, "the restarted static member got its old partitions back"
    assert len(events["b"]) == b_events_before, f"b saw a rebalance: {events['b']}"
    a2.close()
    b.close()


def test_transactional_producer_is_refused_cleanly(server):
    p = ck.Producer({"bootstrap.servers": server.kafka, "transactional.id": f"tx-{uuid.uuid4().hex[:6]}"})
    with pytest.raises(ck.KafkaException) as e:
        p.init_transactions(10)
    assert e.value.args[0].code() in (ck.KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,), e.value
    # The broker keeps serving others.
    r = kcat(server, "-L")
    assert r.returncode == 0, r.stderr


def test_deleted_topic_forgets_group_offsets(server):
    t = topic_name("gone")
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    admin.create_topics([ck_admin.NewTopic(t, num_partitions=2, replication_factor=1)])[t].result(timeout=10)
    p = ck.Producer({"bootstrap.servers": server.kafka})
    for i in range(10):
        p.produce(t, value=str(i).encode(), partition=i % 2)
    p.flush(10)
    group = f"gone-{uuid.uuid4().hex[:6]}"
    assert len(consume_all(server.kafka, t, 10, group=group)) == 10  # commits offsets 5/5
    c = ck.Consumer({"bootstrap.servers": server.kafka, "group.id": group})
    committed = c.committed([ck.TopicPartition(t, 0), ck.TopicPartition(t, 1)], timeout=10)
    assert [tp.offset for tp in committed] == [5, 5]
    admin.delete_topics([t])[t].result(timeout=10)
    admin.create_topics([ck_admin.NewTopic(t, num_partitions=2, replication_factor=1)])[t].result(timeout=10)
    committed = c.committed([ck.TopicPartition(t, 0), ck.TopicPartition(t, 1)], timeout=10)
    c.close()
    assert [tp.offset for tp in committed] == [ck.OFFSET_INVALID] * 2, "no stale offsets for the new topic"


def test_kafkajs_producer_and_consumer_group(server):
    js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    assert os.path.isdir(os.path.join(js, "node_modules", "kafkajs")), \
        "kafkajs missing: run `npm ci` in tests/integration/js (scripts/test.sh does)"
    t, group = topic_name("js"), f"js-{uuid.uuid4().hex[:6]}"
    r = subprocess.run(["node", os.path.join(js, "kafkajs_client.js"), server.kafka, t, group, "60"],
                       capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["created"] is True and out["partitions"] == 3
    assert all(a["errorCode"] == 0 for a in out["acks"])
    values = sorted(int(m["value"].split("-")[1]) for m in out["first"])
    assert values == list(range(60)), "each message exactly once"
    for m in out["first"]:
        i = int(m["value"].split("-")[1])
        assert m["key"] == f"key-{i % 7}" and m["header"] == f"h{i}"
    # Per key, offsets grow in produce order (one partition per key).
    by_key = {}
    for m in sorted(out["first"], key=lambda m: (m["partition"], int(m["offset"]))):
        by_key.setdefault(m["key"], []).append(int(m["value"].split("-")[1]))
    assert all(v == sorted(v) for v in by_key.values())
    assert sorted(p for ps in out["firstMembers"] for p in ps) == [0, 1, 2], out["firstMembers"]
    assert sorted(out["second"]) == [f"late-{i}" for i in range(5)], "the restarted group resumed from its commits"


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
