"""Bucket notifications: Put/GetBucketNotificationConfiguration (boto3 and hand-made XML, MinIO's
validation errors) and ListenBucketNotification (MinIO's watch stream: `GET /bucket?events=...`).

Rules name the built-in target `arn:minio:sqs::1:sluice`, which `sluice server` configures by default.
Tests that need that target use the `notifier` fixture, tests of the watch stream the `watching` fixture: both
fail at once with a clear message when the server runs without its notifier.
"""

import http.client
import json
import queue
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import S3NS, USERS, delete_bucket_fully, err_code, err_status, s3quote, unique_bucket

pytestmark = pytest.mark.sluice_only  # MinIO's ARNs, errors and watch API; moto has none of them

ARN = "arn:minio:sqs::1:sluice"
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def put_config_xml(raw, bucket, xml, user="root"):
    return raw("PUT", "/" + bucket, query=[("notification", "")], body=xml, user=user)


def queue_xml(inner):
    return f"<QueueConfiguration>{inner}</QueueConfiguration>"


def doc(*queues):
    return f'<NotificationConfiguration xmlns="{NS}">{"".join(queues)}</NotificationConfiguration>'


def filter_xml(*rules):
    return "<Filter><S3Key>" + "".join(
        f"<FilterRule><Name>{n}</Name><Value>{v}</Value></FilterRule>" for n, v in rules) + "</S3Key></Filter>"


PUT_EVENT = "<Event>s3:ObjectCreated:Put</Event>"
QUEUE = f"<Queue>{ARN}</Queue>"

_notifier_state = {}


@pytest.fixture
def notifier(server, s3):
    """Fails the test when `sluice server` runs without a notifier (the default ARN is unknown)."""
    if "running" not in _notifier_state:
        b = unique_bucket("nprobe")
        s3.create_bucket(Bucket=b)
        try:
            s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"]}]})
            _notifier_state["running"] = True
        except ClientError as e:
            if err_code(e) != "InvalidArgument":
                raise
            _notifier_state["running"] = False
        finally:
            delete_bucket_fully(s3, b)
    if not _notifier_state["running"]:
        pytest.fail(f"the server has no notifier: {ARN} is not a configured target")


@pytest.fixture
def watching(server):
    """Fails the test when `sluice server` runs without a notifier (watch streams answer 501)."""
    if "watching" not in _notifier_state:
        _notifier_state["watching"] = _probe_watch(server)
    if not _notifier_state["watching"]:
        pytest.fail("the server has no notifier: ListenBucketNotification answers 501")


def _probe_watch(server):
    w = Watcher(server, "", [("events", "s3:BucketCreated:*"), ("ping", "1")], reader=False)
    try:
        return w.status == 200
    finally:
        w.close()


# --------------------------------------------------------------------------------------------------
# configuration


def test_get_without_configuration_is_empty(s3, bucket, raw):
    r = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "QueueConfigurations" not in r
    x = raw("GET", "/" + bucket, query=[("notification", "")], user="root")
    assert x.status == 200
    assert x.xml.tag == f"{{{NS}}}NotificationConfiguration"
    assert list(x.xml) == []


def test_empty_configuration_is_accepted(s3, bucket, raw):
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    r = put_config_xml(raw, bucket, "<NotificationConfiguration/>")
    assert r.status == 200, r
    assert r.body == b""
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_round_trip_with_boto3(s3, bucket, notifier):
    config = {"QueueConfigurations": [
        {"Id": "jpegs", "QueueArn": ARN, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "photos/"},
                                             {"Name": "suffix", "Value": ".jpg"}]}}},
        {"Id": "all-gets", "QueueArn": ARN, "Events": ["s3:ObjectAccessed:Get"]},
    ]}
    r = s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    qs = got["QueueConfigurations"]
    assert [q["Id"] for q in qs] == ["jpegs", "all-gets"]
    assert [q["QueueArn"] for q in qs] == [ARN, ARN]
    assert qs[0]["Events"] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]
    rules = {f["Name"].lower(): f["Value"] for f in qs[0]["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "photos/", "suffix": ".jpg"}
    assert qs[1]["Events"] == ["s3:ObjectAccessed:Get"]
    assert not qs[1].get("Filter", {}).get("Key", {}).get("FilterRules")


def test_put_replaces_and_empty_configuration_deletes_rules(s3, bucket, notifier):
    one = {"QueueConfigurations": [{"Id": "a", "QueueArn": ARN, "Events": ["s3:ObjectCreated:Put"]}]}
    two = {"QueueConfigurations": [{"Id": "b", "QueueArn": ARN, "Events": ["s3:ObjectRemoved:*"]}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=one)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=two)
    assert [q["Id"] for q in s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]] == ["b"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_mc_event_add_document(raw, bucket, notifier):
    # What `mc event add ALIAS/bucket ARN --suffix .jpg` sends (no Id, minio-go's element order).
    xml = ("<NotificationConfiguration><QueueConfiguration><Event>s3:ObjectCreated:*</Event>"
           "<Event>s3:ObjectRemoved:*</Event><Event>s3:ObjectAccessed:*</Event><Filter><S3Key><FilterRule>"
           f"<Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter><Queue>{ARN}</Queue>"
           "</QueueConfiguration></NotificationConfiguration>")
    assert put_config_xml(raw, bucket, xml).status == 200
    got = raw("GET", "/" + bucket, query=[("notification", "")], user="root")
    assert got.status == 200
    q = got.xml.find(f"{S3NS}QueueConfiguration")
    assert [e.text for e in q.findall(f"{S3NS}Event")] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*",
                                                          "s3:ObjectAccessed:*"]
    assert q.find(f"{S3NS}Queue").text == ARN


MSG_ARN = "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN."

# Errors MinIO finds before it looks the ARN up: they need no notifier.
VALIDATION_ERRORS = [
    ("bad-event", doc(queue_xml("<Event>s3:ObjectCreated:Get</Event>" + QUEUE)), "InvalidArgument",
     "A specified event is not supported for notifications."),
    ("filter-name", doc(queue_xml(PUT_EVENT + filter_xml(("Prefix", "a")) + QUEUE)), "InvalidArgument",
     "filter rule name must be either prefix or suffix"),
    ("two-prefixes", doc(queue_xml(PUT_EVENT + filter_xml(("prefix", "a"), ("prefix", "b")) + QUEUE)),
     "InvalidArgument", "Cannot specify more than one prefix rule in a filter."),
    ("two-suffixes", doc(queue_xml(PUT_EVENT + filter_xml(("suffix", "a"), ("suffix", "b")) + QUEUE)),
     "InvalidArgument", "Cannot specify more than one suffix rule in a filter."),
    ("filter-value", doc(queue_xml(PUT_EVENT + filter_xml(("prefix", "a/../b")) + QUEUE)), "InvalidArgument",
     "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"),
    ("duplicate-event", doc(queue_xml(PUT_EVENT + PUT_EVENT + QUEUE)), "InvalidArgument",
     "Configurations overlap. Configurations on the same bucket cannot share a common event type."),
    ("identical-configs", doc(queue_xml(PUT_EVENT + QUEUE), queue_xml(PUT_EVENT + QUEUE)), "InvalidArgument",
     "An object key name filtering rule defined with overlapping prefixes, overlapping suffixes, or overlapping "
     "combinations of prefixes and suffixes for the same event types."),
    ("malformed", "<NotificationConfiguration><QueueConfiguration>", "MalformedXML", None),
    ("not-notification", "<Tagging/>", "MalformedXML", None),
    ("no-event", doc(queue_xml(QUEUE)), "MalformedXML", None),
    ("topic", doc("<TopicConfiguration><Topic>arn:aws:sns:us-east-1:1:t</Topic>" + PUT_EVENT +
                  "</TopicConfiguration>"), "UnsupportedNotification", None),
    ("unknown-arn", doc(queue_xml(PUT_EVENT + "<Queue>arn:minio:sqs::no-such-id:sluice</Queue>")),
     "InvalidArgument", MSG_ARN),
    ("malformed-arn", doc(queue_xml(PUT_EVENT + "<Queue>arn:aws:sqs:us-east-1:1:q</Queue>")), "InvalidArgument",
     MSG_ARN),
    ("no-queue", doc(queue_xml(PUT_EVENT)), "InvalidArgument", MSG_ARN),
    ("other-region", doc(queue_xml(PUT_EVENT + "<Queue>arn:minio:sqs:eu-west-1:1:sluice</Queue>")),
     "InvalidArgument",
     "A specified destination is in a different region than the bucket. You must use a destination that resides "
     "in the same region as the bucket."),
]


@pytest.mark.parametrize("name,xml,code,message", VALIDATION_ERRORS, ids=[v[0] for v in VALIDATION_ERRORS])
def test_validation_errors(raw, bucket, name, xml, code, message):
    r = put_config_xml(raw, bucket, xml)
    assert r.status == 400, r
    assert r.code == code, r
    if message:
        assert r.xml.find("Message").text == message
    # Nothing was stored.
    got = raw("GET", "/" + bucket, query=[("notification", "")], user="root")
    assert list(got.xml) == []


def test_admin_cli_buckets_and_event_rules(server, s3, notifier):
    """`sluice admin bucket add|list` and `event add|list|remove` (mc mb / mc event) do what boto3 then sees."""
    b = unique_bucket("cli")
    try:
        r = server.admin("bucket", "add", b)
        assert r.returncode == 0 and f"Created bucket {b}" in r.stdout, r.stderr
        r = server.admin("bucket", "add", b)  # again: fine, says so
        assert r.returncode == 0 and "already exists" in r.stdout, r.stderr
        assert b in server.admin("bucket", "list").stdout
        r = server.admin("event", "add", b, ARN, "--suffix", ".jpg", "--prefix", "in/")
        assert r.returncode == 0, r.stderr
        r = server.admin("event", "add", b, ARN, "--event", "delete")
        assert r.returncode == 0, r.stderr
        rules = s3.get_bucket_notification_configuration(Bucket=b)["QueueConfigurations"]
        assert [q["Events"] for q in rules] == [["s3:ObjectCreated:*"], ["s3:ObjectRemoved:*"]]
        keyf = {f["Name"].lower(): f["Value"] for f in rules[0]["Filter"]["Key"]["FilterRules"]}
        assert keyf == {"prefix": "in/", "suffix": ".jpg"}
        listed = server.admin("event", "list", b).stdout
        assert "s3:ObjectCreated:*" in listed and "suffix=.jpg" in listed and "s3:ObjectRemoved:*" in listed
        # The server's validation answers reach the user, with a failing exit code.
        r = server.admin("event", "add", b, "arn:minio:sqs::nope:kafka")
        assert r.returncode == 1 and "InvalidArgument" in r.stderr
        r = server.admin("event", "remove", b, ARN)
        assert r.returncode == 0 and "Removed 2 rules" in r.stdout, r.stderr
        assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=b)
        r = server.admin("event", "remove", b)
        assert r.returncode == 1 and "no event rules" in r.stderr
        r = server.admin("bucket", "add", "Bad_Name")
        assert r.returncode == 1 and "InvalidBucketName" in r.stderr
        r = server.admin("--no-such-flag")  # a usage error: exit code 2, as command-line tools do
        assert r.returncode == 2 and "--no-such-flag" in r.stderr
    finally:
        delete_bucket_fully(s3, b)


def test_validation_errors_with_boto3(s3, bucket):
    def put(queue_config):
        with pytest.raises(ClientError) as ei:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue_config]})
        return ei.value

    e = put({"QueueArn": "arn:minio:sqs::no-such-id:sluice", "Events": ["s3:ObjectCreated:*"]})
    assert (err_status(e), err_code(e)) == (400, "InvalidArgument")
    e = put({"QueueArn": ARN, "Events": ["s3:NoSuch:Event"]})
    assert (err_status(e), err_code(e)) == (400, "InvalidArgument")
    e = put({"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}}})
    assert (err_status(e), err_code(e)) == (400, "InvalidArgument")


def test_checks_in_minio_order(raw, bucket):
    # A bad event name written before a malformed ARN is reported, and the other way round.
    r = put_config_xml(raw, bucket, doc(queue_xml("<Event>bad</Event><Queue>x</Queue>")))
    assert (r.status, r.code) == (400, "InvalidArgument")
    assert r.xml.find("Message").text == "A specified event is not supported for notifications."
    r = put_config_xml(raw, bucket, doc(queue_xml("<Queue>x</Queue><Event>bad</Event>")))
    assert r.xml.find("Message").text == MSG_ARN


def test_configuration_needs_owner(server, s3, bucket, raw):
    r = put_config_xml(raw, bucket, "<NotificationConfiguration/>", user="alice")
    assert (r.status, r.code) == (403, "AccessDenied")
    r = raw("GET", "/" + bucket, query=[("notification", "")], user="alice")
    assert (r.status, r.code) == (403, "AccessDenied")
    r = raw("PUT", "/" + bucket, query=[("notification", "")], body="<NotificationConfiguration/>")
    assert r.status == 403


def test_missing_content_length(server, bucket):
    headers, _ = server.signed_headers("PUT", "/" + bucket, query=[("notification", "")])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("PUT", f"/{bucket}?notification=", skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        r = conn.getresponse()
        body = r.read()
        assert r.status == 411, body
        assert b"<Code>MissingContentLength</Code>" in body
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------
# ListenBucketNotification


class Watcher:
    """A ListenBucketNotification stream read on a thread, line by line."""

    def __init__(self, server, bucket, query, user="root", timeout=15, reader=True):
        path = "/" + bucket if bucket else "/"
        headers, _ = server.signed_headers("GET", path, query=query, user=user)
        url = path + "?" + "&".join(f"{s3quote(k, safe='')}={s3quote(v, safe='')}" for k, v in query)
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.conn.putrequest("GET", url, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            self.conn.putheader(k, v)
        self.conn.endheaders()
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.lines = queue.Queue()
        if self.status == 200:
            if reader:
                threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.resp.read()

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                self.lines.put(line)
        except Exception as e:  # the socket closed under us: the test is over
            self.lines.put(e)
        self.lines.put(None)

    def next_line(self, timeout=10):
        line = self.lines.get(timeout=timeout)
        assert not isinstance(line, Exception), line
        return line

    def records(self, n, timeout=10):
        """The next n event records (keep-alives skipped)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            line = self.next_line(max(0.1, deadline - time.monotonic()))
            assert line is not None, f"stream ended after {out}"
            text = line.strip()
            if not text:
                continue
            recs = json.loads(text)["Records"]
            if recs:
                out.extend(recs)
        return out

    def no_more_records(self, wait=1.0):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                return
            text = line.strip() if isinstance(line, bytes) else b""
            assert not (text and json.loads(text)["Records"]), f"unexpected event {text!r}"

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


@pytest.fixture
def watch(server):
    made = []

    def make(bucket, events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectAccessed:*"), prefix=None,
             suffix=None, ping="1", user="root", reader=True):
        q = [("events", e) for e in events]
        if prefix is not None:
            q.append(("prefix", prefix))
        if suffix is not None:
            q.append(("suffix", suffix))
        if ping is not None:
            q.append(("ping", ping))
        w = Watcher(server, bucket, q, user=user, reader=reader)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.mark.parametrize("query,code", [
    ([("events", "s3:ObjectCreated:*"), ("prefix", "a"), ("prefix", "b")], "InvalidArgument"),
    ([("events", "s3:ObjectCreated:*"), ("suffix", "a"), ("suffix", "b")], "InvalidArgument"),
    ([("events", "s3:NoSuch:Event")], "InvalidArgument"),
    ([("events", "s3:ObjectCreated:*"), ("ping", "0")], "InvalidArgument"),
    ([("events", "s3:ObjectCreated:*"), ("ping", "x")], "InvalidArgument"),
])
def test_listen_rejects_bad_queries(server, bucket, query, code):
    w = Watcher(server, bucket, query)
    assert w.status == 400, w.body
    assert f"<Code>{code}</Code>".encode() in w.body


def test_listen_needs_owner_or_root(server, bucket):
    w = Watcher(server, bucket, [("events", "s3:ObjectCreated:*")], user="alice")
    assert w.status == 403, w.body
    # The stream of every bucket is root's only.
    w = Watcher(server, "", [("events", "s3:BucketCreated:*")], user="alice")
    assert w.status == 403, w.body
    w = Watcher(server, unique_bucket("missing"), [("events", "s3:ObjectCreated:*")])
    assert w.status == 404, w.body


def test_listen_streams_put_and_delete_with_raw_keys(s3, bucket, watch, watching):
    w = watch(bucket)
    assert w.status == 200
    assert w.headers["content-type"] == "text/event-stream"
    assert w.headers["cache-control"] == "no-cache"
    assert w.headers["x-accel-buffering"] == "no"
    key = "my photos/caf\u00e9 + r\u00f6se.jpg"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"rose" * 10, ContentType="image/jpeg",
                        Metadata={"color": "red"})
    s3.delete_object(Bucket=bucket, Key=key)
    created, removed = w.records(2)

    assert created["eventName"] == "s3:ObjectCreated:Put"
    assert created["eventSource"] == "minio:s3"
    assert created["awsRegion"] == "us-east-1"
    assert created["s3"]["bucket"]["name"] == bucket
    assert created["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    obj = created["s3"]["object"]
    assert obj["key"] == key  # watchers get the raw key
    assert obj["size"] == 40
    assert obj["eTag"] == put["ETag"].strip('"')
    assert obj["contentType"] == "image/jpeg"
    assert obj["userMetadata"]["X-Amz-Meta-Color"] == "red"
    assert obj["sequencer"]
    assert created["userIdentity"]["principalId"] == USERS["root"][0]
    assert created["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert created["source"]["host"] == "127.0.0.1"
    assert created["source"]["port"] == ""
    assert "Boto3" in created["source"]["userAgent"] or "Botocore" in created["source"]["userAgent"]
    assert created["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]

    assert removed["eventName"] == "s3:ObjectRemoved:Delete"
    assert removed["s3"]["object"]["key"] == key
    assert "size" not in removed["s3"]["object"] and "eTag" not in removed["s3"]["object"]


def test_listen_keepalives(server, bucket, watch, watching):
    w = watch(bucket, ping="1")
    assert w.next_line(timeout=5).strip() == b'{"Records":null}'
    # Without ?ping (deprecated in MinIO) a single space every 500 ms.
    w2 = watch(bucket, ping=None, reader=False)
    time.sleep(1.3)
    spaces = w2.resp.read1(100) + w2.resp.read1(100)  # one chunk each
    assert spaces == b"  ", spaces


def test_listen_filters(s3, bucket, watch, watching):
    w = watch(bucket, events=("s3:ObjectCreated:Put",), prefix="photos/", suffix=".jpg")
    for key in ("rose.jpg", "photos/rose.png", "photos/deeper/rose.jpg", "photos/rose.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.delete_object(Bucket=bucket, Key="photos/rose.jpg")
    got = w.records(2)
    assert [r["s3"]["object"]["key"] for r in got] == ["photos/deeper/rose.jpg", "photos/rose.jpg"]
    w.no_more_records(1.0)


def test_every_operation_raises_its_event(server, s3, bucket, watch, watching):
    w = watch(bucket)
    s3.put_object(Bucket=bucket, Key="k1", Body=b"0123456789")
    s3.get_object(Bucket=bucket, Key="k1", Range="bytes=0-1")["Body"].read()
    s3.head_object(Bucket=bucket, Key="k1")
    with pytest.raises(ClientError):  # 304: no event
        s3.get_object(Bucket=bucket, Key="k1", IfNoneMatch=s3.head_object(Bucket=bucket, Key="k1")["ETag"])
    s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k1"})
    s3.put_object_tagging(Bucket=bucket, Key="k1", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.delete_object_tagging(Bucket=bucket, Key="k1")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 100)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    post = s3.generate_presigned_post(bucket, "posted")
    assert requests.post(post["url"], data=post["fields"], files={"file": ("posted", b"form")},
                         timeout=30).status_code == 204
    s3.list_objects_v2(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="k1")
    s3.delete_object(Bucket=bucket, Key="never-there")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k2"}, {"Key": "mp"}], "Quiet": True})

    expected = [
        ("s3:ObjectCreated:Put", "k1"), ("s3:ObjectAccessed:Get", "k1"), ("s3:ObjectAccessed:Head", "k1"),
        ("s3:ObjectAccessed:Head", "k1"),  # the head_object that fetched the ETag for the 304
        ("s3:ObjectCreated:Copy", "k2"), ("s3:ObjectCreated:PutTagging", "k1"),
        ("s3:ObjectCreated:DeleteTagging", "k1"), ("s3:ObjectCreated:CompleteMultipartUpload", "mp"),
        ("s3:ObjectCreated:Post", "posted"), ("s3:ObjectRemoved:Delete", "k1"),
        ("s3:ObjectRemoved:NoOP", "never-there"), ("s3:ObjectRemoved:Delete", "k2"),
        ("s3:ObjectRemoved:Delete", "mp"),
    ]
    got = w.records(len(expected))
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in got] == expected
    assert got[1]["requestParameters"]["range"] == "bytes=0-1"
    assert got[1]["responseElements"]["content-length"] == "2"
    assert got[7]["s3"]["object"]["eTag"].endswith("-1")
    w.no_more_records(0.5)


def test_global_listen_sees_bucket_events(server, s3, watch, watching):
    w = watch("", events=("s3:BucketCreated:*", "s3:BucketRemoved:*"))
    name = unique_bucket("watched")
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
    created, removed = w.records(2)
    assert (created["eventName"], created["s3"]["bucket"]["name"]) == ("s3:BucketCreated:*", name)
    assert (removed["eventName"], removed["s3"]["bucket"]["name"]) == ("s3:BucketRemoved:*", name)


def test_delete_marker_event(make_server, watching):
    srv = make_server(name="versioned", drives=2)
    s3 = srv.client()
    b = unique_bucket("ver")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    w = Watcher(srv, b, [("events", "s3:ObjectRemoved:*"), ("ping", "1")])
    try:
        v1 = s3.put_object(Bucket=b, Key="k", Body=b"v1")["VersionId"]
        marker = s3.delete_object(Bucket=b, Key="k")
        s3.delete_object(Bucket=b, Key="k", VersionId=v1)
        made, deleted = w.records(2)
        assert made["eventName"] == "s3:ObjectRemoved:DeleteMarkerCreated"
        assert made["s3"]["object"]["versionId"] == marker["VersionId"]
        assert deleted["eventName"] == "s3:ObjectRemoved:Delete"
        assert deleted["s3"]["object"]["versionId"] == v1
    finally:
        w.close()


def test_listen_stream_ends_when_server_stops(make_server, watching):
    srv = make_server(name="stopping")
    b = unique_bucket("stop")
    srv.client().create_bucket(Bucket=b)
    w = Watcher(srv, b, [("events", "s3:ObjectCreated:*"), ("ping", "30")], timeout=30)
    assert w.status == 200
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 10
    while True:
        line = w.lines.get(timeout=10)
        if line is None or isinstance(line, Exception):
            break
