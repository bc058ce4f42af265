"""Loaded by pytest before Django reads its settings (see pytest.ini): the test run gets its own
data, cache and ComfyUI directories, never the operator's."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile

_base = tempfile.mkdtemp(prefix="comfy-router-tests-")
os.environ["COMFY_ROUTER__ENV"] = "test"
os.environ["COMFY_ROUTER__DATA_DIR"] = os.path.join(_base, "data")
os.environ["COMFY_ROUTER__DOWNLOAD__CACHE_DIR"] = os.path.join(_base, "cache")
os.environ["COMFY_ROUTER__DOWNLOAD__ROOT_DIR"] = os.path.join(_base, "comfyui")
os.environ["COMFY_ROUTER__DOWNLOAD__RECORD_PATH"] = os.path.join(_base, "record.json")
for name in ("DATABASE_URL", "CHANNEL_LAYER_URL", "USERNAME", "PASSWORD"):
    os.environ.pop("COMFY_ROUTER__" + name, None)

atexit.register(shutil.rmtree, _base, ignore_errors=True)

logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)
