/* What the benchmark drivers share: a clock read in microseconds and an order for qsort. */
#ifndef IOMMUFD4J_BENCH_CLOCK_H
#define IOMMUFD4J_BENCH_CLOCK_H

#include <time.h>

static inline double clock_us(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Ascending doubles, for qsort of samples before taking the median and p99. */
static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#endif
