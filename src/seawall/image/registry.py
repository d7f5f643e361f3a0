"""Registry source (OCI Distribution v2) — being written; see docs/image.md."""

from __future__ import annotations

from seawall.core.errors import InputError
from seawall.image.base import ImageSource
from seawall.image.options import SourceOptions
from seawall.image.refs import ImageRef


def RegistrySource(ref: ImageRef, options: SourceOptions) -> ImageSource:
    raise InputError(f"{ref.display()}: registry sources are not available yet")
