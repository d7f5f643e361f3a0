"""Budgets of the catalogers, per image (one pass) as well as per file.

An image is hostile input: ten copies of a zip bomb in a 141 KB layer must not cost ten times
a bomb. The per-file caps bound one archive or binary; these per-image budgets bound them all
together. Past a budget the remaining archives (or binaries) are skipped, each reported as a
`Skip` ("... not analyzed: the per-image budget of ... is spent"), never silently.

Defaults are listed in docs/catalog.md and by `seawall sbom --help` (`CatalogLimits.describe`).
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class CatalogLimits:
    # decompressed bytes read from archive members (nested jars, manifests, poms), all archives
    # of one image together
    archive_bytes_per_image: int = 2 * GiB
    # the same for one top-level archive and everything nested in it
    archive_bytes_per_file: int = 512 * MiB
    # nested archives opened (a jar in a war in an ear ...), all archives of one image together
    nested_archives_per_image: int = 10_000
    # bytes of unowned executables searched for version strings (binary classifiers), per image
    binary_bytes_per_image: int = 4 * GiB

    def describe(self) -> str:
        return (f"archives: {self.archive_bytes_per_image // MiB} MiB decompressed per image, "
                f"{self.archive_bytes_per_file // MiB} MiB per archive, "
                f"{self.nested_archives_per_image} nested archives per image; "
                f"binaries: {self.binary_bytes_per_image // MiB} MiB searched per image")


DEFAULT_LIMITS = CatalogLimits()


class Budget:
    """What is left of one per-image budget, shared by the files of one pass."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.left = total

    def take(self, n: int) -> bool:
        """Spend `n`; False (and nothing spent) when fewer than `n` are left."""
        if n > self.left:
            return False
        self.left -= n
        return True

    def spend(self, n: int) -> None:
        """Spend `n` that was already used (may go below zero: the budget is then spent)."""
        self.left -= n

    @property
    def spent(self) -> bool:
        return self.left <= 0
