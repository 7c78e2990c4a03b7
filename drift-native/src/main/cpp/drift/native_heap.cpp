#include "native_heap.h"

#include <malloc.h>

namespace drift {

int64_t heap_bytes_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks) + static_cast<int64_t>(info.hblkhd);
}

void heap_trim() { malloc_trim(0); }

}  // namespace drift
