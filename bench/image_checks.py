"""Benchmark: what checking hostile inline images costs a submission. Each kind of image made to
be slow to check (a PNG of a million text chunks, JPEG markers, GIF sub-blocks, inflating PNG
metadata, a TIFF of two million strips) and the costliest body that passes (seven images each
just within the bounds) are validated `--runs` times, against an SD15 body carrying one real
2048×2048 photo-like PNG (baseline, same run). Goal: each refusal and the costliest pass under a
second, a few times the baseline at most (they took seconds to minutes before the bounds).

    .venv/bin/python bench/image_checks.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from support import django_in_this_process, machine, median, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    django_in_this_process("bench-image-checks-")
    from PIL import Image, PngImagePlugin
    from rest_framework.exceptions import ValidationError

    # The hostile images are the tests' own, made the same way.
    from tests.test_an_image_that_is_slow_to_check_is_refused_at_once import (
        gif_of_comment_sub_blocks,
        inline,
        jpeg_of_comment_markers,
        png_chunk,
        png_of_inflating_chunks,
        png_of_text_chunks,
        png_with,
        tiff_of_strips,
    )
    from tests.workflow_params import body, controlnet, sd15_params
    from workflows.api.params import validate_submission
    from workflows.graphs.builders.images import MAX_IMAGE_READS, MAX_PNG_COMPRESSED_CHUNKS

    def with_image(image: bytes) -> dict[str, Any]:
        return body("SD15", sd15_params(input_image=inline(image)))

    def photo_like_png() -> bytes:
        noise = random.Random(1).randbytes(2048 * 2048 * 3)
        buffer = io.BytesIO()
        Image.frombytes("RGB", (2048, 2048), noise).save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()

    inflated = zlib.compress(b"\0" * (PngImagePlugin.MAX_TEXT_CHUNK - 1), 9)
    inflating = png_chunk(b"zTXt", b"k\0\0" + inflated) * MAX_PNG_COMPRESSED_CHUNKS
    texts = png_chunk(b"tEXt", b"a\0b") * (MAX_IMAGE_READS // 4 - 200)
    costliest = inline(png_with(inflating + texts))
    cases: list[tuple[str, dict[str, Any]]] = [
        ("baseline: one real 2048² PNG", with_image(photo_like_png())),
        ("PNG, a million text chunks", with_image(png_of_text_chunks(1_100_000))),
        ("JPEG, three million markers", with_image(jpeg_of_comment_markers(3_000_000))),
        ("GIF, eight million sub-blocks", with_image(gif_of_comment_sub_blocks(8_000_000))),
        ("PNG, 1000 inflating zTXt", with_image(png_of_inflating_chunks(b"zTXt", 1000))),
        ("TIFF, two million strips", with_image(tiff_of_strips(2_000_000))),
        (
            "costliest that passes: 7 images",
            body(
                "SD15",
                sd15_params(
                    input_image=costliest,
                    input_mask=costliest,
                    controlnets=[controlnet(image=costliest) for _ in range(5)],
                ),
            ),
        ),
    ]

    def timed(check: Callable[[], Any]) -> float:
        started = time.perf_counter()
        try:
            check()
        except ValidationError:
            pass
        return time.perf_counter() - started

    rows = []
    baseline = 0.0
    for name, submission in cases:
        seconds = median([timed(lambda: validate_submission(submission)) for _ in range(args.runs)])
        baseline = baseline or seconds
        rows.append((name, f"{seconds * 1000:.1f} ms", f"×{seconds / baseline:.2f}"))
    print(machine())
    print(table(("validated body", f"median of {args.runs}", "of the baseline"), rows))


if __name__ == "__main__":
    main()
