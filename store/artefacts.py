"""A place that holds finished artefacts (briefings, the sent-ledger): a local directory or
an object-store prefix (``s3://bucket/prefix``), behind one small interface.

Writes are whole or absent on both: on disk a temporary file renamed over the target
(store/files.py), on an object store one PUT, which the store makes visible only when
complete (there is no rename, and no temporary is ever written, so none is left to sweep).
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import tempfile
from pathlib import Path

from store.files import atomic_write_bytes
from store.object_store import delete_whole, filesystem_from_uri, is_file, is_uri, read_whole


class ArtefactStore:
    """Files addressed by relative parts (``"2024-03-06", "liqbrief-2024-03-06.pdf"``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(root)
        self.local = None if is_uri(self.root) else Path(self.root)
        if self.local is None:
            self.fs, self._prefix = filesystem_from_uri(self.root)
            self._scheme = self.root.split("://", 1)[0]

    def _key(self, parts: tuple[str, ...]) -> str:
        return posixpath.join(self._prefix, *parts)

    def location(self, *parts: str) -> str:
        """Where the artefact is, as a person or a tool names it: a path, or an s3:// URI."""
        if self.local is not None:
            return str(self.local.joinpath(*parts))
        return f"{self._scheme}://{self._key(parts)}"

    def uri(self, *parts: str) -> str:
        """A link to the artefact (file:// for a local one)."""
        if self.local is not None:
            return self.local.joinpath(*parts).resolve().as_uri()
        return self.location(*parts)

    def exists(self, *parts: str) -> bool:
        if self.local is not None:
            return self.local.joinpath(*parts).is_file()
        return is_file(self.fs, self._key(parts))

    def read_bytes(self, *parts: str) -> bytes:
        """The artefact's bytes; FileNotFoundError if there is none."""
        if self.local is not None:
            return self.local.joinpath(*parts).read_bytes()
        return read_whole(self.fs, self._key(parts))

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Replace the artefact with ``data``, whole or not at all; its location."""
        if self.local is not None:
            atomic_write_bytes(self.local.joinpath(*parts), data)
        else:
            with self.fs.open_output_stream(self._key(parts)) as out:
                out.write(data)
        return self.location(*parts)

    def delete(self, *parts: str) -> None:
        """Remove the artefact (an absent one is fine)."""
        if self.local is not None:
            self.local.joinpath(*parts).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            delete_whole(self.fs, self._key(parts))

    def lock_path(self, *parts: str) -> Path:
        """A local file to lock for the artefact: beside it on disk; for an object (a lock
        cannot live on S3) in the machine's temporary directory, named by the object's URI,
        so it serialises the senders of one machine."""
        if self.local is not None:
            target = self.local.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            return target.with_name(f".{target.name}.lock")
        digest = hashlib.sha256(self.location(*parts).encode()).hexdigest()[:32]
        folder = Path(tempfile.gettempdir()) / "liqbrief-locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{digest}.lock"
