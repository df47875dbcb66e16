"""A PEP 517 build backend in the standard library only, for this one pure-Python package.

pip builds in an isolated environment and would download setuptools and wheel for it; this
backend needs nothing, so `pip install ./clients/python` works offline. It writes a wheel
(PEP 427: the package files, METADATA, WHEEL, RECORD) and an sdist; nothing else is supported.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import zipfile
from typing import Dict, List, Optional, Tuple

NAME = "realtime_gateway"
DIST = "realtime-gateway"
VERSION = "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"


def _metadata() -> bytes:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as readme:
        description = readme.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {DIST}\n"
        f"Version: {VERSION}\n"
        "Summary: Python client for the realtime gateway: drop-in user_messaging_service"
        " and user_online_service\n"
        "License: MIT\n"
        "Requires-Python: >=3.9\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + description
    ).encode("utf-8")


def _package_files() -> List[Tuple[str, bytes]]:
    files: List[Tuple[str, bytes]] = []
    for folder, dirs, names in os.walk(os.path.join(ROOT, NAME)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".py", ".typed")):
                path = os.path.join(folder, name)
                with open(path, "rb") as source:
                    files.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), source.read()))
    if not any(path == f"{NAME}/__init__.py" for path, _ in files):
        raise FileNotFoundError(f"{NAME}/__init__.py not found under {ROOT}: nothing to build")
    return files


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, str]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, str]] = None) -> List[str]:
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, str]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    dist_info = f"{NAME}-{VERSION}.dist-info"
    filename = f"{NAME}-{VERSION}-{TAG}.whl"
    entries = _package_files()
    entries.append((f"{dist_info}/METADATA", _metadata()))
    wheel = f"Wheel-Version: 1.0\nGenerator: stdlib_backend\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    entries.append((f"{dist_info}/WHEEL", wheel.encode()))
    record = [_record_line(path, data) for path, data in entries]
    record.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries:
            zf.writestr(path, data)
    return filename


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, str]] = None) -> str:
    base = f"{NAME}-{VERSION}"
    filename = f"{base}.tar.gz"
    sources = ["pyproject.toml", "README.md", "_build/stdlib_backend.py"]
    files = [(p, open(os.path.join(ROOT, p), "rb").read()) for p in sources] + _package_files()
    files.append(("PKG-INFO", _metadata()))
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for path, data in files:
            info = tarfile.TarInfo(f"{base}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return filename
