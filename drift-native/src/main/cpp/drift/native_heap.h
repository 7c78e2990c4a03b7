// The C heap's live bytes: what a leak check counts.
//
// LibTorch's CPU allocator takes tensor storage from malloc (posix_memalign), so every live CPU tensor is in the C
// heap's in-use count, and a freed one leaves it at once, whatever pages the allocator keeps for reuse. The resident
// set cannot tell the two apart: glibc keeps freed chunks, and the JVM's own memory is in it.
#pragma once

#include <cstdint>

namespace drift {

// glibc's mallinfo2: bytes in chunks handed out and not yet freed, in the arenas (uordblks) and in chunks mapped
// on their own (hblkhd, where large tensors live).
int64_t heap_bytes_in_use();

// Hands the pages of freed chunks back to the system (malloc_trim), for the points where a process has just freed a
// model and the next one may need the memory elsewhere.
void heap_trim();

}  // namespace drift
