#!/usr/bin/env python3
"""The image-resize pipeline under load (bench/run_worker.sh drives it; docs/BENCHMARKS.md).

Against a running `sluice server`:
  1. vipsthumbnail on the local files: the same resizes (every box, same format and quality), one process per
     CPU, each taking its share of the files: the image work alone, as the baseline rate;
  2. for each worker count: the images are in the bucket, W `sluice worker image-resize` processes of one group
     are assigned the topic's partitions, then one MinIO-format event per image is produced at once; the rate is
     images / (last result durable - first event produced), read from the workers' Prometheus counters;
  3. end-to-end latency, one image at a time with the worker idle: PUT of the object, its event (the server's own
     notification when it has them, else produced right after the PUT answer, as the notifier would), until every
     output is readable; the first image after the worker joined its group is reported apart (cold start).
Prints one JSON line per measurement.
"""
import argparse
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

import boto3
import confluent_kafka as ck
from botocore.config import Config
from confluent_kafka.admin import AdminClient, NewTopic


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event(bucket, key, size, etag):
    now = datetime.datetime.now(datetime.timezone.utc)
    rec = {"eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
           "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
           "eventName": "s3:ObjectCreated:Put",
           "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config", "bucket": {"name": bucket},
                  "object": {"key": urllib.parse.quote_plus(key), "size": size, "eTag": etag}}}
    return json.dumps({"EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{key}", "Records": [rec]})


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(sluice_worker_\w+)\{worker="[^"]+"\} (\S+)$', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


class Workers:
    def __init__(self, a, n, topic, group, prefix, logdir):
        self.ports = [free_port() for _ in range(n)]
        self.procs = []
        for i, port in enumerate(self.ports):
            cmd = [a.sluice, "worker", "image-resize", "--brokers", a.kafka, "--topic", topic, "--group", group,
                   "--s3-endpoint", a.s3, "--access-key", a.access_key, "--secret-key", a.secret_key,
                   "--dest-bucket", a.dest, "--dest-prefix", prefix, "--format", a.format,
                   "--quality", str(a.quality), "--metrics-listen", str(port), "--summary-interval", "5"]
            for s in a.sizes.split(","):
                cmd += ["--size", s]
            if a.concurrency:
                cmd += ["--concurrency", str(a.concurrency)]
            log = open(os.path.join(logdir, f"worker-{topic}-{i}.log"), "wb")
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if sum(metrics(p).get("sluice_worker_assigned_partitions", 0) for p in self.ports) == a.partitions \
                        and all(metrics(p).get("sluice_worker_assigned_partitions", 0) > 0 for p in self.ports):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("workers not assigned within 60 s")

    def total(self, name):
        return sum(metrics(p).get(name, 0) for p in self.ports)

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(timeout=60)


def new_topic(a, prefix):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": a.kafka})
    for f in admin.create_topics([NewTopic(name, a.partitions, 1)]).values():
        f.result(timeout=30)
    return name


def vipsthumbnail_rate(a, files, outdir):
    """Every box for every file with vipsthumbnail, one process per CPU (each its share of the files)."""
    cpus = os.cpu_count() or 1
    shares = [files[i::cpus] for i in range(cpus)]
    start = time.monotonic()
    procs = []
    for share in shares:
        if not share:
            continue
        script = " && ".join(
            f"vipsthumbnail -s {s} -o '{outdir}/%s-{s}.{a.format}[Q={a.quality}]' " + " ".join(share)
            for s in a.sizes.split(","))
        procs.append(subprocess.Popen(["sh", "-c", script]))
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("vipsthumbnail failed")
    elapsed = time.monotonic() - start
    return {"what": "vipsthumbnail", "processes": len(procs), "images": len(files), "seconds": round(elapsed, 2),
            "images_per_s": round(len(files) / elapsed, 2)}


def throughput(a, s3, n_workers, keys, logdir):
    topic = new_topic(a, f"bench-w{n_workers}")
    w = Workers(a, n_workers, topic, f"g-{uuid.uuid4().hex[:6]}", f"w{n_workers}/", logdir)
    try:
        p = ck.Producer({"bootstrap.servers": a.kafka, "linger.ms": 5})
        start = time.monotonic()
        for key, (size, etag) in keys.items():
            p.produce(topic, key=f"{a.source}/{key}", value=event(a.source, key, size, etag))
        p.flush(30)
        deadline = time.monotonic() + 1800
        done = 0
        while time.monotonic() < deadline:
            done = w.total("sluice_worker_processed_total") + w.total("sluice_worker_dead_lettered_total")
            if done >= len(keys):
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        dlq = w.total("sluice_worker_dead_lettered_total")
        handler_s = w.total("sluice_worker_processing_seconds_sum")
        count = w.total("sluice_worker_processing_seconds_count")
    finally:
        w.stop()
    return {"what": "worker", "workers": n_workers, "concurrency_each": a.concurrency or "default",
            "images": len(keys), "dead_lettered": int(dlq), "seconds": round(elapsed, 2),
            "images_per_s": round(len(keys) / elapsed, 2),
            "mean_handler_ms": round(1000 * handler_s / count, 1) if count else None}


def notifications(a, s3):
    """Sets up the server's own notifications for the latency run when it has them."""
    topic = f"bench-lat-{uuid.uuid4().hex[:6]}"
    tid = "b" + uuid.uuid4().hex[:6]
    env = dict(os.environ, SLUICE_ROOT_USER=a.access_key, SLUICE_ROOT_PASSWORD=a.secret_key)
    r = subprocess.run([a.sluice, "admin", "--endpoint", a.s3, "config", "set", f"notify_sluice:{tid}",
                        f"topic={topic}"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return None
    s3.put_bucket_notification_configuration(Bucket=a.source, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": f"arn:minio:sqs::{tid}:sluice", "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "lat/"}]}}}]})
    return topic


def latency(a, s3, image, logdir):
    real = notifications(a, s3)
    topic = real or new_topic(a, "bench-lat")
    a_one = argparse.Namespace(**vars(a))
    if real:
        admin = AdminClient({"bootstrap.servers": a.kafka})
        a_one.partitions = len(admin.list_topics(topic, timeout=10).topics[topic].partitions) or 1
    w = Workers(a_one, 1, topic, f"g-{uuid.uuid4().hex[:6]}", "lat-out/", logdir)
    p = ck.Producer({"bootstrap.servers": a.kafka, "linger.ms": 0})
    body = open(image, "rb").read()
    samples = []
    try:
        # Sample 0 is the first event after the worker joined the group (reported apart: cold start).
        for i in range(a.latency_samples + 1):
            key = f"lat/img{i}.jpg"
            outs = [f"lat-out/lat/img{i}-{s}.{'jpg' if a.format == 'jpeg' else a.format}" for s in a.sizes.split(",")]
            t0 = time.monotonic()
            etag = s3.put_object(Bucket=a.source, Key=key, Body=body)["ETag"].strip('"')
            t1 = time.monotonic()
            if not real:
                p.produce(topic, key=f"{a.source}/{key}", value=event(a.source, key, len(body), etag))
                p.flush(10)
            pending = set(outs)
            deadline = time.monotonic() + 60
            while pending and time.monotonic() < deadline:
                for o in list(pending):
                    try:
                        s3.head_object(Bucket=a.dest, Key=o)
                        pending.discard(o)
                    except s3.exceptions.ClientError:
                        pass
                if pending:
                    time.sleep(0.005)
            if pending:
                raise RuntimeError(f"no result for {key}")
            t2 = time.monotonic()
            samples.append((t1 - t0, t2 - t1))
            time.sleep(0.3)
    finally:
        w.stop()
    first, samples = samples[0], samples[1:]
    after_put = sorted(s[1] * 1000 for s in samples)
    total = sorted((s[0] + s[1]) * 1000 for s in samples)
    return {"what": "latency", "events": "server notifications" if real else "produced after the PUT answer",
            "samples": len(samples), "put_ms_p50": round(statistics.median(s[0] * 1000 for s in samples), 1),
            "after_put_ms_p50": round(statistics.median(after_put), 1), "after_put_ms_max": round(after_put[-1], 1),
            "from_put_start_ms_p50": round(statistics.median(total), 1), "from_put_start_ms_max": round(total[-1], 1),
            "after_put_ms_in_order": [round(s[1] * 1000) for s in samples],
            "first_event_after_join_ms": round(first[1] * 1000)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--s3", required=True)
    ap.add_argument("--kafka", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--images", required=True, help="folder of local JPEGs")
    ap.add_argument("--count", type=int, default=48)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--concurrency", type=int, default=0)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--sizes", default="320x320,1024x1024")
    ap.add_argument("--format", default="webp")
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--latency-samples", type=int, default=10)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    a.source, a.dest = "images", "processed"
    s3 = boto3.client("s3", endpoint_url=a.s3, aws_access_key_id=a.access_key, aws_secret_access_key=a.secret_key,
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                             max_pool_connections=16))
    for b in (a.source, a.dest):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.ClientError:
            pass
    originals = sorted(os.path.join(a.images, f) for f in os.listdir(a.images) if f.endswith(".jpg"))
    # N local names (links to the few distinct originals) and N objects with the same bytes.
    files, keys = [], {}
    linkdir = os.path.join(a.work, "local")
    os.makedirs(linkdir, exist_ok=True)
    for i in range(a.count):
        src = originals[i % len(originals)]
        name = os.path.join(linkdir, f"img{i:04d}.jpg")
        if not os.path.exists(name):
            os.symlink(src, name)
        files.append(name)
        body = open(src, "rb").read()
        key = f"bench/img{i:04d}.jpg"
        keys[key] = (len(body), s3.put_object(Bucket=a.source, Key=key, Body=body)["ETag"].strip('"'))
    outdir = os.path.join(a.work, "vipsthumbnail-out")
    os.makedirs(outdir, exist_ok=True)
    print(json.dumps(vipsthumbnail_rate(a, files, outdir)), flush=True)
    for n in [int(x) for x in a.workers.split(",")]:
        print(json.dumps(throughput(a, s3, n, keys, a.work)), flush=True)
    print(json.dumps(vipsthumbnail_rate(a, files, outdir)), flush=True)  # again: the machine may have drifted
    if a.latency_samples:
        print(json.dumps(latency(a, s3, originals[0], a.work)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
