"""kill -9 at a random moment: every acknowledged write survives with exactly the acknowledged bytes,
every acknowledged delete stays deleted, and no partial object ever becomes visible.

Model: each writer thread owns its keys, so operations on one key are sequential.  For every key we
record its operations in order and whether each was acknowledged.  After the restart the key must be
in the state left by its last acknowledged operation -- or, if an operation was still in flight when
the server died, in the state that one would have left.  Nothing else is acceptable."""

import hashlib
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from conftest import err_status

pytestmark = [pytest.mark.sluice_only, pytest.mark.slow]

MiB = 1024 * 1024
ABSENT = "absent"


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}  # key -> list of [state, acked]

    def begin(self, key, state):
        with self.lock:
            entry = [state, False]
            self.ops.setdefault(key, []).append(entry)
            return entry

    def ack(self, entry):
        with self.lock:
            entry[1] = True

    def acceptable(self, key):
        ops = self.ops.get(key, [])
        last_acked = max((i for i, (_, a) in enumerate(ops) if a), default=-1)
        ok = {ops[last_acked][0] if last_acked >= 0 else ABSENT}
        # Operations after the last acknowledged one were in flight (at most one per key, since a
        # key's operations are sequential) and may or may not have taken effect.
        for state, _ in ops[last_acked + 1:]:
            ok.add(state)
        return ok

    def settle(self, observed):
        """After a verified restart the observed state is the truth for the next round."""
        with self.lock:
            for key, state in observed.items():
                self.ops[key] = [[state, True]]

    def acked_count(self):
        return sum(1 for ops in self.ops.values() for _, a in ops if a)


def body_for(key, n, size, rng):
    tag = f"{key}#{n}#".encode()
    if size <= len(tag):
        return tag[:size]
    return tag + rng.randbytes(size - len(tag))


def digest(b):
    return hashlib.sha256(b).hexdigest()


def writer(s3, bucket, hist, t, rnd, stop):
    rng = random.Random(rnd * 1000 + t)
    n = 0
    mine = []  # keys this thread has written (for overwrites / deletes)
    while not stop.is_set():
        n += 1
        r = rng.random()
        try:
            if mine and r < 0.12:  # delete one of my keys
                key = rng.choice(mine)
                e = hist.begin(key, ABSENT)
                s3.delete_object(Bucket=bucket, Key=key)
                hist.ack(e)
            elif r < 0.2 and mine:  # overwrite one of my keys
                key = rng.choice(mine)
                body = body_for(key, n, rng.choice([100, 40_000, 1 * MiB]), rng)
                e = hist.begin(key, digest(body))
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                hist.ack(e)
            elif r < 0.26:  # multipart
                key = f"r{rnd}/t{t}/mp{n}"
                p1 = body_for(key, n, 5 * MiB, rng)
                p2 = rng.randbytes(rng.randrange(1, 2 * MiB))
                e = hist.begin(key, digest(p1 + p2))
                mine.append(key)
                up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=p1)["ETag"]
                e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=2, Body=p2)["ETag"]
                s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={
                    "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
                hist.ack(e)
            else:  # new object: mostly small, some 1-8 MiB
                key = f"r{rnd}/t{t}/o{n}"
                size = rng.choice([0, 1, 512, 4096, 65_536, 200_000]) if rng.random() < 0.75 \
                    else rng.randrange(1 * MiB, 8 * MiB)
                body = body_for(key, n, size, rng)
                e = hist.begin(key, digest(body))
                mine.append(key)
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                hist.ack(e)
        except (ClientError, BotoCoreError, OSError):
            if not stop.is_set():
                time.sleep(0.05)
            return  # the server is gone (or failing): this thread stops


def verify(s3, bucket, hist, observed=None):
    problems = []
    observed = {} if observed is None else observed
    listed = set()
    token = None
    while True:
        kw = {"Bucket": bucket}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        for o in r.get("Contents", []):
            listed.add((o["Key"], o["Size"]))
        if not r.get("IsTruncated"):
            break
        token = r["NextContinuationToken"]
    listed_keys = {k for k, _ in listed}
    unknown = listed_keys - set(hist.ops)
    if unknown:
        problems.append(f"listed keys nobody wrote: {sorted(unknown)[:10]}")
    for key in hist.ops:
        ok = hist.acceptable(key)
        try:
            g = s3.get_object(Bucket=bucket, Key=key)
            body = g["Body"].read()
            state = digest(body)
            if len(body) != g["ContentLength"]:
                problems.append(f"{key}: body {len(body)} bytes but Content-Length {g['ContentLength']}")
            if key not in listed_keys:
                problems.append(f"{key}: readable but not listed")
        except ClientError as e:
            if err_status(e) != 404:
                problems.append(f"{key}: GET -> {e}")
                continue
            state = ABSENT
            if key in listed_keys:
                problems.append(f"{key}: listed but GET says 404")
        observed[key] = state
        if state not in ok:
            what = "missing" if state == ABSENT else "wrong/partial content"
            problems.append(f"{key}: {what} (acceptable: {['absent' if s == ABSENT else s[:12] for s in ok]})")
    return problems


@pytest.fixture
def dserver(make_server):
    return make_server(name="durable")


def test_kill9_during_writes(dserver):
    srv = dserver
    s3 = srv.client(max_pool_connections=64, read_timeout=30)
    bucket = "durable"
    s3.create_bucket(Bucket=bucket)
    hist = History()
    for rnd in range(3):
        before = hist.acked_count()
        stop = threading.Event()
        with ThreadPoolExecutor(12) as ex:
            futs = [ex.submit(writer, s3, bucket, hist, t, rnd, stop) for t in range(12)]
            # let some writes land, then kill at a random moment
            deadline = time.monotonic() + 20
            while hist.acked_count() - before < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(random.uniform(0.0, 2.5))
            srv.kill9()
            stop.set()
            for f in futs:
                f.result()
        acked = hist.acked_count() - before
        assert acked > 20, f"round {rnd}: only {acked} acknowledged writes before the kill; load too light?"
        srv.start()
        s3 = srv.client(max_pool_connections=64, read_timeout=30)
        observed = {}
        problems = verify(s3, bucket, hist, observed)
        hist.settle(observed)
        assert problems == [], f"round {rnd} after kill -9 ({acked} acked ops):\n" + "\n".join(problems[:30])
    # and a graceful restart keeps everything too
    srv.restart(signal.SIGTERM)
    s3 = srv.client()
    assert verify(s3, bucket, hist) == []


def test_acked_deletes_stay_deleted(dserver):
    s3 = dserver.client()
    s3.create_bucket(Bucket="del")
    for i in range(60):
        s3.put_object(Bucket="del", Key=f"k{i:02d}", Body=f"v{i}".encode())
    s3.delete_objects(Bucket="del", Delete={"Objects": [{"Key": f"k{i:02d}"} for i in range(0, 60, 3)]})
    for i in range(1, 60, 3):
        s3.delete_object(Bucket="del", Key=f"k{i:02d}")
    s3.put_object(Bucket="del", Key="k02", Body=b"overwritten")
    dserver.kill9()
    dserver.start()
    s3 = dserver.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="del").get("Contents", [])]
    assert keys == [f"k{i:02d}" for i in range(2, 60, 3)]
    assert s3.get_object(Bucket="del", Key="k02")["Body"].read() == b"overwritten"
    assert s3.get_object(Bucket="del", Key="k59")["Body"].read() == b"v59"
    for i in (0, 1, 57, 58):
        with pytest.raises(ClientError) as ei:
            s3.head_object(Bucket="del", Key=f"k{i:02d}")
        assert err_status(ei.value) == 404


def test_buckets_and_metadata_survive_kill9(dserver):
    s3 = dserver.client()
    s3.create_bucket(Bucket="meta-keep")
    s3.put_object(Bucket="meta-keep", Key="m", Body=b"x", ContentType="text/x-kept", Metadata={"a": "b"},
                  Tagging="t=1")
    s3.create_bucket(Bucket="gone-bucket")
    s3.delete_bucket(Bucket="gone-bucket")
    dserver.kill9()
    dserver.start()
    s3 = dserver.client()
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "meta-keep" in names and "gone-bucket" not in names
    h = s3.head_object(Bucket="meta-keep", Key="m")
    assert h["ContentType"] == "text/x-kept" and h["Metadata"] == {"a": "b"}
    assert s3.get_object_tagging(Bucket="meta-keep", Key="m")["TagSet"] == [{"Key": "t", "Value": "1"}]


def test_multipart_parts_survive_kill9(dserver):
    s3 = dserver.client()
    s3.create_bucket(Bucket="mpk")
    p1, p2 = random.Random(1).randbytes(5 * MiB), b"tail part"
    up = s3.create_multipart_upload(Bucket="mpk", Key="obj")["UploadId"]
    e1 = s3.upload_part(Bucket="mpk", Key="obj", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket="mpk", Key="obj", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    dserver.kill9()
    dserver.start()
    s3 = dserver.client()
    parts = s3.list_parts(Bucket="mpk", Key="obj", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e1, len(p1)), (2, e2, len(p2))]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="mpk", Key="obj")
    s3.complete_multipart_upload(Bucket="mpk", Key="obj", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    dserver.kill9()
    dserver.start()
    s3 = dserver.client()
    assert digest(s3.get_object(Bucket="mpk", Key="obj")["Body"].read()) == digest(p1 + p2)
    assert s3.list_multipart_uploads(Bucket="mpk").get("Uploads", []) == []


def test_restart_keeps_port_and_users(dserver):
    """Restart on the same port right after kill -9 (SO_REUSEADDR) with the same users."""
    s3a = dserver.client("alice")
    s3a.create_bucket(Bucket="alice-durable")
    s3a.put_object(Bucket="alice-durable", Key="k", Body=b"alice")
    dserver.kill9()
    dserver.start()
    s3a = dserver.client("alice")
    assert s3a.get_object(Bucket="alice-durable", Key="k")["Body"].read() == b"alice"
    with pytest.raises(ClientError) as ei:
        dserver.client("bob").get_object(Bucket="alice-durable", Key="k")
    assert err_status(ei.value) == 403
