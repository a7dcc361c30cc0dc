"""newc cpio archives written in memory, gzipped for a Linux initrd.

Used by support/linux-guest/build (the guest image) and netlab (the per-run
archive with keys and addresses, appended to it). Writing the format directly
lets an archive carry a device node (/dev/console) and private files without
creating them on the host's disk.
"""

import gzip
import io


class Cpio:
    """One archive; entries are owned by root, with the given permissions."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        # magic, then ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * (-(110 + len(name_b)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, name, perm=0o755):
        self._entry(name, 0o040000 | perm)

    def file(self, name, data, perm=0o644):
        self._entry(name, 0o100000 | perm, data)

    def symlink(self, name, target):
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, 0o020000 | perm, rdev=(major, minor))

    def gzipped(self):
        """The finished archive, gzipped and padded to 4 bytes: the kernel looks for the next
        archive of a concatenated initrd at a 4-byte boundary and skips zero padding."""
        self._entry("TRAILER!!!", 0)
        data = gzip.compress(self.buf.getvalue(), compresslevel=6, mtime=0)
        return data + b"\0" * (-len(data) % 4)
