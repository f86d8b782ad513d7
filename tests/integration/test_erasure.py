"""Erasure-coded drive sets end to end: servers on 4 and 8 drive folders, damaged on disk while they run.

What is checked, with boto3 against the real binary and `sluice admin`:
  * a deleted drive folder, a drive folder made unreadable and bytes flipped in shard files, up to the set's
    parity at once: every GET still returns the exact bytes (sha256);
  * `sluice admin heal` brings every copy back: each drive holds every object's metadata and a shard whose
    per-block XXH3-128 frames verify (checked here, independently of the server, through libxxhash), the
    healed shards alone serve the object, heal reports 0 failed, and a second heal heals nothing;
  * more loss than parity: a clean 503 XMinioReadQuorum / XMinioWriteQuorum, never wrong bytes;
  * kill -9 during a 64 MiB PUT: after restart and heal the object is whole or absent on every drive;
  * a drive replaced by an empty folder while running is formatted and fully healed, visible in `admin info`;
  * a multipart complete that misses its write quorum keeps the upload, and its retry succeeds;
  * versioning (boto3 and the aws cli) on 4 drives, including delete markers and ListObjectVersions.

Parity: 4 drives -> EC:2 (k=2, write quorum 3), 8 drives -> EC:4 (k=4, write quorum 5).
"""

import ctypes
import ctypes.util
import hashlib
import http.client
import json
import os
import pathlib
import shutil
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import USERS, err_code, err_status, obj_path, random_bytes, sign_v4, unique_bucket

pytestmark = [
    pytest.mark.sluice_only,
    # These tests choose their own drive counts; the suite's erasure pass (SLUICE_TEST_DRIVES=4) would only repeat them.
    pytest.mark.skipif(os.environ.get("SLUICE_TEST_DRIVES", "1") != "1",
                       reason="starts its own 4- and 8-drive servers; run in the single-drive passes"),
]

MiB = 1024 * 1024
BLOCK = MiB  # erasure block size (erasure_store_options::block_size)
CHECKSUM = 16  # XXH3-128 per shard block
META_MAGIC = b"SLMETA\x00\x01"
PARITY = {4: 2, 8: 4}
NEVER = "600000"  # storage.drive.check.ms that keeps the periodic drive check out of a test


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ----------------------------------------------------------------------------- XXH3-128 through libxxhash


class _XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


def _load_xxhash():
    for name in (ctypes.util.find_library("xxhash"), "libxxhash.so.0"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.XXH3_128bits_withSeed.restype = _XXH128
        lib.XXH3_128bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
        return lib
    return None


_XXH = _load_xxhash()


def xxh3_128_be(data, seed):
    """XXH3-128 with a seed, in XXH128_canonicalFromHash order (high then low 64 bits, big-endian)."""
    h = _XXH.XXH3_128bits_withSeed(data, len(data), seed)
    return h.high64.to_bytes(8, "big") + h.low64.to_bytes(8, "big")


@pytest.fixture(scope="module", autouse=True)
def _need_xxhash():
    if _XXH is None:
        pytest.skip("libxxhash not found (Debian: libxxhash0); needed to verify shard files")


# ----------------------------------------------------------------------------- reading the drives


def read_meta(path):
    """(document, inline area) of a .sluice.meta file (docs/STORAGE_FORMAT.md)."""
    b = pathlib.Path(path).read_bytes()
    assert b[:8] == META_MAGIC, path
    n = int.from_bytes(b[8:12], "little")
    return json.loads(b[12:12 + n]), b[12 + n:]


def key_dir(drive, bucket, key):
    return pathlib.Path(drive) / bucket / key


def shard_file_ok(data, size, block, k):
    """Whether a shard file image is exactly the bitrot frames of a part of `size` bytes, all verifying."""
    off = 0
    for i in range((size + block - 1) // block):
        slen = -(-min(block, size - i * block) // k)
        frame, shard = data[off:off + CHECKSUM], data[off + CHECKSUM:off + CHECKSUM + slen]
        if len(shard) != slen or xxh3_128_be(shard, i) != frame:
            return False
        off += CHECKSUM + slen
    return off == len(data)


def copy_problems(srv, bucket, key):
    """Problems with the latest version's copies on every drive ([] when each drive holds the same version and a
    shard that verifies, in the place the version's distribution gives that drive)."""
    problems, sigs = [], set()
    for pos, drive in enumerate(srv.drive_dirs):
        meta = key_dir(drive, bucket, key) / ".sluice.meta"
        if not meta.is_file():
            problems.append(f"drive {pos}: no metadata")
            continue
        doc, inline = read_meta(meta)
        v = doc["versions"][0]
        sigs.add((v["id"], v["etag"], v["size"], v["mtime"]))
        ec = v.get("ec")
        if ec is None or v["size"] == 0:
            continue
        k, block = ec["k"], ec["block"]
        if ec["index"] != ec["dist"][pos]:
            problems.append(f"drive {pos}: holds shard {ec['index']}, expected {ec['dist'][pos]}")
            continue
        if v.get("inline"):
            image = inline[v["inline_off"]:v["inline_off"] + v["inline_len"]]
            if not shard_file_ok(image, v["size"], block, k):
                problems.append(f"drive {pos}: inline shard does not verify")
            continue
        parts = v.get("parts") or [{"n": 1, "size": v["size"]}]
        for p in parts:
            f = key_dir(drive, bucket, key) / (".sluice.d-" + v["data_dir"]) / f"part.{p['n']}"
            if not f.is_file():
                problems.append(f"drive {pos}: {f.name} missing")
            elif not shard_file_ok(f.read_bytes(), p["size"], block, k):
                problems.append(f"drive {pos}: {f.name} does not verify")
    if len(sigs) > 1:
        problems.append(f"drives disagree on the latest version: {sigs}")
    return problems


def shard_path(drive, bucket, key, part=1):
    doc, _ = read_meta(key_dir(drive, bucket, key) / ".sluice.meta")
    return key_dir(drive, bucket, key) / (".sluice.d-" + doc["versions"][0]["data_dir"]) / f"part.{part}"


def data_shard_drives(srv, bucket, key):
    """Positions of the drives holding the key, ordered by the shard they hold (data shards 0..k-1 first)."""
    by_shard = {}
    for pos, drive in enumerate(srv.drive_dirs):
        meta = key_dir(drive, bucket, key) / ".sluice.meta"
        if not meta.is_file():
            continue
        doc, _ = read_meta(meta)
        by_shard[doc["versions"][0]["ec"]["index"]] = pos
    return [by_shard[s] for s in sorted(by_shard)]


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        c = f.read(1)
        f.seek(offset)
        f.write(bytes([c[0] ^ 0x5A]))


def block_offset(i, k):
    """Where block i's frame starts in a shard file (every block before it is full)."""
    return i * (CHECKSUM + -(-BLOCK // k))


# ----------------------------------------------------------------------------- damaging drives


_LIBC = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a, b):
    """Swaps two paths atomically (renameat2 RENAME_EXCHANGE): a server probing its drives never sees either missing
    (it would create a missing drive folder again)."""
    if _LIBC.renameat2(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(a))


def make_unreadable(drive):
    """Takes a drive folder away so that the server cannot read or write it.

    The tests run as root, and root ignores permission bits: `chmod 000` would not stop the server. So a regular
    file takes the folder's place (the folder is kept aside); every path below it then fails with ENOTDIR, as a
    dead disk's I/O errors would. restore() undoes it."""
    drive = pathlib.Path(drive)
    away = drive.with_name(drive.name + ".away")
    away.write_bytes(b"not a drive\n")
    exchange(drive, away)
    return away


def restore(drive, away):
    exchange(drive, away)
    pathlib.Path(away).unlink()


def wipe(drive):
    """Deletes a drive folder outright. Renamed aside first, so that a server probing its drives never sees a
    half-deleted folder (nor formats one while it is being emptied)."""
    drive = pathlib.Path(drive)
    gone = drive.with_name(drive.name + ".wiped")
    drive.rename(gone)
    shutil.rmtree(gone)


# ----------------------------------------------------------------------------- helpers


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})", pytrace=False)


def admin_info(srv):
    p = srv.admin("info", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def server_own(srv):
    """(buckets, objects, bytes) the server holds before a test adds any: e.g. the stream engine's bucket."""
    info = admin_info(srv)
    return info["buckets"], info["objects"], info["object_bytes"]


def admin_heal(srv, target=None, expect_rc=0):
    """Runs `sluice admin heal [target] --json`; returns the final heal status."""
    args = ["heal"] + ([target] if target else []) + ["--json"]
    p = srv.admin(*args)
    assert p.returncode == expect_rc, f"rc {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    status = json.loads(p.stdout.strip().splitlines()[-1])
    assert status["state"] == "done", status
    return status


def get_bytes(s3, bucket, key, **kw):
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def ec_server(make_server, drives, check_ms=NEVER, name=None):
    return make_server(name=name or f"ec{drives}", drives=drives,
                       overrides=[f"storage.drive.check.ms={check_ms}"])


def put_set(s3, bucket):
    """Objects of every storage shape: multi-block, one block, inline, multipart. Returns key -> bytes."""
    objs = {
        "big/multi-block.bin": random_bytes(3 * MiB + 123, seed=1),
        "one-block.bin": random_bytes(700_000, seed=2),
        "small/inline.txt": random_bytes(10_000, seed=3),
    }
    for k, v in objs.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)
    mp_key, p1, p2 = "mp/two-parts.bin", random_bytes(5 * MiB, seed=4), random_bytes(MiB + 5, seed=5)
    up = s3.create_multipart_upload(Bucket=bucket, Key=mp_key)["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key=mp_key, UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=mp_key, UploadId=up, PartNumber=2, Body=p2)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key=mp_key, UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    objs[mp_key] = p1 + p2
    return objs


def assert_all_exact(s3, bucket, objs):
    for k, v in objs.items():
        assert sha(get_bytes(s3, bucket, k)) == sha(v), k
    big = objs["big/multi-block.bin"]
    r = s3.get_object(Bucket=bucket, Key="big/multi-block.bin", Range=f"bytes={MiB - 7}-{2 * MiB + 9}")
    assert r["Body"].read() == big[MiB - 7:2 * MiB + 10]


def assert_all_copies_good(srv, bucket, objs):
    for k in objs:
        assert copy_problems(srv, bucket, k) == [], k


# ----------------------------------------------------------------------------- lost, unreadable, rotten


@pytest.mark.parametrize("drives", [4, 8])
def test_lost_unreadable_and_rotten_drives_serve_exact_bytes_and_heal(make_server, drives):
    m = PARITY[drives]
    srv = ec_server(make_server, drives)  # no periodic drive check: `admin heal` must find the drives itself
    _, own_objects, _ = server_own(srv)
    s3 = srv.client()
    b = unique_bucket("ec")
    s3.create_bucket(Bucket=b)
    objs = put_set(s3, b)
    assert_all_copies_good(srv, b, objs)
    dirs = srv.drive_dirs

    # 1. Up to parity faults at once: drive folders deleted outright, and bitrot in data shards on others.
    deleted = list(range(1, 1 + m // 2))  # drive 0 also keeps the server's IAM files: spare it here
    for d in deleted:
        wipe(dirs[d])
    rotten = {}
    for k, v in objs.items():
        order = [d for d in data_shard_drives(srv, b, k) if d not in deleted]
        for d in order[:m - len(deleted)]:
            doc, _ = read_meta(key_dir(dirs[d], b, k) / ".sluice.meta")
            if doc["versions"][0].get("inline"):
                meta = key_dir(dirs[d], b, k) / ".sluice.meta"
                flip(meta, meta.stat().st_size - 1)  # inline shard bytes end the metadata file
            else:
                flip(shard_path(dirs[d], b, k, part=1), CHECKSUM + 50)
            rotten.setdefault(k, []).append(d)
    for k in objs:
        assert copy_problems(srv, b, k), f"{k}: damage not visible on disk"
    assert_all_exact(s3, b, objs)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]]
    assert sorted(listed) == sorted(objs)
    info = admin_info(srv)
    assert info["drives_offline"] == len(deleted), info

    # The reads met the rotten shards and queued those objects for heal-on-read: the background heal repairs them
    # (the deleted drives stay offline until something probes the drives).
    def only_deleted_drives_lack_copies():
        for k in objs:
            if any(not p.endswith("no metadata") for p in copy_problems(srv, b, k)):
                return False
        return admin_info(srv)["heal_backlog"] == 0
    wait_for(only_deleted_drives_lack_copies, 30, "heal-on-read to repair the rotten shards")

    # `admin heal` probes the drives (recreating and formatting the deleted folders) and rewrites every copy they
    # lack: each object, once per deleted drive.
    h = admin_heal(srv)
    every = len(objs) + own_objects
    assert h["failed"] == 0 and h["objects_scanned"] == every, h
    assert h["objects_healed"] == every and h["shards_written"] == every * len(deleted), h
    assert_all_copies_good(srv, b, objs)
    again = admin_heal(srv)
    assert again["objects_healed"] == 0 and again["shards_written"] == 0 and again["failed"] == 0, again
    info = admin_info(srv)
    assert info["drives_online"] == drives and info["drives_healing"] == 0, info

    # The rebuilt copies are right, not just well-framed: with parity drives of the untouched ones taken away,
    # the healed drives carry the objects.
    damaged = set(deleted) | {d for ds in rotten.values() for d in ds}
    spare = [d for d in range(drives) if d not in damaged][:m]
    aways = [(dirs[d], make_unreadable(dirs[d])) for d in spare]
    try:
        assert_all_exact(s3, b, objs)
    finally:
        for drive, away in aways:
            restore(drive, away)
    # A heal probes the drives first: the restored ones come back online, with nothing to rewrite.
    h = admin_heal(srv)
    assert h["objects_healed"] == 0 and h["failed"] == 0, h
    assert admin_info(srv)["drives_online"] == drives

    # 2. An unreadable drive: reads go on, a write while it is away lands on the others, heal completes it.
    victim = dirs[drives - 1]
    away = make_unreadable(victim)
    try:
        assert_all_exact(s3, b, objs)
        late = random_bytes(2 * MiB + 1, seed=9)
        s3.put_object(Bucket=b, Key="late.bin", Body=late)
        assert sha(get_bytes(s3, b, "late.bin")) == sha(late)
    finally:
        restore(victim, away)
    objs["late.bin"] = late
    assert copy_problems(srv, b, "late.bin") == [f"drive {drives - 1}: no metadata"]
    h = admin_heal(srv, b)
    assert h["failed"] == 0 and h["objects_healed"] == 1 and h["shards_written"] == 1, h
    assert_all_copies_good(srv, b, objs)
    assert admin_heal(srv, b)["objects_healed"] == 0
    assert_all_exact(s3, b, objs)


# ----------------------------------------------------------------------------- more loss than parity


@pytest.mark.parametrize("drives", [4, 8])
def test_more_than_parity_lost_is_a_clean_503_never_wrong_bytes(make_server, drives):
    m = PARITY[drives]
    k = drives - m
    srv = ec_server(make_server, drives, check_ms="200")
    s3 = srv.client()
    b = unique_bucket("ec")
    s3.create_bucket(Bucket=b)
    first = random_bytes(3 * MiB, seed=11)
    middle = random_bytes(3 * MiB, seed=12)
    s3.put_object(Bucket=b, Key="first-block-lost", Body=first)
    s3.put_object(Bucket=b, Key="middle-block-lost", Body=middle)
    s3.put_object(Bucket=b, Key="small", Body=b"small and fine")
    dirs = srv.drive_dirs
    # Rot in m+1 shards of one block: fewer than k good shards are left for it.
    for key, block in (("first-block-lost", 0), ("middle-block-lost", 1)):
        for d in data_shard_drives(srv, b, key)[:m + 1]:
            flip(shard_path(dirs[d], b, key), block_offset(block, k) + CHECKSUM + 7)

    # The first block is read before the answer starts: a clean 503.
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="first-block-lost")
    assert err_status(ei.value) == 503 and err_code(ei.value) == "XMinioReadQuorum", ei.value.response
    assert "unable to reconstruct" in ei.value.response["Error"]["Message"]
    r = srv.request("GET", obj_path(b, "first-block-lost"), user="root")
    assert r.status == 503 and r.code == "XMinioReadQuorum", r
    # Blocks that still have k good shards are served.
    got = s3.get_object(Bucket=b, Key="first-block-lost", Range=f"bytes={2 * MiB}-{2 * MiB + 99}")["Body"].read()
    assert got == first[2 * MiB:2 * MiB + 100]

    # A block lost in the middle: the answer has started, so the connection is cut short; the bytes sent are right.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    headers = {"Host": srv.host}
    sign_v4("GET", obj_path(b, "middle-block-lost"), [], headers, hashlib.sha256(b"").hexdigest(), *USERS["root"])
    conn.request("GET", obj_path(b, "middle-block-lost"), headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as cut:
        resp.read()
    partial = cut.value.partial
    assert len(partial) < len(middle) and partial == middle[:len(partial)]
    conn.close()

    # Heal cannot fix them and says so (exit status 1).
    h = admin_heal(srv, b, expect_rc=1)
    assert h["failed"] == 2 and h["objects_scanned"] == 3, h

    # More than parity drives gone: every operation answers 503 with a quorum code.
    aways = [(dirs[d], make_unreadable(dirs[d])) for d in range(m + 1)]
    try:
        for call in (lambda: s3.get_object(Bucket=b, Key="small"),
                     lambda: s3.put_object(Bucket=b, Key="new", Body=b"x" * 1000),
                     lambda: s3.list_objects_v2(Bucket=b)):
            with pytest.raises(ClientError) as ei:
                call()
            assert err_status(ei.value) == 503, ei.value.response
            assert err_code(ei.value) in ("XMinioReadQuorum", "XMinioWriteQuorum"), ei.value.response
        r = srv.request("HEAD", obj_path(b, "small"), user="root")
        assert r.status == 503
        info = admin_info(srv)
        assert info["drives_offline"] == m + 1, info
    finally:
        for drive, away in aways:
            restore(drive, away)
    wait_for(lambda: admin_info(srv)["drives_online"] == drives, 20, "drives back online")
    assert get_bytes(s3, b, "small") == b"small and fine"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=b, Key="new")
    assert err_status(ei.value) == 404  # the failed PUT left nothing visible


# ----------------------------------------------------------------------------- kill -9 during a write


def _put_stream(srv, bucket, key, body, sent_mark, progress, result):
    """PUT with a raw connection, 1 MiB at a time; sets progress when sent_mark bytes are out."""
    path = obj_path(bucket, key)
    headers = {"Host": srv.host, "Content-Length": str(len(body))}
    sign_v4("PUT", path, [], headers, "UNSIGNED-PAYLOAD", *USERS["root"])
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        sent = 0
        view = memoryview(body)
        while sent < len(body):
            conn.send(view[sent:sent + MiB])
            sent += MiB
            if sent >= sent_mark:
                progress.set()
        result["status"] = conn.getresponse().status
    except (OSError, http.client.HTTPException) as e:
        result["error"] = repr(e)
    finally:
        progress.set()
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("drives", [4, 8])
def test_kill9_during_large_put_leaves_object_whole_or_absent(make_server, drives):
    srv = ec_server(make_server, drives)
    s3 = srv.client()
    b = unique_bucket("ec")
    s3.create_bucket(Bucket=b)
    old = random_bytes(2 * MiB + 3, seed=21)
    s3.put_object(Bucket=b, Key="k", Body=old)
    new = random_bytes(64 * MiB, seed=22)
    # Round 1 kills half-way through the body, round 2 right after the last byte (the commit may or may not run).
    for mark in (32 * MiB, 64 * MiB):
        progress, result = threading.Event(), {}
        t = threading.Thread(target=_put_stream, args=(srv, b, "k", new, mark, progress, result))
        t.start()
        assert progress.wait(60), "PUT did not progress"
        srv.kill9()
        t.join(60)
        assert "status" not in result or mark == 64 * MiB, result
        srv.start()
        h = admin_heal(srv)
        assert h["failed"] == 0, h
        got = get_bytes(s3, b, "k")
        if mark < len(new):
            assert sha(got) == sha(old), "a half-sent PUT became visible"
        else:
            assert sha(got) in (sha(old), sha(new))
            if result.get("status") == 200:
                assert sha(got) == sha(new), "an acknowledged PUT was lost"
        # Whatever won is whole on every drive, and nothing else is left behind.
        assert copy_problems(srv, b, "k") == []
        for drive in srv.drive_dirs:
            doc, _ = read_meta(key_dir(drive, b, "k") / ".sluice.meta")
            assert len(doc["versions"]) == 1, doc
            data_dirs = [p.name for p in key_dir(drive, b, "k").iterdir() if p.name.startswith(".sluice.d-")]
            assert data_dirs == [".sluice.d-" + doc["versions"][0]["data_dir"]], data_dirs
            assert not any((pathlib.Path(drive) / ".sluice.sys" / "tmp").iterdir()), drive
        old = got


# ----------------------------------------------------------------------------- replaced drive


@pytest.mark.parametrize("drives", [4, 8])
def test_drive_replaced_by_empty_folder_is_formatted_and_healed(make_server, drives):
    srv = ec_server(make_server, drives, check_ms="200")
    own_buckets, own_objects, _ = server_own(srv)
    s3 = srv.client()
    b1, b2 = unique_bucket("ec"), unique_bucket("ec")
    s3.create_bucket(Bucket=b1)
    s3.create_bucket(Bucket=b2)
    s3.put_bucket_versioning(Bucket=b2, VersioningConfiguration={"Status": "Enabled"})
    objs = put_set(s3, b1)
    v1 = s3.put_object(Bucket=b2, Key="v", Body=b"version one")["VersionId"]
    s3.put_object(Bucket=b2, Key="v", Body=random_bytes(MiB + 1, seed=31))
    before = admin_info(srv)
    every = own_objects + len(objs) + 1
    assert before["objects"] == every and before["buckets"] == own_buckets + 2, before

    victim = srv.drive_dirs[1]
    wipe(victim)
    victim.mkdir(exist_ok=True)  # a new, empty disk in the old one's place (the server may have made it already)

    def healed():
        info = admin_info(srv)
        h = info["heal"]
        d = info["drives"][1]
        ok = (h and h["reason"] == "drive replaced" and h["state"] == "done" and d["state"] == "online"
              and not d["healing"])
        return info if ok else None
    info = wait_for(healed, 30, "the replaced drive to be formatted and healed")
    h = info["heal"]
    assert h["failed"] == 0 and h["objects_scanned"] == every, h
    assert h["objects_healed"] == every, h  # every object lacked the new drive's copy
    assert info["objects"] == every and info["drives_online"] == drives, info
    fmt = json.loads((victim / ".sluice.sys" / "format.json").read_text())
    assert fmt["drive"] == 1 and fmt["id"] == before["deployment_id"], fmt
    assert (victim / ".sluice.sys" / "buckets" / b2 / "versioning.cfg").is_file()
    assert_all_copies_good(srv, b1, objs)
    vdoc, _ = read_meta(key_dir(victim, b2, "v") / ".sluice.meta")
    assert len(vdoc["versions"]) == 2  # both versions came back
    assert get_bytes(s3, b2, "v", VersionId=v1) == b"version one"
    assert admin_heal(srv)["objects_healed"] == 0
    assert_all_exact(s3, b1, objs)


# ----------------------------------------------------------------------------- multipart and write quorum


def test_complete_multipart_without_write_quorum_keeps_the_upload(make_server):
    srv = ec_server(make_server, 4, check_ms="200")  # k=2, write quorum 3
    s3 = srv.client()
    b = unique_bucket("ec")
    s3.create_bucket(Bucket=b)
    p1, p2 = random_bytes(5 * MiB, seed=41), random_bytes(MiB, seed=42)
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    parts = [{"PartNumber": 1, "ETag": s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=p1)["ETag"]},
             {"PartNumber": 2, "ETag": s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=2, Body=p2)["ETag"]}]
    dirs = srv.drive_dirs
    aways = [(dirs[d], make_unreadable(dirs[d])) for d in (0, 1)]  # 2 of 4 left: readable, not writable
    try:
        with pytest.raises(ClientError) as ei:
            s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
        assert err_status(ei.value) == 503 and err_code(ei.value) == "XMinioWriteQuorum", ei.value.response
    finally:
        for drive, away in aways:
            restore(drive, away)
    wait_for(lambda: admin_info(srv)["drives_online"] == 4, 20, "drives back online")
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=b, Key="mp")
    assert err_status(ei.value) == 404  # the failed complete left no object
    # The upload is as it was: listed, its parts listed, and the retried complete succeeds.
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b).get("Uploads", [])] == [up]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=b, Key="mp", UploadId=up)["Parts"]] == [1, 2]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
    assert sha(get_bytes(s3, b, "mp")) == sha(p1 + p2)
    assert s3.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    assert admin_heal(srv, b)["failed"] == 0
    assert copy_problems(srv, b, "mp") == []
    for drive in dirs:
        assert not any((pathlib.Path(drive) / ".sluice.sys" / "tmp").iterdir()), drive


# ----------------------------------------------------------------------------- admin info and heal CLI


def test_admin_info_and_heal_cli_human_output(make_server):
    srv = ec_server(make_server, 8)
    own_buckets, own_objects, own_bytes = server_own(srv)
    s3 = srv.client()
    b = unique_bucket("ec")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a/1", Body=b"1" * 1000)
    s3.put_object(Bucket=b, Key="a/2", Body=b"2" * 2000)
    s3.put_object(Bucket=b, Key="b/3", Body=b"3" * 3000)
    info = admin_info(srv)
    assert (info["backend"], info["sets"], info["drives_per_set"], info["parity"]) == ("erasure", 1, 8, 4)
    assert info["standard_storage_class"] == "EC:4"
    assert (info["buckets"], info["objects"], info["object_bytes"], info["usage_complete"]) == (
        own_buckets + 1, own_objects + 3, own_bytes + 6000, True)
    assert info["drives_online"] == 8 and info["drives_offline"] == 0
    assert info["erasure_sets"] == [{"index": 0, "drives_online": 8, "drives_offline": 0, "drives_healing": 0}]
    assert [d["path"] for d in info["drives"]] == [str(p) for p in srv.drive_dirs]
    assert 0 < info["free_bytes"] <= info["total_bytes"]
    # Drive folders on one file system are counted once.
    assert info["total_bytes"] == info["drives"][0]["total_bytes"]

    away = make_unreadable(srv.drive_dirs[3])
    try:
        s3.get_object(Bucket=b, Key="a/1")["Body"].read()  # notices the drive
        s3.put_object(Bucket=b, Key="a/4", Body=b"4")
        p = srv.admin("info")
        assert p.returncode == 0, p.stderr
        out = p.stdout
        assert "Erasure sets: 1, drives per set: 8, parity: EC:4" in out, out
        assert "Drives: 7 online, 1 offline" in out, out
        buckets = own_buckets + 1
        assert f"{own_objects + 4} objects" in out and f"in {buckets} bucket{'s' if buckets > 1 else ''}" in out, out
        assert f"{srv.drive_dirs[3]}  offline" in out, out
    finally:
        restore(srv.drive_dirs[3], away)
    p = srv.admin("heal", f"{b}/a/")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"of {b}/a/ started" in p.stdout, p.stdout
    assert "done after" in p.stdout and "3 objects scanned, 1 healed" in p.stdout and "0 failed" in p.stdout, p.stdout
    p = srv.admin("heal", "no-such-bucket")
    assert p.returncode == 1 and "NoSuchBucket" in p.stderr, p.stderr
    p = srv.admin("info")
    assert "Last heal: #" in p.stdout and "failed" in p.stdout, p.stdout


def test_admin_on_a_single_drive(make_server):
    srv = make_server(name="single", drives=1)
    own_buckets, own_objects, own_bytes = server_own(srv)
    s3 = srv.client()
    b = unique_bucket("one")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="x", Body=b"12345")
    info = admin_info(srv)
    assert (info["backend"], info["sets"], info["drives_per_set"], info["parity"]) == ("single-drive", 1, 1, 0)
    assert (info["drives_online"], info["drives_offline"]) == (1, 0)
    assert (info["buckets"], info["objects"], info["object_bytes"]) == (own_buckets + 1, own_objects + 1, own_bytes + 5)
    assert info["heal"] is None
    p = srv.admin("info")
    assert p.returncode == 0 and "Single drive: 1 set of 1 drive, no parity (EC:0)" in p.stdout, p.stdout
    assert "Drives: 1 online, 0 offline" in p.stdout, p.stdout
    if (own_objects, own_buckets) == (0, 0):
        assert "1 object (5.0 B) in 1 bucket" in p.stdout, p.stdout
    p = srv.admin("heal")
    assert p.returncode == 1 and "NotImplemented" in p.stderr and "erasure-coded" in p.stderr, p.stderr


# ----------------------------------------------------------------------------- versioning


def test_versioning_with_boto3_on_erasure_drives(make_server):
    srv = ec_server(make_server, 4)
    s3 = srv.client()
    b = unique_bucket("ver")
    s3.create_bucket(Bucket=b)
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"from before versioning")
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    one, two = b"version one", random_bytes(2 * MiB + 9, seed=51)
    r1 = s3.put_object(Bucket=b, Key="k", Body=one)
    r2 = s3.put_object(Bucket=b, Key="k", Body=two)
    v1, v2 = r1["VersionId"], r2["VersionId"]
    assert v1 and v2 and len({v1, v2, "null"}) == 3
    g = s3.get_object(Bucket=b, Key="k")
    assert g["VersionId"] == v2 and sha(g["Body"].read()) == sha(two)
    assert get_bytes(s3, b, "k", VersionId=v1) == one
    assert get_bytes(s3, b, "k", VersionId="null") == b"from before versioning"
    assert s3.head_object(Bucket=b, Key="k", VersionId=v1)["ContentLength"] == len(one)

    vs = s3.list_object_versions(Bucket=b)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in vs] == [(v2, True), (v1, False), ("null", False)]

    # A lost drive changes nothing for readers of any version.
    wipe(srv.drive_dirs[2])
    assert get_bytes(s3, b, "k", VersionId=v1) == one
    assert sha(get_bytes(s3, b, "k", VersionId=v2)) == sha(two)

    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] not in (v1, v2)
    marker = d["VersionId"]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="k")
    assert err_code(ei.value) == "NoSuchKey"
    # The 404 says the latest version is a delete marker, and which (GET and HEAD, as S3).
    headers = ei.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amz-delete-marker") == "true" and headers.get("x-amz-version-id") == marker
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=b, Key="k")
    headers = ei.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert err_status(ei.value) == 404 and headers.get("x-amz-delete-marker") == "true"
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="never-written")
    assert "x-amz-delete-marker" not in ei.value.response["ResponseMetadata"]["HTTPHeaders"]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="k", VersionId=marker)
    assert err_status(ei.value) == 405
    lv = s3.list_object_versions(Bucket=b)
    assert [(m["VersionId"], m["IsLatest"]) for m in lv["DeleteMarkers"]] == [(marker, True)]
    assert [v["VersionId"] for v in lv["Versions"]] == [v2, v1, "null"]
    assert "Contents" not in s3.list_objects_v2(Bucket=b)

    c = s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
    assert c["CopySourceVersionId"] == v1 and c["VersionId"]
    assert get_bytes(s3, b, "copy") == one

    s3.delete_object(Bucket=b, Key="k", VersionId=marker)  # removing the marker brings v2 back
    assert sha(get_bytes(s3, b, "k")) == sha(two)
    s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="k", VersionId=v1)
    assert err_code(ei.value) == "NoSuchVersion"
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=b, Prefix="k")["Versions"]] == [v2, "null"]

    # Suspended: writes replace the null version, older versions stay.
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    s3.put_object(Bucket=b, Key="k", Body=b"suspended")
    vs = s3.list_object_versions(Bucket=b, Prefix="k")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in vs] == [("null", True), (v2, False)]
    assert get_bytes(s3, b, "k", VersionId="null") == b"suspended"

    # Heal brings every version back onto the lost drive.
    h = admin_heal(srv)
    assert h["failed"] == 0, h
    doc, _ = read_meta(key_dir(srv.drive_dirs[2], b, "k") / ".sluice.meta")
    assert sorted(v["id"] for v in doc["versions"]) == sorted(["", v2])


@pytest.mark.cli
def test_versioning_with_the_aws_cli_on_erasure_drives(make_server, tmp_path):
    if not shutil.which("aws"):
        pytest.skip("aws cli not installed")
    srv = ec_server(make_server, 4)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=USERS["root"][0], AWS_SECRET_ACCESS_KEY=USERS["root"][1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"), AWS_PAGER="")
    env.pop("AWS_PROFILE", None)

    def aws(*args):
        p = subprocess.run(["aws", "--endpoint-url", srv.endpoint, "--output", "json", *args], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"aws {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def js(*args):
        out = aws(*args).stdout
        return json.loads(out) if out.strip() else {}

    # The aws cli for the versioning calls (put-bucket-versioning, get-object --version-id, delete-object making a
    # delete marker, list-object-versions); setup and checks with boto3, as each aws cli start costs seconds.
    s3 = srv.client()
    b = unique_bucket("awsver")
    s3.create_bucket(Bucket=b)
    aws("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    one, two = b"first body", random_bytes(3 * MiB, seed=61)
    v1 = s3.put_object(Bucket=b, Key="doc", Body=one)["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="doc", Body=two)["VersionId"]
    out = tmp_path / "got"
    r = js("s3api", "get-object", "--bucket", b, "--key", "doc", "--version-id", v1, str(out))
    assert r["VersionId"] == v1 and out.read_bytes() == one
    d = js("s3api", "delete-object", "--bucket", b, "--key", "doc")
    assert d["DeleteMarker"] is True and d["VersionId"] not in (v1, v2)
    lv = js("s3api", "list-object-versions", "--bucket", b)
    assert [(m["VersionId"], m["IsLatest"]) for m in lv["DeleteMarkers"]] == [(d["VersionId"], True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in lv["Versions"]] == [(v2, False), (v1, False)]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="doc")
    assert err_code(ei.value) == "NoSuchKey"
    s3.delete_object(Bucket=b, Key="doc", VersionId=d["VersionId"])  # removing the marker brings v2 back
    assert sha(get_bytes(s3, b, "doc")) == sha(two)
    for v in (v1, v2):
        s3.delete_object(Bucket=b, Key="doc", VersionId=v)
    assert "Versions" not in s3.list_object_versions(Bucket=b)
    s3.delete_bucket(Bucket=b)
