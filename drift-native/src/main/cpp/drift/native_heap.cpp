#include "native_heap.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace drift {

int64_t heap_bytes_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks) + static_cast<int64_t>(info.hblkhd);
}

namespace {

int64_t resident_bytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  const int read = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return read == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

}  // namespace

int64_t heap_trim() {
  const int64_t before = resident_bytes();
  malloc_trim(0);
  const int64_t after = resident_bytes();
  return before > after ? before - after : 0;
}

}  // namespace drift
