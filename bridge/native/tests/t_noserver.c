/*
 * A program preloaded with a server that is not there: every open of /dev/iommu is ENXIO, and the
 * shim says once on stderr why (the socket and the variable that named it). Run by `make check`,
 * which counts that line.
 */
#include "t.h"

int main(void) {
  t_name = "t_noserver";
  if (!getenv("IOMMUFD4J_SOCKET")) FAIL("run this test with IOMMUFD4J_SOCKET naming no server");
  for (int i = 0; i < 3; i++) CHECK_ERRNO(open("/dev/iommu", O_RDWR), ENXIO);
  return 0;
}
