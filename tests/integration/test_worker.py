"""`sluice worker image-resize` and `sluice worker exec` end to end: a real server (S3 + Kafka API), real
images made here with Pillow (and the `vips` CLI for a 100-megapixel one), MinIO-format bucket events produced
with confluent-kafka the way the notifier sends them (message key "bucket/key", header x-sluice-event-id), and
the real notification flow when the server has it.

Runs in the first pass only (marker `cli`): confluent-kafka, kafka-python and Pillow are Debian packages of
/usr/bin/python3.
"""
import datetime
import io
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import MOTO, USERS, _LIVE_PROCS, sluice_bin, unique_bucket

pytestmark = [pytest.mark.cli, pytest.mark.sluice_only,
              pytest.mark.skipif(MOTO, reason="moto has no Kafka API")]

ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")
Image = pytest.importorskip("PIL.Image")

ROOT_AK, ROOT_SK = USERS["root"]


# --------------------------------------------------------------------------------------------------
# helpers


def new_topic(server, partitions=1, prefix="ev"):
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = ck_admin.AdminClient({"bootstrap.servers": server.kafka})
    for f in admin.create_topics([ck_admin.NewTopic(name, partitions, 1)]).values():
        f.result(timeout=30)
    return name


def image_bytes(fmt, w, h, orientation=None, seed=0):
    """A gradient image (so encoders and resizers have work) in Pillow format `fmt` (JPEG, PNG, WEBP)."""
    im = Image.linear_gradient("L").resize((w, h))
    rgb = Image.merge("RGB", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), Image.new("L", (w, h), seed % 256)))
    out = io.BytesIO()
    kw = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    rgb.save(out, fmt, **kw)
    return out.getvalue()


def minio_event(bucket, key, size=None, etag="", name="s3:ObjectCreated:Put", user_metadata=None):
    """(message key, value) exactly as MinIO's Kafka target sends one record (../shared/reference/minio.md §1)."""
    obj = {"key": urllib.parse.quote_plus(key), "eTag": etag, "sequencer": "18A3F2C4B5D6E7F8"}
    if size:
        obj["size"] = size
    if user_metadata:
        obj["userMetadata"] = user_metadata
    now = datetime.datetime.now(datetime.timezone.utc)
    rec = {"eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
           "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
           "eventName": name, "userIdentity": {"principalId": ROOT_AK},
           "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
                  "bucket": {"name": bucket, "ownerIdentity": {"principalId": ROOT_AK},
                             "arn": f"arn:aws:s3:::{bucket}"},
                  "object": obj}}
    return f"{bucket}/{key}", json.dumps({"EventName": name, "Key": f"{bucket}/{key}", "Records": [rec]})


class Events:
    """Produces MinIO-format events to a topic."""

    def __init__(self, server, topic):
        self.topic = topic
        self.p = ck.Producer({"bootstrap.servers": server.kafka, "linger.ms": 5})

    def raw(self, key, value):
        self.p.produce(self.topic, key=key, value=value, headers=[("x-sluice-event-id", uuid.uuid4().hex)])

    def put(self, s3, bucket, key, body, **kw):
        """Uploads the object, then produces its ObjectCreated:Put event."""
        etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
        self.raw(*minio_event(bucket, key, size=len(body), etag=etag, **kw))
        return etag

    def flush(self):
        assert self.p.flush(30) == 0


class Worker:
    """One `sluice worker ...` process with its log."""

    def __init__(self, server, tmp_path, kind, topic, group, *args, name="w", s3_endpoint=None):
        self.log_path = tmp_path / f"worker-{name}-{uuid.uuid4().hex[:6]}.log"
        self.cmd = [sluice_bin(), "worker", kind, "--brokers", server.kafka, "--topic", topic, "--group", group,
                    "--s3-endpoint", s3_endpoint or server.endpoint, "--access-key", ROOT_AK,
                    "--secret-key", ROOT_SK, "--summary-interval", "2", "--commit-interval-ms", "200",
                    "--retry-backoff-ms", "100", "--retry-backoff-max-ms", "1000", *args]
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.log.write(f"===== {' '.join(self.cmd)}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        _LIVE_PROCS.add(self.proc)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _LIVE_PROCS.discard(self.proc)
        self.log.close()
        return self.proc.returncode

    def text(self):
        return self.log_path.read_text(errors="replace")

    def done_lines(self):
        """Per-object info lines of finished messages."""
        return [l for l in self.text().splitlines() if " -> " in l or "command exited 0" in l]

    def wait_log(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return
            assert self.proc.poll() is None, f"worker exited with {self.proc.returncode}:\n{self.text()[-5000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the worker log after {timeout}s:\n{self.text()[-5000:]}")

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None


@pytest.fixture
def workers(server, tmp_path):
    made = []

    def make(*args, **kw):
        w = Worker(server, tmp_path, *args, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop(signal.SIGKILL)


def keys_of(s3, bucket, prefix=""):
    out = set()
    token = None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        try:
            r = s3.list_objects_v2(**kw)
        except s3.exceptions.NoSuchBucket:
            return out  # the worker creates it on start
        out |= {o["Key"] for o in r.get("Contents", [])}
        if not r.get("IsTruncated"):
            return out
        token = r["NextContinuationToken"]


def wait_keys(s3, bucket, want, timeout=60, worker=None):
    deadline = time.monotonic() + timeout
    have = set()
    while time.monotonic() < deadline:
        have = keys_of(s3, bucket)
        if set(want) <= have:
            return have
        time.sleep(0.2)
    log = worker.text()[-6000:] if worker else ""
    raise AssertionError(f"missing in {bucket}: {sorted(set(want) - have)}\nworker log:\n{log}")


def open_image(s3, bucket, key):
    obj = s3.get_object(Bucket=bucket, Key=key)
    return Image.open(io.BytesIO(obj["Body"].read())), obj


def read_topic(server, topic, n, timeout=30):
    c = ck.Consumer({"bootstrap.servers": server.kafka, "group.id": f"rd-{uuid.uuid4().hex[:8]}",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "topic.metadata.refresh.interval.ms": 500})
    c.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.3)
            if m is not None and not m.error():
                out.append(m)
    finally:
        c.close()
    return out


def committed(server, group, topic, partitions):
    c = ck.Consumer({"bootstrap.servers": server.kafka, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([ck.TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def topic_with_objects(server, s3, bucket, objects, partitions=1):
    """A new topic holding the events of `objects` (key -> bytes), uploaded to `bucket` first."""
    topic = new_topic(server, partitions)
    ev = Events(server, topic)
    for key, body in objects.items():
        ev.put(s3, bucket, key, body)
    ev.flush()
    return topic


@pytest.fixture
def buckets(server):
    s3 = server.client()
    src, dst = unique_bucket("images"), unique_bucket("processed")
    s3.create_bucket(Bucket=src)
    s3.create_bucket(Bucket=dst)
    return s3, src, dst


# --------------------------------------------------------------------------------------------------
# image-resize


def test_resizes_jpeg_png_webp_into_predictable_keys(server, buckets, workers):
    s3, src, dst = buckets
    topic = new_topic(server, 2)
    ev = Events(server, topic)
    sources = {
        "rose.jpg": image_bytes("JPEG", 1600, 1200),
        "deeper/path/rose.jpg": image_bytes("JPEG", 1200, 1600, seed=1),
        "deeper/path/leaf.png": image_bytes("PNG", 800, 400),
        "deeper/path/sky.webp": image_bytes("WEBP", 1000, 1000),
        "my photo+1.jpg": image_bytes("JPEG", 640, 480, seed=2),
        "rotated.jpg": image_bytes("JPEG", 1600, 1200, orientation=6),  # upright: 1200 x 1600
    }
    etags = {k: ev.put(s3, src, k, v) for k, v in sources.items()}
    ev.flush()
    w = workers("image-resize", topic, f"g-{uuid.uuid4().hex[:6]}", "--dest-bucket", dst,
                "--size", "320x320", "--size", "1024x1024", "--format", "webp", "--quality", "80")
    want = {
        "rose-320x320.webp": (320, 240), "rose-1024x1024.webp": (1024, 768),
        "deeper/path/rose-320x320.webp": (240, 320), "deeper/path/rose-1024x1024.webp": (768, 1024),
        "deeper/path/leaf-320x320.webp": (320, 160), "deeper/path/leaf-1024x1024.webp": (800, 400),  # no upscaling
        "deeper/path/sky-320x320.webp": (320, 320), "deeper/path/sky-1024x1024.webp": (1000, 1000),
        "my photo+1-320x320.webp": (320, 240), "my photo+1-1024x1024.webp": (640, 480),
        "rotated-320x320.webp": (240, 320), "rotated-1024x1024.webp": (768, 1024),
    }
    wait_keys(s3, dst, want, worker=w)
    for key, size in want.items():
        im, obj = open_image(s3, dst, key)
        assert im.format == "WEBP", key
        assert im.size == size, (key, im.size)
        assert obj["ContentType"] == "image/webp"
    _, obj = open_image(s3, dst, "deeper/path/rose-320x320.webp")
    meta = obj["Metadata"]
    assert meta["sluice-source-bucket"] == src
    assert meta["sluice-source-key"] == "deeper%2Fpath%2Frose.jpg"
    assert meta["sluice-source-etag"] == etags["deeper/path/rose.jpg"]
    assert (meta["sluice-width"], meta["sluice-height"]) == ("240", "320")
    assert keys_of(s3, dst) == set(want)  # nothing else
    # One info line per object, naming source and outputs.
    w.wait_log(r"deeper/path/leaf.png \(800x400, .*\) -> " + re.escape(dst) + r"/deeper/path/leaf-320x320.webp 320x160")
    w.wait_log(r"6 processed")
    assert w.stop() == 0
    assert "(stopped)" in w.text()
    # Offsets are committed: a new worker of the group finds nothing to do.
    offs = committed(server, w.cmd[w.cmd.index("--group") + 1], topic, 2)
    assert sum(o for o in offs.values() if o >= 0) == len(sources), offs


def test_public_results_are_readable_anonymously(server, buckets, workers):
    s3, src, dst = buckets
    s3.put_bucket_policy(Bucket=dst, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                       "Resource": [f"arn:aws:s3:::{dst}/*"]}]}))
    topic = topic_with_objects(server, s3, src, {"pub.jpg": image_bytes("JPEG", 500, 500)})
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", dst, "--size", "100x100")
    wait_keys(s3, dst, ["pub-100x100.webp"], worker=w)
    r = server.request("GET", f"/{dst}/pub-100x100.webp")  # no credentials
    assert r.status == 200, r
    assert Image.open(io.BytesIO(r.body)).size == (100, 100)


@pytest.mark.parametrize("fmt,pil_format", [("jpeg", "JPEG"), ("png", "PNG"), ("avif", None)])
def test_output_formats_and_cover_fit(server, buckets, workers, fmt, pil_format):
    s3, src, dst = buckets
    topic = topic_with_objects(server, s3, src, {"wide.png": image_bytes("PNG", 900, 300)})
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", dst, "--size", "200x200",
                "--size", "120x60", "--fit", "cover", "--format", fmt)
    ext = "jpg" if fmt == "jpeg" else fmt
    want = [f"wide-200x200.{ext}", f"wide-120x60.{ext}"]
    wait_keys(s3, dst, want, worker=w)
    for key, size in zip(want, [(200, 200), (120, 60)]):
        obj = s3.get_object(Bucket=dst, Key=key)
        body = obj["Body"].read()
        assert obj["ContentType"] == f"image/{fmt}"
        if pil_format:
            im = Image.open(io.BytesIO(body))
            assert (im.format, im.size) == (pil_format, size)
        else:
            assert body[4:12] == b"ftypavif", body[:16]
            assert obj["Metadata"]["sluice-width"] == str(size[0])
            assert obj["Metadata"]["sluice-height"] == str(size[1])


def test_corrupt_image_goes_to_the_dlq_and_does_not_block_the_others(server, buckets, workers):
    s3, src, dst = buckets
    topic = new_topic(server, 1)  # one partition: the corrupt image sits between the good ones
    ev = Events(server, topic)
    ev.put(s3, src, "a.jpg", image_bytes("JPEG", 400, 300))
    ev.put(s3, src, "corrupt.jpg", b"\xff\xd8\xff\xe0" + os.urandom(5000))
    ev.raw("junk", b"this is not an event")
    full = image_bytes("JPEG", 800, 600)
    ev.put(s3, src, "truncated.jpg", full[: len(full) // 2])
    ev.put(s3, src, "b.jpg", image_bytes("PNG", 400, 300))
    ev.flush()
    dlq = f"{topic}-dlq"
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", dst, "--size", "100x100")
    wait_keys(s3, dst, ["a-100x100.webp", "b-100x100.webp"], worker=w)
    msgs = read_topic(server, dlq, 3)
    assert len(msgs) == 3, w.text()[-4000:]
    by_key = {m.key(): m for m in msgs}
    m = by_key[f"{src}/corrupt.jpg".encode()]
    headers = {k: (v or b"").decode() for k, v in m.headers()}
    assert headers["x-sluice-dlq-reason"] == "undecodable"
    assert headers["x-sluice-dlq-worker"] == "image-resize"
    assert headers["x-sluice-event-id"]  # the original headers are kept
    assert headers["x-sluice-dlq-source"].startswith(f"{topic}/0/")
    body = json.loads(m.value())
    assert body["reason"] == "undecodable"
    assert body["source"]["topic"] == topic and body["source"]["partition"] == 0
    assert body["event"]["Records"][0]["s3"]["object"]["key"] == "corrupt.jpg"
    assert body["attempts"] == 1
    junk = json.loads(by_key[b"junk"].value())
    assert junk["reason"] == "bad_event"
    assert junk["event_base64"]
    trunc = json.loads(by_key[f"{src}/truncated.jpg".encode()].value())
    assert trunc["reason"] == "undecodable", trunc
    assert keys_of(s3, dst) == {"a-100x100.webp", "b-100x100.webp"}
    w.wait_log(r"3 dead-lettered")


def test_oversized_images_are_dead_lettered_and_100_megapixels_fit_in_bounded_memory(server, buckets, workers,
                                                                                     tmp_path):
    if not shutil.which("vips"):
        pytest.skip("vips CLI (libvips-tools) not installed")
    s3, src, dst = buckets
    # 10000 x 10000 = 100 megapixels (300 MB decoded), made by vips without holding it in memory.
    big = tmp_path / "big.jpg"
    subprocess.run(["vips", "xyz", str(tmp_path / "xyz.v"), "10000", "10000"], check=True)
    subprocess.run(["vips", "cast", str(tmp_path / "xyz.v"), str(big) + "[Q=70]", "uchar"], check=True)
    topic = topic_with_objects(server, s3, src, {"huge.jpg": big.read_bytes(),
                                                 "medium.png": image_bytes("PNG", 2000, 1000)})  # 2 MP
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", dst, "--size", "320x320",
                "--size", "1024x1024", "--max-megapixels", "1.5", "--concurrency", "2")
    msgs = read_topic(server, f"{topic}-dlq", 2)
    reasons = {m.key().decode(): json.loads(m.value()) for m in msgs}
    assert set(reasons) == {f"{src}/huge.jpg", f"{src}/medium.png"}, w.text()[-3000:]
    assert reasons[f"{src}/medium.png"]["reason"] == "too_large"
    assert "2.0 megapixels" in reasons[f"{src}/medium.png"]["error"]
    assert "100.0 megapixels" in reasons[f"{src}/huge.jpg"]["error"]
    w.stop()
    # With the default limit (150 MP) the 100 MP image is resized, shrink-on-load keeping memory small.
    group = "g-" + uuid.uuid4().hex[:6]
    w2 = workers("image-resize", topic, group, "--dest-bucket", dst, "--size", "320x320", "--size", "1024x1024",
                 name="w2")
    wait_keys(s3, dst, ["huge-320x320.webp", "huge-1024x1024.webp", "medium-320x320.webp"], worker=w2)
    im, _ = open_image(s3, dst, "huge-1024x1024.webp")
    assert im.size == (1024, 1024)
    rss = w2.peak_rss_mib()
    print(f"\nworker peak RSS after a 100-megapixel JPEG ({big.stat().st_size >> 20} MiB): {rss:.0f} MiB")
    assert rss < 300, f"peak RSS {rss:.0f} MiB"


def test_deleted_before_processing_and_non_creation_events_are_skipped(server, buckets, workers):
    s3, src, dst = buckets
    topic = new_topic(server)
    ev = Events(server, topic)
    ev.raw(*minio_event(src, "gone.jpg", size=100, etag="abc"))
    ev.raw(*minio_event(src, "x.jpg", name="s3:ObjectRemoved:Delete"))
    ev.raw(*minio_event(src, "x.jpg", name="s3:ObjectAccessed:Get"))
    ev.raw(*minio_event(src, "x.jpg", name="s3:ObjectCreated:PutTagging"))
    ev.put(s3, src, "last.jpg", image_bytes("JPEG", 300, 300))
    ev.flush()
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", dst, "--size", "64x64")
    wait_keys(s3, dst, ["last-64x64.webp"], worker=w)
    w.wait_log(r"deleted before processing")
    w.wait_log(r"1 processed .*4 skipped, 0 dead-lettered")
    assert not read_topic(server, f"{topic}-dlq", 1, timeout=2)


def test_never_loops_when_writing_into_the_watched_bucket(server, workers):
    """Destination = source bucket: the outputs' own events (as the notifier would raise them, with or without
    userMetadata) are skipped, so each image gives exactly its outputs."""
    s3 = server.client()
    bucket = unique_bucket("same")
    s3.create_bucket(Bucket=bucket)
    topic = new_topic(server)
    ev = Events(server, topic)
    ev.put(s3, bucket, "cat.jpg", image_bytes("JPEG", 600, 400))
    ev.flush()
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", bucket, "--size", "100x100",
                "--size", "50x50")
    wait_keys(s3, bucket, ["cat-100x100.webp", "cat-50x50.webp"], worker=w)
    # The notifier raises events for the outputs: one carries userMetadata, the other does not.
    ev.raw(*minio_event(bucket, "cat-100x100.webp", name="s3:ObjectCreated:Put",
                        user_metadata={"X-Amz-Meta-Sluice-Source-Key": "cat.jpg"}))
    ev.raw(*minio_event(bucket, "cat-50x50.webp"))
    ev.flush()
    w.wait_log(r"1 processed .*2 skipped")
    assert "written by a worker" in w.text()
    time.sleep(1)
    assert keys_of(s3, bucket) == {"cat.jpg", "cat-100x100.webp", "cat-50x50.webp"}


def test_kill9_mid_batch_then_restart_processes_every_image(server, buckets, workers):
    s3, src, dst = buckets
    topic = new_topic(server, 2)
    ev = Events(server, topic)
    n = 60
    for i in range(n):
        ev.put(s3, src, f"batch/img{i:03d}.jpg", image_bytes("JPEG", 1600, 1200, seed=i))
    ev.flush()
    group = "g-" + uuid.uuid4().hex[:6]
    args = ("--dest-bucket", dst, "--size", "320x320", "--size", "1024x1024", "--concurrency", "2",
            "--max-in-flight", "4")
    w1 = workers("image-resize", topic, group, *args, name="first")
    deadline = time.monotonic() + 60
    while len(w1.done_lines()) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    done_before = len(w1.done_lines())
    assert 0 < done_before < n, w1.text()[-3000:]
    w1.stop(signal.SIGKILL)
    w2 = workers("image-resize", topic, group, *args, name="second")
    want = [f"batch/img{i:03d}-{s}.webp" for i in range(n) for s in ("320x320", "1024x1024")]
    wait_keys(s3, dst, want, timeout=120, worker=w2)
    w2.wait_log(r"processed \(\+")
    # Every image processed, none lost; duplicates are at most what was in flight or finished after the last
    # commit (commits every 200 ms here).
    deadline = time.monotonic() + 30
    while len(set(done_keys(w1) + done_keys(w2))) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    first, second = done_keys(w1), done_keys(w2)
    assert set(first) | set(second) == {f"{src}/batch/img{i:03d}.jpg" for i in range(n)}
    duplicates = len(first) + len(second) - n
    print(f"\nkill -9 after {done_before} of {n} images: {duplicates} processed twice")
    assert 0 <= duplicates <= 8, (duplicates, sorted(set(first) & set(second)))
    assert keys_of(s3, dst) == set(want)


def done_keys(w):
    out = []
    for line in w.done_lines():
        m = re.search(r"image-resize: (\S+) \[\d+@\d+\]", line)
        if m:
            out.append(m.group(1))
    return out


def test_two_workers_in_one_group_share_the_partitions(server, buckets, workers):
    s3, src, dst = buckets
    topic = new_topic(server, 4)
    group = "g-" + uuid.uuid4().hex[:6]
    args = ("--dest-bucket", dst, "--size", "64x64", "--concurrency", "2")
    a = workers("image-resize", topic, group, *args, name="a")
    b = workers("image-resize", topic, group, *args, name="b")

    def assigned(w):
        got = re.findall(r"assigned partitions \[([\d,]*)\]", w.text())
        return set(int(p) for p in got[-1].split(",") if p) if got else set()

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (assigned(a) and assigned(b) and len(assigned(a) | assigned(b)) == 4):
        time.sleep(0.2)
    pa, pb = assigned(a), assigned(b)
    assert pa and pb and not (pa & pb) and pa | pb == {0, 1, 2, 3}, (pa, pb, a.text()[-2000:], b.text()[-2000:])
    ev = Events(server, topic)
    n = 24
    for i in range(n):
        ev.put(s3, src, f"s/{i}.png", image_bytes("PNG", 200, 200, seed=i))
    ev.flush()
    wait_keys(s3, dst, [f"s/{i}-64x64.webp" for i in range(n)], worker=a)
    ka, kb = done_keys(a), done_keys(b)
    assert ka and kb, (ka, kb)
    assert len(ka) + len(kb) == n and not (set(ka) & set(kb))
    for w, parts in ((a, pa), (b, pb)):
        for p in re.findall(r"\[(\d+)@\d+\]", "\n".join(w.done_lines())):
            assert int(p) in parts


def test_sigterm_finishes_in_flight_work_commits_and_exits_0(server, buckets, workers, tmp_path):
    s3, src, _ = buckets
    topic = topic_with_objects(server, s3, src, {"slow.txt": b"x"})
    group = "g-" + uuid.uuid4().hex[:6]
    out = tmp_path / "runs"
    w = workers("exec", topic, group, "--cmd", f"sleep 1.5; echo $SLUICE_KEY >> {out}")
    w.wait_log(r"assigned partitions")
    time.sleep(0.8)  # the command is running
    assert w.stop(signal.SIGTERM) == 0
    assert out.read_text() == "slow.txt\n"
    assert committed(server, group, topic, 1)[0] == 1
    # The next worker of the group does not run it again.
    w2 = workers("exec", topic, group, "--cmd", f"echo again >> {out}", name="w2")
    w2.wait_log(r"assigned partitions")
    time.sleep(2)
    assert out.read_text() == "slow.txt\n"


def test_seed_consumer_pattern_beside_the_worker_over_tls(make_server, tmp_path, workers):
    """The seed's consumer (kafka-python + an S3 SDK with certificate checks off) keeps working beside the worker,
    which talks HTTPS with --insecure; each consumer group gets every event."""
    kafka = pytest.importorskip("kafka")
    import boto3
    import urllib3
    from botocore.config import Config

    urllib3.disable_warnings()
    srv = make_server("tls", tls=True)
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK,
                      region_name="us-east-1", verify=False,
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    s3.create_bucket(Bucket="images")
    topic = new_topic(srv, 1, prefix="my-topic")
    ev = Events(srv, topic)
    ev.put(s3, "images", "rose.jpg", image_bytes("JPEG", 640, 480))
    ev.put(s3, "images", "deeper/path/rose.jpg", image_bytes("JPEG", 640, 480, seed=3))
    ev.flush()
    w = Worker(srv, tmp_path, "image-resize", topic, "resizers", "--insecure", "--size", "320x320")
    try:
        wait_keys(s3, "processed", ["rose-320x320.webp", "deeper/path/rose-320x320.webp"], worker=w)
        consumer = kafka.KafkaConsumer(bootstrap_servers=srv.kafka, group_id="seed",
                                       value_deserializer=lambda v: json.loads(v.decode("ascii")),
                                       auto_offset_reset="earliest", consumer_timeout_ms=15000)
        consumer.subscribe(topics=topic)
        copied = []
        for message in consumer:
            request_type = message.value["EventName"]
            bucket_name, object_path = message.value["Key"].split("/", 1)
            if request_type == "s3:ObjectCreated:Put":
                data = s3.get_object(Bucket=bucket_name, Key=object_path)["Body"].read()
                s3.put_object(Bucket="processed", Key=object_path, Body=data)
                copied.append(object_path)
            if len(copied) == 2:
                break
        consumer.close()
        assert copied == ["rose.jpg", "deeper/path/rose.jpg"]
        assert {"rose.jpg", "deeper/path/rose.jpg", "rose-320x320.webp", "deeper/path/rose-320x320.webp"} <= \
            keys_of(s3, "processed")
    finally:
        w.stop(signal.SIGKILL)
    # Without --insecure the self-signed certificate is refused, clearly.
    bad = subprocess.run([sluice_bin(), "worker", "image-resize", "--brokers", srv.kafka, "--s3-endpoint",
                          srv.endpoint, "--access-key", ROOT_AK, "--secret-key", ROOT_SK, "--startup-wait", "2"],
                         capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1, bad.stderr
    assert "certificate" in bad.stderr.lower() or "tls" in bad.stderr.lower(), bad.stderr


def test_rides_out_a_server_restart(make_server, tmp_path):
    """S3 and Kafka gone for a while (the server restarts): transient failures are retried with backoff, the
    consumer reconnects, and every image is processed."""
    srv = make_server("restart")
    s3 = srv.client()
    s3.create_bucket(Bucket="images")
    n = 16
    topic = topic_with_objects(srv, s3, "images", {f"r/{i}.jpg": image_bytes("JPEG", 1600, 1200, seed=i)
                                                   for i in range(n)}, partitions=2)
    w = Worker(srv, tmp_path, "image-resize", topic, "g-restart", "--size", "320x320", "--concurrency", "2")
    try:
        deadline = time.monotonic() + 60
        while len(w.done_lines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        srv.stop(signal.SIGKILL)
        time.sleep(2)  # the worker meets refused connections meanwhile
        srv.start()
        wait_keys(s3, "processed", [f"r/{i}-320x320.webp" for i in range(n)], timeout=120, worker=w)
        assert "retrying in" in w.text()
        assert w.stop() == 0
    finally:
        w.stop(signal.SIGKILL)


# --------------------------------------------------------------------------------------------------
# exec


def test_exec_runs_the_command_with_the_event_and_the_object(server, buckets, workers, tmp_path):
    s3, src, _ = buckets
    topic = new_topic(server, 2)
    ev = Events(server, topic)
    outdir = tmp_path / "out"
    outdir.mkdir()
    bodies = {"docs/a.txt": b"alpha", "docs/b c.txt": b"bravo charlie", "fail-me.txt": b"nope"}
    for k, v in bodies.items():
        ev.put(s3, src, k, v)
    ev.raw(*minio_event(src, "docs/a.txt", name="s3:ObjectRemoved:Delete"))
    ev.flush()
    script = tmp_path / "handler.sh"
    script.write_text(f"""#!/bin/sh
case "$SLUICE_KEY" in fail-*) echo "refusing $SLUICE_KEY" >&2; exit 4;; esac
name=$(echo "$SLUICE_KEY" | tr '/ ' '__')
cat > "{outdir}/$name.event"
cp "$SLUICE_OBJECT_PATH" "{outdir}/$name.object"
echo "$SLUICE_BUCKET|$SLUICE_EVENT_NAME|$SLUICE_OBJECT_SIZE|$SLUICE_ATTEMPT" > "{outdir}/$name.env"
""")
    script.chmod(0o755)
    w = workers("exec", topic, "g-" + uuid.uuid4().hex[:6], "--cmd", str(script), "--max-attempts", "2",
                "--timeout", "10")
    msgs = read_topic(server, f"{topic}-dlq", 1, timeout=40)
    assert len(msgs) == 1, w.text()[-3000:]
    dl = json.loads(msgs[0].value())
    assert dl["reason"] == "command_failed" and dl["attempts"] == 2
    assert "exit status 4: refusing fail-me.txt" in dl["error"]
    for key, body in (("docs/a.txt", b"alpha"), ("docs/b c.txt", b"bravo charlie")):
        name = key.replace("/", "_").replace(" ", "_")
        deadline = time.monotonic() + 20
        while not (outdir / f"{name}.env").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (outdir / f"{name}.object").read_bytes() == body
        event = json.loads((outdir / f"{name}.event").read_text())
        assert event["Key"] == f"{src}/{key}"
        assert (outdir / f"{name}.env").read_text() == f"{src}|s3:ObjectCreated:Put|{len(body)}|1\n"
    w.wait_log(r"2 processed .*1 skipped, 1 dead-lettered, 2 failed attempts")


def test_exec_timeout_kills_the_command(server, buckets, workers, tmp_path):
    s3, src, _ = buckets
    topic = topic_with_objects(server, s3, src, {"x": b"1"})
    w = workers("exec", topic, "g-" + uuid.uuid4().hex[:6], "--cmd", "sleep 60", "--timeout", "0.5",
                "--max-attempts", "1")
    msgs = read_topic(server, f"{topic}-dlq", 1, timeout=30)
    assert msgs and json.loads(msgs[0].value())["reason"] == "command_timeout", w.text()[-2000:]


# --------------------------------------------------------------------------------------------------
# command line


@pytest.mark.parametrize("args,message", [
    (["image-resize", "--size", "320"], "--size size '320': expected WxH"),
    (["image-resize", "--format", "gif"], "expected webp, jpeg, avif or png"),
    (["image-resize", "--fit", "contain"], "expected inside, cover or fill"),
    (["image-resize", "--quality", "0"], "--quality must be 1-100"),
    (["image-resize", "--s3-endpoint", "ftp://x"], "must start with http:// or https://"),
    (["image-resize", "--kafka-property", "nonsense"], "--kafka-property expects key=value"),
    (["image-resize", "--kafka-property", "no.such.property=1"], "No such configuration property"),
    (["image-resize", "--from", "middle"], "earliest or latest"),
    (["exec", "--cmd", "true", "--timeout", "0"], "--timeout must be positive"),
])
def test_bad_flags_are_usage_errors(args, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_", "MINIO_"))}
    if "--s3-endpoint" not in args:
        args = args + ["--s3-endpoint", "http://127.0.0.1:1"]
    r = subprocess.run([sluice_bin(), "worker", *args, "--access-key", "a", "--secret-key", "b",
                        "--startup-wait", "0"], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr


def test_missing_credentials_and_unreachable_s3(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_", "MINIO_"))}
    r = subprocess.run([sluice_bin(), "worker", "image-resize"], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2 and "no S3 credentials" in r.stderr, r.stderr
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "ak", "sk"
    cfg = tmp_path / "worker.conf"
    cfg.write_text('s3-endpoint = "http://127.0.0.1:1"\nsize = ["100x100", "200x200"]\nstartup-wait = 1\n')
    r = subprocess.run([sluice_bin(), "worker", "image-resize", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=90, env=env)
    assert r.returncode == 1, r.stderr
    assert "S3 endpoint http://127.0.0.1:1" in r.stderr, r.stderr


# --------------------------------------------------------------------------------------------------
# the real flow: bucket notifications from this server


def test_pipeline_with_real_bucket_notifications(server, workers):
    topic = f"bucket-events-{uuid.uuid4().hex[:6]}"
    tid = "w" + uuid.uuid4().hex[:6]
    r = server.admin("config", "set", f"notify_sluice:{tid}", f"topic={topic}")
    if r.returncode != 0:
        pytest.skip(f"bucket notifications not available on this server: {r.stderr.strip()}")
    s3 = server.client()
    src, dst = unique_bucket("images"), unique_bucket("processed")
    s3.create_bucket(Bucket=src)
    s3.put_bucket_notification_configuration(Bucket=src, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": f"arn:minio:sqs::{tid}:sluice", "Events": ["s3:ObjectCreated:*"]}]})
    # Outputs written into the watched bucket too: the rule sees them, the worker must not loop.
    w = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", dst, "--size", "320x320")
    w2 = workers("image-resize", topic, "g-" + uuid.uuid4().hex[:6], "--dest-bucket", src, "--dest-prefix",
                 "thumbs/", "--size", "64x64", name="same-bucket")
    s3.put_object(Bucket=src, Key="rose.jpg", Body=image_bytes("JPEG", 1000, 800))
    s3.put_object(Bucket=src, Key="deeper/path/rose.png", Body=image_bytes("PNG", 800, 1000))
    wait_keys(s3, dst, ["rose-320x320.webp", "deeper/path/rose-320x320.webp"], worker=w)
    wait_keys(s3, src, ["thumbs/rose-64x64.webp", "thumbs/deeper/path/rose-64x64.webp"], worker=w2)
    w2.wait_log(r"2 skipped")  # the events of its own two outputs
    time.sleep(1.5)
    assert keys_of(s3, src) == {"rose.jpg", "deeper/path/rose.png", "thumbs/rose-64x64.webp",
                                "thumbs/deeper/path/rose-64x64.webp"}
    assert Image.open(io.BytesIO(s3.get_object(Bucket=dst, Key="rose-320x320.webp")["Body"].read())).size == \
        (320, 256)
