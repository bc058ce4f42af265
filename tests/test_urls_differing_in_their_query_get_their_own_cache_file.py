"""The cache is keyed on the URL with its query, less the parameters known to sign a URL or bound
its life (downloads.naming.SIGNED_URL_SCHEMES), the others sorted: `?id=1` and `?id=2` are two
files, signed URLs of one object are one."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from downloads.naming import cache_file_name, cache_key
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import FileServer, body, file_server, image_body  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

S3_SIGNED = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261206%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261206T080000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=tok{n}&X-Amz-Signature=sig{n}"
)


def image(server: FileServer, query: str) -> FileToFetch:
    url = server.url(f"/image?{query}")
    return FileToFetch(url=url, folder="input", name=cache_file_name(url) + ".png")


@pytest.mark.django_db(transaction=True)
async def test_two_urls_differing_only_in_their_id_get_their_own_file(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    first, second = image(file_server, "id=1"), image(file_server, "id=2")

    await cache_prepare_task(task_id=uuid.uuid4(), files=[first])
    await cache_prepare_task(task_id=uuid.uuid4(), files=[second])

    assert first.name != second.name
    assert (cache_dirs.root_dir / "input" / first.name).read_bytes() == image_body("1")
    assert (cache_dirs.root_dir / "input" / second.name).read_bytes() == image_body("2")
    assert file_server.hits["/image"] == 2


@pytest.mark.django_db(transaction=True)
async def test_the_order_of_query_parameters_does_not_matter(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    await cache_prepare_task(task_id=uuid.uuid4(), files=[image(file_server, "id=1&size=s")])
    await cache_prepare_task(task_id=uuid.uuid4(), files=[image(file_server, "size=s&id=1")])

    assert file_server.hits["/image"] == 1


@pytest.mark.django_db(transaction=True)
async def test_presigned_urls_of_one_object_share_one_download(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    path = "/files/model.safetensors?size=1000&"
    urls = [file_server.url(path + S3_SIGNED.format(n=n)) for n in (1, 2)]

    for url in urls:
        file = FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert cache_file_name(urls[0]) == cache_file_name(urls[1])
    assert file_server.hits["/files/model.safetensors"] == 1
    assert cache_dirs.files() == [cache_file_name(urls[0])]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Host.example/a.bin?id=2&b=1#part", "https://host.example/a.bin?b=1&id=2"),
        ("https://host.example/a.bin?a=2&a=1&", "https://host.example/a.bin?a=2&a=1"),
        (
            "https://bucket.s3.amazonaws.com/m.safetensors?versionId=7&" + S3_SIGNED.format(n=1),
            "https://bucket.s3.amazonaws.com/m.safetensors?versionId=7",
        ),
        (
            "https://bucket.s3.amazonaws.com/m.ckpt?AWSAccessKeyId=AKIA&Expires=1&Signature=x%3D",
            "https://bucket.s3.amazonaws.com/m.ckpt",
        ),
        (
            "https://storage.googleapis.com/b/m.pt?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=c&X-Goog-Date=d&X-Goog-Expires=600&X-Goog-SignedHeaders=host"
            "&X-Goog-Signature=abc",
            "https://storage.googleapis.com/b/m.pt",
        ),
        (
            "https://storage.googleapis.com/b/m.pt?GoogleAccessId=a%40b&Expires=1&Signature=s",
            "https://storage.googleapis.com/b/m.pt",
        ),
        (
            "https://acct.blob.core.windows.net/c/m.bin?sv=2022-11-02&st=2026-12-06&se=2026-12-07"
            "&sr=b&sp=r&spr=https&skoid=o&sktid=t&skt=1&ske=2&sks=b&skv=v&sig=abc%3D&snapshot=9",
            "https://acct.blob.core.windows.net/c/m.bin?snapshot=9",
        ),
        (
            "https://d1.cloudfront.net/m.bin?Expires=1&Signature=s&Key-Pair-Id=K",
            "https://d1.cloudfront.net/m.bin",
        ),
        (
            "https://d1.cloudfront.net/m.bin?Policy=p&Signature=s&Key-Pair-Id=K",
            "https://d1.cloudfront.net/m.bin",
        ),
        # Without their scheme's signature, short names like Azure's keep their meaning.
        ("https://host.example/list?st=2&sp=1&se=3", "https://host.example/list?se=3&sp=1&st=2"),
        ("https://host.example/a.bin?Expires=1&token=t", "https://host.example/a.bin?Expires=1&token=t"),
    ],
)
def test_the_cache_key_keeps_every_parameter_but_signatures_and_expiries(url: str, key: str) -> None:
    assert cache_key(url) == key


def test_a_url_with_no_query_but_signatures_keeps_the_file_name_it_had_before() -> None:
    """Entries cached before queries counted were named from scheme, host and path: they still
    match such URLs."""
    plain = "https://host.example/models/sd15.safetensors"
    old_name = hashlib.sha256(plain.encode()).hexdigest()[:32] + ".safetensors"

    assert cache_file_name(plain) == old_name
    assert cache_file_name(plain + "?" + S3_SIGNED.format(n=3)) == old_name
