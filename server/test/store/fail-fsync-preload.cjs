// Loaded with --require by durability.test.ts's child, so it runs in every thread of that process, the embedded
// database's thread included: once the file FAIL_FSYNC_MARKER names exists, every fsync fails with EIO.
const fs = require("node:fs");

const marker = process.env.FAIL_FSYNC_MARKER;
const real = fs.fsyncSync;
fs.fsyncSync = (fd) => {
  if (marker && fs.existsSync(marker))
    throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", syscall: "fsync" });
  return real(fd);
};
