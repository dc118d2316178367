"""Object storage at the edges of the pipeline: a local folder or an S3 prefix, behind one interface.

Everything else in cleanwire speaks in URIs (``/abs/path/key`` or ``s3://bucket/prefix/key``) and
bytes; only this module touches the filesystem or boto3. S3 access uses boto3's standard credential
chain, botocore's adaptive retry mode (exponential backoff with jitter, client-side throttling) and
boto3's managed transfers (multipart above a threshold) for uploads.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from tasks.config import S3Config
from tasks.errors import CleanwireError, StorageError, TransientStorageError


@dataclass(frozen=True)
class StoredObject:
    uri: str  # full URI, usable with the storage that listed it
    key: str  # path relative to the listed root, '/'-separated
    size: int
    etag: str  # content version: S3 ETag, or mtime+size for local files
    modified: datetime  # last write, UTC


class Storage(Protocol):
    root: str

    def uri(self, key: str) -> str: ...
    def list(self, prefix: str = "") -> list[StoredObject]: ...
    def exists(self, key: str) -> bool: ...
    def root_exists(self) -> bool: ...
    def read(self, key: str, limit: int | None = None) -> bytes: ...
    def open(self, key: str) -> io.BufferedIOBase: ...
    def write(self, key: str, data: bytes) -> None: ...
    def write_if_absent(self, key: str, data: bytes) -> bool: ...
    def move(self, src_key: str, dst_key: str) -> None: ...
    def upload_dir(self, local_dir: Path, key_prefix: str) -> list[str]: ...
    def delete(self, keys: list[str]) -> None: ...


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _safe_relative(key: str) -> PurePosixPath:
    """Reject keys that would escape the root when turned into a local path."""
    rel = PurePosixPath(key.lstrip("/"))
    if any(part == ".." for part in rel.parts):
        raise StorageError(f"refusing key {key!r}: it contains '..' and would leave the storage root")
    return rel


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = str(Path(root).expanduser().resolve())

    def _path(self, key: str) -> Path:
        return Path(self.root, *_safe_relative(key).parts)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def list(self, prefix: str = "") -> list[StoredObject]:
        base = self._path(prefix)
        if base.is_file():
            entries = [(str(base), base.stat())]
        elif base.is_dir():
            entries = sorted(_files_below(str(base)), key=lambda entry: entry[0].split(os.sep))  # pathlib order
        else:
            return []
        out = []
        for path, stat in entries:
            key = path[len(self.root) + 1 :].replace(os.sep, "/")
            etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
            out.append(StoredObject(path, key, stat.st_size, etag, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return out

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def root_exists(self) -> bool:
        return Path(self.root).exists()

    def read(self, key: str, limit: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as fh:
                return fh.read() if limit is None else fh.read(limit)
        except OSError as exc:
            raise StorageError(f"cannot read {self._path(key)}: {exc.strerror or exc}") from None

    def open(self, key: str) -> io.BufferedIOBase:
        try:
            return self._path(key).open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read {self._path(key)}: {exc.strerror or exc}") from None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees a half-written file.
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)

    def write_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb") as fh:  # O_EXCL: exactly one creator wins
                fh.write(data)
        except FileExistsError:
            return False
        return True

    def move(self, src_key: str, dst_key: str) -> None:
        target = self._path(dst_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path(src_key).replace(target)

    def upload_dir(self, local_dir: Path, key_prefix: str) -> list[str]:
        target = self._path(key_prefix)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(local_dir, target)
        return sorted(p.relative_to(self.root).as_posix() for p in target.rglob("*") if p.is_file())

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


def _files_below(folder: str) -> Iterator[tuple[str, os.stat_result]]:
    """(path, stat) of every regular file below ``folder``, symlinks not followed: one scandir per
    folder (the entry's type comes with the listing) and one stat per file."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _files_below(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry.path, entry.stat(follow_symlinks=False)


class S3Storage:
    def __init__(self, bucket: str, prefix: str, config: S3Config):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = boto3.client(
            "s3",
            endpoint_url=config.endpoint_url or None,  # None lets boto3 read AWS_ENDPOINT_URL itself
            region_name=config.region,
            config=Config(retries={"mode": "adaptive", "max_attempts": config.max_attempts}),
        )
        self._transfer = TransferConfig(multipart_threshold=config.multipart_threshold_bytes)
        self._max_attempts = config.max_attempts

    def _key(self, key: str) -> str:
        return _join(self.prefix, key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _call(self, what: str, fn, **kwargs):
        """Run one S3 operation (botocore retries it first); classify what still fails."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = (
                f"S3 {what} on bucket {self.bucket!r} failed: {error.get('Code', '?')} ({error.get('Message', exc)})"
            )
            if _is_transient(exc):
                raise TransientStorageError(f"{message}, still after {self._max_attempts} retries") from None
            raise StorageError(message + _permission_hint(error.get("Code"), what)) from None
        except NoCredentialsError:
            raise StorageError(
                f"S3 {what} on bucket {self.bucket!r} failed: no AWS credentials found; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an instance role applies"
            ) from None
        except BotoCoreError as exc:
            message = f"S3 {what} on bucket {self.bucket!r} failed: {exc}"
            if _is_transient(exc):
                raise TransientStorageError(f"{message}, still after {self._max_attempts} retries") from None
            raise StorageError(message) from None

    def _iter_pages(self, prefix: str) -> Iterator[dict]:
        paginator = self._client.get_paginator("list_objects_v2")
        full = self._key(prefix)
        # A prefix names a "folder": list below it, not sibling keys that merely share its first letters.
        if full and not full.endswith("/"):
            full += "/"
        pages = self._call("ListObjectsV2", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full)))
        yield from pages

    def list(self, prefix: str = "") -> list[StoredObject]:
        out = []
        root_len = len(self.prefix) + 1 if self.prefix else 0
        for page in self._iter_pages(prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue  # zero-byte "folder" markers made by consoles
                key = item["Key"][root_len:]
                etag = item.get("ETag", "").strip('"')
                out.append(StoredObject(self.uri(key), key, item["Size"], etag, item["LastModified"].astimezone(UTC)))
        return sorted(out, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise StorageError(f"S3 HeadObject on bucket {self.bucket!r} failed: {exc}") from None

    def root_exists(self) -> bool:
        """The bucket exists and the prefix is in use. S3 has no folders: a prefix with no objects is
        taken to exist when its parent prefix holds objects (an empty day beside earlier days), and
        not to when the parent holds none either (a typo in the prefix)."""
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchBucket", "NotFound"}:
                return False
            raise StorageError(f"S3 HeadBucket on bucket {self.bucket!r} failed: {exc}") from None
        if not self.prefix:
            return True
        parent = self.prefix.rpartition("/")[0]
        for prefix in filter(None, (self.prefix, parent)):
            listed = self._call(
                "ListObjectsV2", self._client.list_objects_v2, Bucket=self.bucket, Prefix=prefix + "/", MaxKeys=1
            )
            if listed.get("KeyCount", 0):
                return True
        return False

    def read(self, key: str, limit: int | None = None) -> bytes:
        kwargs = {"Bucket": self.bucket, "Key": self._key(key)}
        if limit is not None:
            kwargs["Range"] = f"bytes=0-{max(limit - 1, 0)}"
        # The body is read inside the call: a connection that dies mid-body is a fault of the GET.
        return self._call("GetObject", lambda: self._client.get_object(**kwargs)["Body"].read())

    def open(self, key: str) -> io.BufferedIOBase:
        response = self._call("GetObject", self._client.get_object, Bucket=self.bucket, Key=self._key(key))
        return response["Body"]

    def write(self, key: str, data: bytes) -> None:
        self._call(
            "PutObject",
            self._client.upload_fileobj,
            Fileobj=io.BytesIO(data),
            Bucket=self.bucket,
            Key=self._key(key),
            Config=self._transfer,
        )

    def write_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                return False
            raise StorageError(f"S3 PutObject on bucket {self.bucket!r} failed: {exc}") from None
        return True

    def move(self, src_key: str, dst_key: str) -> None:
        # Server-side copy: the bytes never travel through this machine.
        self._call(
            "CopyObject",
            self._client.copy,
            CopySource={"Bucket": self.bucket, "Key": self._key(src_key)},
            Bucket=self.bucket,
            Key=self._key(dst_key),
            Config=self._transfer,
        )
        self.delete([src_key])

    def upload_dir(self, local_dir: Path, key_prefix: str) -> list[str]:
        stale = {o.key for o in self.list(key_prefix)}
        written = []
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            key = _join(key_prefix, path.relative_to(local_dir).as_posix())
            extra = {"ContentType": "text/html"} if path.suffix == ".html" else {}
            self._call(
                "PutObject",
                self._client.upload_file,
                Filename=str(path),
                Bucket=self.bucket,
                Key=self._key(key),
                Config=self._transfer,
                ExtraArgs=extra,
            )
            written.append(key)
        self.delete(sorted(stale - set(written)))
        return written

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            if chunk:
                self._call("DeleteObjects", self._client.delete_objects, Bucket=self.bucket, Delete={"Objects": chunk})


def _is_transient(exc: Exception) -> bool:
    """Throttling, 5xx, timeouts and dropped connections, as botocore's standard retry mode defines them."""
    from types import SimpleNamespace

    from botocore.exceptions import ClientError
    from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        context = RetryContext(1, parsed_response=exc.response, http_response=SimpleNamespace(status_code=status))
    else:
        context = RetryContext(1, caught_exception=exc)
    return TransientRetryableChecker().is_retryable(context) or ThrottledRetryableChecker().is_retryable(context)


def _permission_hint(code: str | None, what: str) -> str:
    if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
        return f"; check that the credentials allow s3:{what.replace('ListObjectsV2', 'ListBucket')} on it"
    if code == "NoSuchBucket":
        return "; create the bucket or fix the URI"
    return ""


def open_storage(uri: str, s3: S3Config) -> Storage:
    """Storage rooted at a local folder or an ``s3://bucket/prefix`` URI."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise StorageError(f"{uri!r} names no bucket; expected s3://bucket/prefix")
        return S3Storage(bucket, prefix, s3)
    if "://" in uri:
        raise StorageError(f"unsupported URI scheme in {uri!r}: use a local folder or s3://bucket/prefix")
    return LocalStorage(uri)


def retry_unless_permanent(task, task_run, state) -> bool:
    """Retry transient faults (a TransientStorageError: throttling, 5xx, timeouts, dropped connections,
    after botocore's own attempts); a StorageError (no such bucket, access denied, no credentials) will
    not heal by waiting, and neither will any other CleanwireError (bad arguments, a broken contract)."""
    try:
        state.result()
    except TransientStorageError:
        return True
    except CleanwireError:
        return False
    except Exception:
        return True
    return True


# Options of every task that moves data to or from storage. Prefect's default cache policy would hash
# the task's inputs for a cache key on every call: for a task handed the day's frames that means
# pickling all of them (and polars' serialise can deadlock against the GIL), so it is switched off;
# a task that wants a cache (the read step's) names its own key.
STORAGE_TASK_OPTIONS = dict(
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_permanent,
)
