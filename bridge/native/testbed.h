/*
 * IOMMUFD4J_TESTBED=DIR: the sysfs and /dev tree of emulated PCI functions, written into DIR by
 * the Java generator (SysfsTestbed), shown to the program in place of the real one. A path under
 * /sys or /dev that DIR has is served from DIR; a path DIR lacks goes to the host when its
 * nearest directory in DIR is a merged one (listed in DIR/merged), else it does not exist. The
 * listing of a merged directory is the host's entries followed by DIR's. The /dev entries in DIR
 * are empty files the shim presents as the character devices listed in DIR/devnodes.
 * Depends on config only (raw system calls).
 */
#ifndef IOMMUFD4J_TESTBED_H
#define IOMMUFD4J_TESTBED_H

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* A character device of the testbed: /dev/vfio/vfio, /dev/vfio/N, /dev/vfio/devices/vfioN. */
struct i4j_devnode {
  const char *path;
  unsigned major, minor;
  mode_t mode; /* permission bits */
};

/* Lexically normalises an absolute path in place: no "//", ".", "..". */
HIDDEN void i4j_normalize(char *path);

/* Reads DIR/devnodes and DIR/merged; without IOMMUFD4J_TESTBED the shim serves no testbed. */
HIDDEN void i4j_testbed_load(void);
HIDDEN int i4j_testbed_active(void);

/*
 * The file a call on (dirfd, path) reaches: DIR's copy, written into buf, or path itself. When the
 * copy is one of the device nodes, *devnode says which (else NULL; devnode may be NULL).
 */
HIDDEN const char *i4j_testbed_path(int dirfd, const char *path, char *buf, size_t size,
                                    const struct i4j_devnode **devnode);

/* Whether an open with these flags of DIR's file `mapped` should replace the file's content: a
   write to an attribute replaces its value (config and resourceN keep theirs). */
HIDDEN int i4j_testbed_truncates(const char *mapped, int flags);

/* Whether an open with these flags of DIR's file `mapped` would create it: sysfs creates no files
   (EACCES). */
HIDDEN int i4j_testbed_creates(const char *mapped, int flags);

/* A path the kernel gave back (readlink, realpath, /proc/self/fd/N) as the program must see it:
   DIR's prefix taken off, in place. Returns the new length. */
HIDDEN size_t i4j_testbed_unmap(char *path, size_t len);

/* After opendir of a testbed directory gave d: merges the host's entries into its listing, and
   shows device nodes as such, when that applies. */
HIDDEN void i4j_testbed_dir_opened(DIR *d);
/* readdir of a directory stream: *handled is 0 when d is not one of the testbed's, and the caller
   reads it as usual. */
HIDDEN struct dirent64 *i4j_testbed_readdir(DIR *d, struct dirent64 *(*next)(DIR *), int *handled);
HIDDEN void i4j_testbed_dir_rewound(DIR *d);
HIDDEN void i4j_testbed_dir_closed(DIR *d);

#endif
