"""ListObjects v1/v2: prefix, delimiter, markers, pagination, encoding, owner."""

import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import MOTO, S3NS, err_code, err_status, md5hex, unique_bucket


def fill(s3, bucket, keys, body=None):
    def put(k):
        s3.put_object(Bucket=bucket, Key=k, Body=body if body is not None else k.encode())
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(put, keys))


def keys_of(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


TREE = ["a/1", "a/2", "a/sub/3", "ab/4", "b/5", "c", "d/e/f", "d/e/g", "d/h"]


@pytest.fixture
def tree(s3, bucket):
    fill(s3, bucket, TREE)
    return bucket


def test_v2_basic(s3, tree):
    r = s3.list_objects_v2(Bucket=tree)
    assert keys_of(r) == sorted(TREE)
    assert r["KeyCount"] == len(TREE)
    assert r["IsTruncated"] is False
    assert r["Name"] == tree
    assert "NextContinuationToken" not in r
    for o in r["Contents"]:
        assert o["Size"] == len(o["Key"])
        assert o["ETag"] == f'"{md5hex(o["Key"].encode())}"'
        assert o["StorageClass"] == "STANDARD"
        assert o["LastModified"] is not None


def test_prefix(s3, tree):
    assert keys_of(s3.list_objects_v2(Bucket=tree, Prefix="a/")) == ["a/1", "a/2", "a/sub/3"]
    assert keys_of(s3.list_objects_v2(Bucket=tree, Prefix="a")) == ["a/1", "a/2", "a/sub/3", "ab/4"]
    assert keys_of(s3.list_objects_v2(Bucket=tree, Prefix="zzz")) == []
    assert s3.list_objects_v2(Bucket=tree, Prefix="zzz")["KeyCount"] == 0
    assert keys_of(s3.list_objects(Bucket=tree, Prefix="d/e/")) == ["d/e/f", "d/e/g"]


def test_delimiter(s3, tree):
    r = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert keys_of(r) == ["c"]
    assert prefixes_of(r) == ["a/", "ab/", "b/", "d/"]
    assert r["KeyCount"] == 5  # objects + common prefixes

    r = s3.list_objects_v2(Bucket=tree, Delimiter="/", Prefix="d/")
    assert keys_of(r) == ["d/h"]
    assert prefixes_of(r) == ["d/e/"]

    r = s3.list_objects_v2(Bucket=tree, Delimiter="/", Prefix="a")
    assert keys_of(r) == []
    assert prefixes_of(r) == ["a/", "ab/"]

    r1 = s3.list_objects(Bucket=tree, Delimiter="/")
    assert keys_of(r1) == ["c"]
    assert prefixes_of(r1) == ["a/", "ab/", "b/", "d/"]


def test_non_slash_delimiter(s3, bucket):
    fill(s3, bucket, ["x-1-a", "x-1-b", "x-2", "y"])
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="-", Prefix="x-")
    assert keys_of(r) == ["x-2"]
    assert prefixes_of(r) == ["x-1-"]


def test_start_after_and_marker(s3, tree):
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="b/5")) == ["c", "d/e/f", "d/e/g", "d/h"]
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="b")) == ["b/5", "c", "d/e/f", "d/e/g", "d/h"]
    assert keys_of(s3.list_objects(Bucket=tree, Marker="c")) == ["d/e/f", "d/e/g", "d/h"]
    assert keys_of(s3.list_objects(Bucket=tree, Marker="zzz")) == []


KEYS25 = [f"k{i:03d}" for i in range(25)]


@pytest.fixture
def b25(s3, bucket):
    fill(s3, bucket, KEYS25, body=b"")
    return bucket


def test_v2_pagination(s3, b25):
    seen, token, pages = [], None, []
    while True:
        kw = {"Bucket": b25, "MaxKeys": 7}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        pages.append(r["KeyCount"])
        assert r["MaxKeys"] == 7
        seen += keys_of(r)
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        assert r["NextContinuationToken"]
        if token and not MOTO:  # moto does not echo ContinuationToken
            assert r["ContinuationToken"] == token
        token = r["NextContinuationToken"]
    assert pages == [7, 7, 7, 4]
    assert seen == KEYS25


def test_v2_pagination_exact_boundary(s3, b25):
    r = s3.list_objects_v2(Bucket=b25, MaxKeys=25)
    assert keys_of(r) == KEYS25 and r["IsTruncated"] is False
    r = s3.list_objects_v2(Bucket=b25, MaxKeys=5, StartAfter="k019")
    assert keys_of(r) == KEYS25[20:25]
    # S3 may say IsTruncated=true here only if more keys follow; none do
    assert r["IsTruncated"] is False


def test_v2_pagination_with_start_after(s3, b25):
    r = s3.list_objects_v2(Bucket=b25, MaxKeys=10, StartAfter="k004")
    assert keys_of(r) == KEYS25[5:15]
    r2 = s3.list_objects_v2(Bucket=b25, MaxKeys=10, StartAfter="k004",
                            ContinuationToken=r["NextContinuationToken"])
    assert keys_of(r2) == KEYS25[15:25]


def test_v2_paginator(s3, b25):
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=b25, PaginationConfig={"PageSize": 4}))
    assert [len(keys_of(p)) for p in pages] == [4, 4, 4, 4, 4, 4, 1]
    assert sum((keys_of(p) for p in pages), []) == KEYS25


def test_v1_pagination(s3, b25):
    seen, marker = [], None
    pages = 0
    while True:
        kw = {"Bucket": b25, "MaxKeys": 7}
        if marker:
            kw["Marker"] = marker
        r = s3.list_objects(**kw)
        pages += 1
        ks = keys_of(r)
        seen += ks
        if not r["IsTruncated"]:
            break
        marker = r.get("NextMarker") or ks[-1]
    assert pages == 4
    assert seen == KEYS25


@pytest.mark.sluice_only  # moto's v1 listing ignores MaxKeys for common prefixes
def test_v1_next_marker_with_delimiter(s3, bucket):
    fill(s3, bucket, [f"p{i}/x" for i in range(5)] + ["z1", "z2"])
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=3)
    assert prefixes_of(r) == ["p0/", "p1/", "p2/"]
    assert r["IsTruncated"] is True
    assert r["NextMarker"] == "p2/"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=3, Marker=r["NextMarker"])
    assert prefixes_of(r) == ["p3/", "p4/"]
    assert keys_of(r) == ["z1"]


def test_pagination_with_delimiter_no_duplicates(s3, bucket):
    keys = [f"dir{i:02d}/f{j}" for i in range(10) for j in range(3)] + [f"file{i:02d}" for i in range(5)]
    fill(s3, bucket, keys, body=b"")
    items, token = [], None
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 3, "Delimiter": "/"}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        assert r["KeyCount"] <= 3
        items += keys_of(r) + prefixes_of(r)
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert sorted(items) == [f"dir{i:02d}/" for i in range(10)] + [f"file{i:02d}" for i in range(5)]
    assert len(items) == len(set(items))


ODD = ["sp ace", "unicodé/日本/🚀", "per%cent", "plus+", "amp&lt;", "tilde~", "q?uery=1#x"]


def test_odd_keys_roundtrip_in_listing(s3, bucket):
    fill(s3, bucket, ODD)
    r = s3.list_objects_v2(Bucket=bucket)  # botocore asks for encoding-type=url and decodes
    assert keys_of(r) == sorted(ODD, key=lambda k: k.encode())
    r = s3.list_objects(Bucket=bucket)
    assert keys_of(r) == sorted(ODD, key=lambda k: k.encode())
    r = s3.list_objects_v2(Bucket=bucket, Prefix="unicodé/", Delimiter="/")
    assert prefixes_of(r) == ["unicodé/日本/"]


def _raw_list(raw, bucket, **q):
    query = [("list-type", "2")] + list(q.items())
    r = raw("GET", "/" + bucket, query=query, user="root")
    assert r.status == 200, r
    return r.xml


def test_encoding_type_url_raw(raw, s3, bucket):
    fill(s3, bucket, ODD)
    root = _raw_list(raw, bucket, **{"encoding-type": "url"})
    assert root.findtext(S3NS + "EncodingType") == "url"
    wire = [c.findtext(S3NS + "Key") for c in root.findall(S3NS + "Contents")]
    assert [urllib.parse.unquote_plus(k) for k in wire] == sorted(ODD, key=lambda k: k.encode())
    for w in wire:
        assert " " not in w and "&" not in w and "?" not in w, w
        assert all(ord(c) < 128 for c in w), w

    root = _raw_list(raw, bucket, **{"encoding-type": "url", "prefix": "unicodé/", "delimiter": "/"})
    cps = [p.findtext(S3NS + "Prefix") for p in root.findall(S3NS + "CommonPrefixes")]
    assert [urllib.parse.unquote_plus(p) for p in cps] == ["unicodé/日本/"]
    assert urllib.parse.unquote_plus(root.findtext(S3NS + "Prefix")) == "unicodé/"


def test_no_encoding_type_raw(raw, s3, bucket):
    fill(s3, bucket, ODD)
    root = _raw_list(raw, bucket)
    wire = [c.findtext(S3NS + "Key") for c in root.findall(S3NS + "Contents")]
    assert wire == sorted(ODD, key=lambda k: k.encode())


def test_fetch_owner(s3, bucket):
    fill(s3, bucket, ["o"])
    r = s3.list_objects_v2(Bucket=bucket)
    assert "Owner" not in r["Contents"][0]
    r = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)
    assert r["Contents"][0]["Owner"]["ID"]
    r = s3.list_objects(Bucket=bucket)
    assert r["Contents"][0]["Owner"]["ID"]


def test_list_missing_bucket(s3):
    name = unique_bucket("missing")
    for call in (s3.list_objects_v2, s3.list_objects):
        with pytest.raises(ClientError) as ei:
            call(Bucket=name)
        assert (err_code(ei.value), err_status(ei.value)) == ("NoSuchBucket", 404)


@pytest.mark.sluice_only  # moto accepts any continuation token
def test_invalid_continuation_token(s3, b25):
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=b25, ContinuationToken="definitely-not-a-token!!")
    assert (err_code(ei.value), err_status(ei.value)) == ("InvalidArgument", 400)


@pytest.mark.sluice_only  # moto accepts a negative max-keys
def test_negative_max_keys(raw, b25):
    r = raw("GET", "/" + b25, query=[("list-type", "2"), ("max-keys", "-1")], user="root")
    assert (r.status, r.code) == (400, "InvalidArgument"), r


def test_max_keys_zero(s3, b25):
    r = s3.list_objects_v2(Bucket=b25, MaxKeys=0)
    assert keys_of(r) == []
    assert r["KeyCount"] == 0


def test_list_object_versions_unversioned(s3, tree):
    r = s3.list_object_versions(Bucket=tree, Prefix="a/")
    vs = r.get("Versions", [])
    assert [v["Key"] for v in vs] == ["a/1", "a/2", "a/sub/3"]
    assert all(v["IsLatest"] for v in vs)
    assert all(v["VersionId"] == "null" for v in vs)
    r = s3.list_object_versions(Bucket=tree, Delimiter="/")
    assert prefixes_of(r) == ["a/", "ab/", "b/", "d/"]
    assert [v["Key"] for v in r.get("Versions", [])] == ["c"]


def test_listing_after_deletes(s3, b25):
    s3.delete_objects(Bucket=b25, Delete={"Objects": [{"Key": k} for k in KEYS25[::2]]})
    seen, token = [], None
    while True:
        kw = {"Bucket": b25, "MaxKeys": 4}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        seen += keys_of(r)
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert seen == KEYS25[1::2]
