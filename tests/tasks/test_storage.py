import pytest

from tasks.config import S3Config
from tasks.errors import StorageError
from tasks.storage import LocalStorage, open_storage


def exercise(storage):
    storage.write("a/one.txt", b"1")
    storage.write("a/b/two.txt", b"22")
    storage.write("ab/three.txt", b"333")
    assert [o.key for o in storage.list("a")] == ["a/b/two.txt", "a/one.txt"]
    assert [o.size for o in storage.list("a")] == [2, 1]
    assert storage.read("a/b/two.txt") == b"22"
    assert storage.exists("a/one.txt") and not storage.exists("a/missing.txt")
    storage.delete(["a/one.txt"])
    assert [o.key for o in storage.list()] == ["a/b/two.txt", "ab/three.txt"]


def test_local_storage_round_trip(tmp_path):
    exercise(LocalStorage(tmp_path / "root"))


def test_s3_storage_round_trip(bucket):
    storage = open_storage(f"s3://{bucket}/some/prefix", S3Config())
    exercise(storage)
    assert storage.uri("a/b/two.txt") == f"s3://{bucket}/some/prefix/a/b/two.txt"


def test_s3_listing_paginates_and_keeps_odd_keys(bucket):
    storage = open_storage(f"s3://{bucket}", S3Config())
    keys = [f"many/{i:04d} café ../x.txt" for i in range(1005)]  # more than one ListObjectsV2 page
    for key in keys:
        storage.write(key, b"x")
    listed = storage.list("many")
    assert [o.key for o in listed] == sorted(keys)
    assert storage.read(listed[0].key) == b"x"


def test_local_storage_refuses_keys_that_escape_the_root(tmp_path):
    with pytest.raises(StorageError, match="leave the storage root"):
        LocalStorage(tmp_path).read("../etc/passwd")


def test_missing_bucket_fails_with_a_message_naming_it(s3_endpoint):
    storage = open_storage("s3://no-such-bucket-here/x", S3Config(max_attempts=1))
    with pytest.raises(StorageError, match="no-such-bucket-here.*NoSuchBucket"):
        storage.list()


def test_unsupported_scheme_is_a_clear_error():
    with pytest.raises(StorageError, match="unsupported URI scheme"):
        open_storage("gs://bucket/x", S3Config())


def test_local_listing_walks_subfolders_in_path_order_and_skips_symlinks(tmp_path):
    for key in ("b.txt", "a-b/x.txt", "a/x.txt", "a/deeper/y.txt", "a.txt"):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_text(key)
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "linked-folder").symlink_to(tmp_path / "a", target_is_directory=True)

    listed = LocalStorage(tmp_path).list()

    assert [obj.key for obj in listed] == ["a/deeper/y.txt", "a/x.txt", "a-b/x.txt", "a.txt", "b.txt"]
    assert [obj.size for obj in listed] == [len(obj.key) for obj in listed]
    assert listed[0].uri == str(tmp_path / "a" / "deeper" / "y.txt")
    assert [obj.key for obj in LocalStorage(tmp_path).list("a")] == ["a/deeper/y.txt", "a/x.txt"]
    assert [obj.key for obj in LocalStorage(tmp_path).list("b.txt")] == ["b.txt"]


def test_faults_that_heal_by_waiting_are_transient_and_the_rest_permanent(s3_endpoint, bucket):
    """Classified on real responses from the wire, after botocore's own attempts."""
    from tasks.errors import TransientStorageError
    from tests.s3_faults import DROP, INTERNAL_ERROR, SLOW_DOWN, FaultyS3Proxy

    access_denied = (403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
    open_storage(f"s3://{bucket}", S3Config()).write("k.txt", b"x")
    for answer, expected in ((SLOW_DOWN, TransientStorageError), (INTERNAL_ERROR, TransientStorageError),
                             (DROP, TransientStorageError), (access_denied, StorageError)):
        with FaultyS3Proxy(s3_endpoint, lambda n, method, path, answer=answer: answer) as proxy:
            storage = open_storage(f"s3://{bucket}", S3Config(endpoint_url=proxy.url, max_attempts=2))
            with pytest.raises(expected) as raised:
                storage.read("k.txt")
        assert type(raised.value) is expected, answer
        # botocore retried the transient ones (max_attempts=2); a permanent one is not retried at all.
        assert proxy.failed >= 2 if expected is TransientStorageError else proxy.failed == 1


def test_root_exists_tells_a_missing_source_from_an_empty_one(tmp_path, bucket):
    assert LocalStorage(tmp_path).root_exists() and not LocalStorage(tmp_path / "nope").root_exists()
    open_storage(f"s3://{bucket}", S3Config()).write("scrapes/2025-08-23/a.txt", b"x")
    assert open_storage(f"s3://{bucket}", S3Config()).root_exists()
    assert open_storage(f"s3://{bucket}/scrapes/2025-08-23", S3Config()).root_exists()
    assert open_storage(f"s3://{bucket}/scrapes/2025-08-24/", S3Config()).root_exists()  # an empty day
    assert not open_storage(f"s3://{bucket}/scrapez/2025-08-24/", S3Config()).root_exists()  # a typo
    assert not open_storage(f"s3://{bucket}/scrapez", S3Config()).root_exists()
    assert not open_storage("s3://no-such-bucket-here/x", S3Config(max_attempts=1)).root_exists()


def test_an_unreadable_local_file_is_a_storage_error_naming_it(tmp_path):
    with pytest.raises(StorageError, match="cannot read .*missing.txt"):
        LocalStorage(tmp_path).read("missing.txt")
