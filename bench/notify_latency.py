"""Event latency of bucket notifications (bench/run_notify.sh): PUTs at a steady rate through boto3, a
confluent-kafka consumer on the target topic; latency = time the consumer got the event - time the PUT
response arrived (same process, same clock). Also sets up the buckets and rules the throughput runs use.

usage: notify_latency.py setup ENDPOINT BUCKET ARN [EVENT]    (bucket with a rule on EVENT, default s3:ObjectCreated:*)
       notify_latency.py latency ENDPOINT BOOTSTRAP TOPIC BUCKET ARN COUNT RATE LABEL
Credentials: SLUICE_ROOT_USER / SLUICE_ROOT_PASSWORD.  Prints one JSON line (latency).
"""
import json
import os
import sys
import threading
import time
import uuid

import boto3
import confluent_kafka as ck
from botocore.config import Config


def s3(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=os.environ["SLUICE_ROOT_USER"],
                        aws_secret_access_key=os.environ["SLUICE_ROOT_PASSWORD"], region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def setup(endpoint, bucket, arn, event="s3:ObjectCreated:*"):
    c = s3(endpoint)
    c.create_bucket(Bucket=bucket)
    if arn != "-":
        c.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": [event]}]})


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def latency(endpoint, bootstrap, topic, bucket, arn, count, rate, label):
    setup(endpoint, bucket, arn)
    client = s3(endpoint)
    # Make sure the topic exists and the consumer is positioned before the first PUT.
    client.put_object(Bucket=bucket, Key="warmup", Body=b"w")
    got = {}
    ready = threading.Event()
    stop = threading.Event()

    def consume():
        c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"lat-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 10, "fetch.error.backoff.ms": 10})
        c.subscribe([topic])
        while not stop.is_set():
            m = c.poll(0.05)
            if m is None or m.error():
                continue
            now = time.monotonic()
            key = m.key().decode().split("/", 1)[1]
            if key == "warmup":
                ready.set()
            got.setdefault(key, now)
        c.close()

    t = threading.Thread(target=consume)
    t.start()
    if not ready.wait(60):
        print("consumer saw no warm-up event", file=sys.stderr)
        stop.set()
        sys.exit(1)
    sent = {}
    start = time.monotonic()
    for i in range(count):
        due = start + i / rate
        while time.monotonic() < due:
            time.sleep(max(0.0, due - time.monotonic()))
        key = f"lat-{i:06d}"
        client.put_object(Bucket=bucket, Key=key, Body=b"x" * 1024)
        sent[key] = time.monotonic()
    deadline = time.monotonic() + 30
    while len([k for k in sent if k in got]) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join()
    lat = [(got[k] - sent[k]) * 1000 for k in sent if k in got]
    print(json.dumps({"bench": "notify", "figure": "latency", "label": label, "events": count,
                      "received": len(lat), "rate_per_s": rate, "p50_ms": round(pct(lat, 0.5), 3),
                      "p99_ms": round(pct(lat, 0.99), 3), "max_ms": round(max(lat) if lat else float("nan"), 3)}))


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(*sys.argv[2:6])
    else:
        a = sys.argv[2:]
        latency(a[0], a[1], a[2], a[3], a[4], int(a[5]), float(a[6]), a[7])
