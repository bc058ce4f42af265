"""An inline image made to be slow to check (a PNG of a million text chunks, a JPEG of a million
markers, a GIF of a million sub-blocks, PNG metadata that inflates a thousandfold, a TIFF of two
million strips) is a 400 naming its field, stopped by a bound on the work its check may do (how long such checks
take is bench/image_checks.py's to print), however it is made; real images, large ones included,
still pass. A graph's inline images share one bound, so a
thousand of them cannot add up to what one may not take."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, PngImagePlugin
from rest_framework.exceptions import ValidationError

from comfy_router.errors import flatten_errors
from tests.test_graph_validation import SD15_TXT2IMG
from tests.workflow_params import body, controlnet, sd15_params
from workflows.api.params import validate_submission
from workflows.graphs.builders.images import (
    MAX_IMAGE_READS,
    MAX_INLINE_IMAGE_BYTES,
    MAX_PNG_COMPRESSED_CHUNKS,
    MAX_TIFF_VALUES,
)


def saved(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with(chunks: bytes, *, after_the_pixels: bool = False) -> bytes:
    """An 8x8 PNG with `chunks` after its header, or just before its end."""
    png = saved(Image.new("RGB", (8, 8)), "PNG")
    header_end = 8 + 25  # signature, IHDR
    if after_the_pixels:
        return png[:-12] + chunks + png[-12:]
    return png[:header_end] + chunks + png[header_end:]


def png_of_text_chunks(count: int, *, after_the_pixels: bool = False) -> bytes:
    return png_with(png_chunk(b"tEXt", b"a\0b") * count, after_the_pixels=after_the_pixels)


def jpeg_of_comment_markers(count: int) -> bytes:
    jpeg = saved(Image.new("RGB", (8, 8)), "JPEG")
    return jpeg[:2] + b"\xff\xfe\x00\x03a" * count + jpeg[2:]


def jpeg_with_junk_between_markers(count: int) -> bytes:
    jpeg = saved(Image.new("RGB", (8, 8)), "JPEG")
    (length,) = struct.unpack(">H", jpeg[4:6])  # the APP0 segment's
    return jpeg[: 4 + length] + b"\0" * count + jpeg[4 + length :]


def gif_of_comment_sub_blocks(count: int) -> bytes:
    gif = saved(Image.new("P", (8, 8)), "GIF")
    palette_end = 13 + 3 * 2 ** ((gif[10] & 7) + 1)
    return gif[:palette_end] + b"\x21\xfe" + b"\x01a" * count + b"\x00" + gif[palette_end:]


def png_of_inflating_chunks(kind: bytes, count: int) -> bytes:
    """Chunks of 1 KiB that Pillow inflates to 1 MiB each."""
    inflated = zlib.compress(b"\0" * (PngImagePlugin.MAX_TEXT_CHUNK - 1), 9)
    return png_with(png_chunk(kind, b"k\0\0" + inflated) * count)


def tiff_of_strips(count: int) -> bytes:
    """An 8x8 grey TIFF cut into `count` strips (Pillow makes an object of each)."""

    def entry(tag: int, kind: int, values: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, kind, values, value)

    long, short = 4, 3
    offsets = 8 + 2 + 8 * 12 + 4
    byte_counts = offsets + 4 * count
    pixels = byte_counts + 4 * count
    entries = [
        entry(256, long, 1, 8),  # width
        entry(257, long, 1, 8),  # height
        entry(258, short, 1, 8),  # bits per sample
        entry(259, short, 1, 1),  # no compression
        entry(262, short, 1, 1),  # black is zero
        entry(273, long, count, offsets),
        entry(278, long, 1, 1),  # rows per strip
        entry(279, long, count, byte_counts),
    ]
    header = b"II*\0" + struct.pack("<IH", 8, len(entries)) + b"".join(entries) + b"\0" * 4
    strips = struct.pack(f"<{count}I", *(pixels + n % 64 for n in range(count)))
    return header + strips + struct.pack(f"<{count}I", *[1] * count) + b"\0" * 64


def frames(mode: str) -> list[Image.Image]:
    return [Image.new(mode, (64, 64), shade) for shade in range(1, 50)]


def largest_png_libpng_writes() -> bytes:
    """Just under MAX_INLINE_IMAGE_BYTES of pixels in libpng's 8 KiB data chunks."""
    width = height = 2360
    rows = b"".join(b"\0" + bytes([y % 256]) * (width * 3) for y in range(height))
    data = zlib.compress(rows, 0)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(png_chunk(b"IDAT", data[i : i + 8192]) for i in range(0, len(data), 8192))
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + pixels + png_chunk(b"IEND", b"")
    assert len(png) <= MAX_INLINE_IMAGE_BYTES
    return png


def inline(data: bytes) -> dict[str, str]:
    return {"type": "base64", "content": base64.b64encode(data).decode()}


def sd15_with_input_image(data: bytes) -> dict[str, Any]:
    return body("SD15", sd15_params(input_image=inline(data)))


def refusal(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        validate_submission(data)
    return flatten_errors(raised.value.detail)


def test_a_png_of_a_million_text_chunks_is_a_400_naming_the_field_at_once() -> None:
    image = png_of_text_chunks(1_100_000)
    assert len(image) <= MAX_INLINE_IMAGE_BYTES  # within every other limit

    errors = refusal(sd15_with_input_image(image))

    assert "too many parts" in errors["params.input_image.content"][0], errors


@pytest.mark.parametrize(
    "make",
    [
        lambda: png_of_text_chunks(1_000_000, after_the_pixels=True),
        lambda: jpeg_of_comment_markers(3_000_000),
        lambda: jpeg_with_junk_between_markers(MAX_INLINE_IMAGE_BYTES - 1000),
        lambda: gif_of_comment_sub_blocks(8_000_000),
    ],
    ids=["png-text-after-the-pixels", "jpeg-markers", "jpeg-junk", "gif-sub-blocks"],
)
def test_any_format_made_of_too_many_parts_is_refused_at_once(make: Callable[[], bytes]) -> None:
    params = sd15_params(controlnets=[controlnet(image=inline(make()))])
    errors = refusal(body("SD15", params))

    assert "too many parts" in errors["params.controlnets[0].image.content"][0], errors


@pytest.mark.parametrize("kind", [b"iCCP", b"zTXt", b"iTXt"])
def test_a_png_with_more_compressed_metadata_chunks_than_the_bound_is_refused(kind: bytes) -> None:
    errors = refusal(sd15_with_input_image(png_of_inflating_chunks(kind, 1000)))

    message = errors["params.input_image.content"][0]
    assert f"more than {MAX_PNG_COMPRESSED_CHUNKS} compressed metadata chunks" in message, errors


def test_a_png_with_as_many_compressed_metadata_chunks_as_the_bound_passes() -> None:
    image = png_of_inflating_chunks(b"zTXt", MAX_PNG_COMPRESSED_CHUNKS)
    validate_submission(sd15_with_input_image(image))


def test_a_tiff_of_more_strips_than_the_bound_is_refused_at_once() -> None:
    errors = refusal(sd15_with_input_image(tiff_of_strips(2_000_000)))

    message = errors["params.input_image.content"][0]
    assert f"entry of more than {MAX_TIFF_VALUES} values" in message, errors


def test_a_tiff_of_as_many_strips_as_the_bound_passes() -> None:
    validate_submission(sd15_with_input_image(tiff_of_strips(MAX_TIFF_VALUES)))


def test_real_images_pass_the_largest_png_in_8_kib_chunks_too() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "{}" * 100_000)  # ComfyUI's own outputs carry their graph as text
    info.add_text("workflow", "[]" * 200_000)
    images = [
        saved(Image.new("RGB", (512, 512), (1, 2, 3)), "PNG", pnginfo=info),
        saved(Image.new("RGB", (512, 512)), "JPEG", progressive=True),
        saved(Image.new("RGB", (64, 64)), "WEBP"),
        saved(Image.new("RGB", (64, 64)), "TIFF"),
        saved(Image.new("P", (64, 64)), "GIF", save_all=True, append_images=frames("P")),
        saved(Image.new("RGB", (64, 64)), "PNG", save_all=True, append_images=frames("RGB")),
        largest_png_libpng_writes(),
    ]
    for image in images:
        validate_submission(sd15_with_input_image(image))


def test_a_graphs_inline_images_share_the_bound() -> None:
    each = png_of_text_chunks(MAX_IMAGE_READS // 40)  # four reads a chunk: ~10 % of the bound each
    graph = dict(SD15_TXT2IMG)
    for number in range(100, 120):
        graph[str(number)] = {"class_type": "LoadImage", "inputs": {"image": inline(each)}}
    validate_submission({"type": "ComfyUI", "params": {"prompt": dict(list(graph.items())[:-12])}})

    errors = refusal({"type": "ComfyUI", "params": {"prompt": graph}})

    refused = [field for field in errors if field.endswith(".inputs.image")]
    assert refused and all("too many parts" in errors[field][0] for field in refused), errors


def test_seven_of_the_costliest_images_within_the_bounds_pass() -> None:
    """The most a predefined workflow carries (input image, mask, five ControlNets), each just
    within the bounds: as many parts as the reads allow and every chunk Pillow inflates."""
    inflated = zlib.compress(b"\0" * (PngImagePlugin.MAX_TEXT_CHUNK - 1), 9)
    inflating = png_chunk(b"zTXt", b"k\0\0" + inflated) * MAX_PNG_COMPRESSED_CHUNKS
    texts = png_chunk(b"tEXt", b"a\0b") * (MAX_IMAGE_READS // 4 - 200)  # four reads each
    costliest = inline(png_with(inflating + texts))
    params = sd15_params(
        input_image=costliest,
        input_mask=costliest,
        controlnets=[controlnet(image=costliest) for _ in range(5)],
    )

    validate_submission(body("SD15", params))  # passes: each is within every bound
