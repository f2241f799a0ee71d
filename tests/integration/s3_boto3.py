#!/usr/bin/python3
"""s3_boto3.py - the S3 API with Debian's boto3, run by s3-boto3.test.mjs.

Usage: /usr/bin/python3 s3_boto3.py ENDPOINT_URL WORKDIR
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the
environment. Every step records what it saw in one JSON object printed on
stdout (the test asserts it); a step that raises records {"error": ...} and the
script carries on, so one failure does not hide the others.
"""
import hashlib
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, workdir = sys.argv[1], sys.argv[2]
MiB = 1024 * 1024

s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}, signature_version="s3v4"),
)

results = {"boto3": boto3.__version__}


def step(name):
    def wrap(fn):
        try:
            results[name] = fn()
        except Exception as e:  # noqa: BLE001 - recorded for the test
            err = {"error": type(e).__name__, "message": str(e)[:500], "trace": traceback.format_exc()[-1500:]}
            if isinstance(e, ClientError):
                err["code"] = e.response.get("Error", {}).get("Code")
                err["status"] = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            results[name] = err
        return fn

    return wrap


def client_error(fn):
    """Run fn expecting a ClientError: {code, status}, or {"unexpected": "succeeded"}."""
    try:
        fn()
    except ClientError as e:
        return {"code": e.response.get("Error", {}).get("Code"), "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")}
    return {"unexpected": "succeeded"}


def md5(b):
    return hashlib.md5(b).hexdigest()


def pseudo_random(n, seed):
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:n])


@step("create_bucket")
def _():
    r = s3.create_bucket(Bucket="boto-bucket")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    return {"status": r["ResponseMetadata"]["HTTPStatusCode"], "location": r.get("Location"), "listed": "boto-bucket" in names}


@step("put_get")
def _():
    body = b"hello from boto3\n"
    p = s3.put_object(Bucket="boto-bucket", Key="dir/hello.txt", Body=body, ContentType="text/plain", Metadata={"lang": "python"})
    g = s3.get_object(Bucket="boto-bucket", Key="dir/hello.txt")
    data = g["Body"].read()
    return {
        "put_etag": p["ETag"],
        "want_etag": '"%s"' % md5(body),
        "body_ok": data == body,
        "content_type": g["ContentType"],
        "metadata": g["Metadata"],
        "length": g["ContentLength"],
    }


@step("range_get")
def _():
    g = s3.get_object(Bucket="boto-bucket", Key="dir/hello.txt", Range="bytes=6-9")
    return {"status": g["ResponseMetadata"]["HTTPStatusCode"], "body": g["Body"].read().decode(), "content_range": g.get("ContentRange")}


@step("list")
def _():
    for k in ["dir/a b.txt", "dir/plus+.txt", "dir/ünï.txt", "other/x"]:
        s3.put_object(Bucket="boto-bucket", Key=k, Body=b"x")
    v2 = s3.list_objects_v2(Bucket="boto-bucket", Prefix="dir/")
    delim = s3.list_objects_v2(Bucket="boto-bucket", Delimiter="/")
    # botocore sends encoding-type=url for list_objects and decodes the answer.
    v1 = s3.list_objects(Bucket="boto-bucket", Prefix="dir/")
    pages = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-bucket", PaginationConfig={"PageSize": 2}):
        pages.append([c["Key"] for c in page.get("Contents", [])])
    return {
        "v2_keys": [c["Key"] for c in v2.get("Contents", [])],
        "v2_count": v2["KeyCount"],
        "prefixes": [p["Prefix"] for p in delim.get("CommonPrefixes", [])],
        "v1_keys": [c["Key"] for c in v1.get("Contents", [])],
        "pages": pages,
    }


@step("delete")
def _():
    d = s3.delete_object(Bucket="boto-bucket", Key="other/x")
    batch = s3.delete_objects(Bucket="boto-bucket", Delete={"Objects": [{"Key": "dir/a b.txt"}, {"Key": "dir/plus+.txt"}]})
    missing = client_error(lambda: s3.get_object(Bucket="boto-bucket", Key="other/x"))
    left = [c["Key"] for c in s3.list_objects_v2(Bucket="boto-bucket").get("Contents", [])]
    return {"status": d["ResponseMetadata"]["HTTPStatusCode"], "batch_deleted": sorted(x["Key"] for x in batch.get("Deleted", [])), "missing": missing, "left": left}


@step("copy")
def _():
    s3.copy_object(Bucket="boto-bucket", Key="copied.txt", CopySource={"Bucket": "boto-bucket", "Key": "dir/ünï.txt"})
    return {"body": s3.get_object(Bucket="boto-bucket", Key="copied.txt")["Body"].read().decode()}


@step("transfer")
def _():
    data = pseudo_random(10 * MiB, "boto-big")
    src = os.path.join(workdir, "big.bin")
    dst = os.path.join(workdir, "big.down.bin")
    with open(src, "wb") as f:
        f.write(data)
    # 10 MiB over an 8 MiB threshold with 5 MiB chunks: two parts (5 + 5).
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(src, "boto-bucket", "big/file.bin", Config=cfg)
    h = s3.head_object(Bucket="boto-bucket", Key="big/file.bin")
    s3.download_file("boto-bucket", "big/file.bin", dst, Config=cfg)
    with open(dst, "rb") as f:
        got = f.read()
    want_etag = '"%s-2"' % hashlib.md5(hashlib.md5(data[: 5 * MiB]).digest() + hashlib.md5(data[5 * MiB :]).digest()).hexdigest()
    return {"length": h["ContentLength"], "etag": h["ETag"], "want_etag": want_etag, "same": got == data, "got_length": len(got)}


@step("presigned")
def _():
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-bucket", "Key": "dir/hello.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(get_url) as r:
        got = {"status": r.status, "body": r.read().decode()}
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "boto-bucket", "Key": "presigned/up.txt"}, ExpiresIn=300)
    req = urllib.request.Request(put_url, data=b"uploaded by urllib", method="PUT")
    with urllib.request.urlopen(req) as r:
        put = {"status": r.status}
    back = s3.get_object(Bucket="boto-bucket", Key="presigned/up.txt")["Body"].read().decode()
    expired_url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-bucket", "Key": "dir/hello.txt"}, ExpiresIn=1)
    time.sleep(2.1)
    try:
        urllib.request.urlopen(expired_url)
        expired = {"unexpected": "succeeded"}
    except urllib.error.HTTPError as e:
        expired = {"status": e.code, "body": e.read().decode()[:600]}
    return {"get": got, "put": put, "back": back, "expired": expired}


@step("errors")
def _():
    return {
        "no_such_key": client_error(lambda: s3.get_object(Bucket="boto-bucket", Key="nope")),
        "no_such_bucket": client_error(lambda: s3.list_objects_v2(Bucket="boto-no-such-bucket")),
        "not_empty": client_error(lambda: s3.delete_bucket(Bucket="boto-bucket")),
        "bad_name": client_error(lambda: s3.create_bucket(Bucket="Bad_Name")),
    }


@step("cleanup")
def _():
    keys = [c["Key"] for c in s3.list_objects_v2(Bucket="boto-bucket").get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket="boto-bucket", Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    d = s3.delete_bucket(Bucket="boto-bucket")
    return {"status": d["ResponseMetadata"]["HTTPStatusCode"], "gone": "boto-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]}


print(json.dumps(results))
