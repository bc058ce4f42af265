"""`python manage.py import_nodes`: arguments, files of lines or JSON, stdin; all or nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from nodes.models import Node
from tests.fake_comfyui import FakeComfyUIThread
from tests.support.live_router import PROJECT_DIR

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("import_nodes", *args, stdout=out)
    return out.getvalue()


def urls() -> list[str]:
    return list(Node.objects.values_list("url", flat=True))


def test_it_imports_urls_given_as_arguments_and_checks_them_at_once() -> None:
    with FakeComfyUIThread() as fake:
        output = run(fake.url + "/", "http://127.0.0.1:9")
    assert set(urls()) == {"http://127.0.0.1:9", fake.url}
    assert f"added {fake.url} (idle)" in output
    assert "added http://127.0.0.1:9 (offline)" in output
    assert output.rstrip().endswith("2 added, 0 updated, 0 skipped")


def test_importing_again_skips_what_is_there_and_updates_what_changed(tmp_path: Path) -> None:
    run("http://gpu-1:8188", "http://gpu-2:8188", "--no-check")
    nodes_file = tmp_path / "nodes.json"
    nodes_file.write_text(
        json.dumps([{"url": "http://gpu-1:8188/"}, {"url": "http://gpu-2:8188", "name": "second"}])
    )
    output = run("--file", str(nodes_file), "--no-check")
    assert "skipped http://gpu-1:8188 (already registered)" in output
    assert "updated http://gpu-2:8188" in output
    assert output.rstrip().endswith("0 added, 1 updated, 1 skipped")
    assert Node.objects.get(url="http://gpu-2:8188").name == "second"


def test_a_file_of_lines_skips_blank_lines_comments_and_duplicates(tmp_path: Path) -> None:
    nodes_file = tmp_path / "nodes.txt"
    nodes_file.write_text("# the pool\nhttp://gpu-1:8188\n\n  HTTP://GPU-1:8188/ \nhttps://gpu-2\n")
    output = run("--file", str(nodes_file), "--no-check")
    assert urls() == ["http://gpu-1:8188", "https://gpu-2"]
    assert f"skipped http://gpu-1:8188 (duplicate of {nodes_file} line 2)" in output


def test_a_json_list_sets_names_and_tokens(tmp_path: Path) -> None:
    nodes_file = tmp_path / "nodes.json"
    nodes_file.write_text(
        json.dumps(
            [{"url": "http://gpu-1:8188", "name": "one", "token": "t0k"}, "http://gpu-2:8188"]
        )
    )
    run("--file", str(nodes_file), "--no-check")
    first = Node.objects.get(url="http://gpu-1:8188")
    assert (first.name, first.token, first.status) == ("one", "t0k", "offline")
    assert Node.objects.filter(url="http://gpu-2:8188").exists()


def test_a_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    run("-", "--no-check", stdin="http://gpu-1:8188\nhttp://gpu-2:8188\n", monkeypatch=monkeypatch)
    assert urls() == ["http://gpu-1:8188", "http://gpu-2:8188"]


def test_file_dash_reads_stdin_too(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = '[{"url": "http://gpu-3:8188"}]'
    run("--file", "-", "--no-check", stdin=stdin, monkeypatch=monkeypatch)
    assert urls() == ["http://gpu-3:8188"]


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("http://gpu-1:8188\nftp://gpu-2\nhttp://gpu-3:8188\n", "line 2: Scheme 'ftp'"),
        ('[{"url": "http://gpu-1:8188"}, {"url": "gpu-2"}]', "item 2: 'gpu-2' has no scheme"),
        ('[{"url": "http://gpu-1:8188", "tokn": "x"}]', "item 1: unknown key(s) tokn"),
        ('[{"url": "http://gpu-1:8188", "token": "t\u00f6k"}]', "item 1: A token takes printable ASCII"),
        ('[{"url": "http://gpu-1:8188"},', "not valid JSON"),
        ('{"url": "http://gpu-1:8188"}\n', "line 1"),
    ],
)
def test_a_bad_entry_fails_the_import_naming_it_and_nothing_is_imported(
    tmp_path: Path, content: str, named: str
) -> None:
    nodes_file = tmp_path / "nodes.txt"
    nodes_file.write_text(content)
    with pytest.raises(CommandError, match="Nothing imported") as failure:
        run("http://gpu-0:8188", "--file", str(nodes_file), "--no-check")
    assert named in str(failure.value)
    assert not Node.objects.exists()


def test_no_input_is_an_error() -> None:
    with pytest.raises(CommandError, match="No node URLs given"):
        run()


def test_the_command_exits_non_zero_naming_the_bad_line(tmp_path: Path) -> None:
    env = {**os.environ, "COMFY_ROUTER__DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "import_nodes", "-"],
        cwd=PROJECT_DIR,
        env=env,
        input="http://gpu-1:8188\nhttp://gpu 2:8188\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "stdin line 2:" in result.stderr and "Nothing imported" in result.stderr
