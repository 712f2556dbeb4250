// Host memory a program registers (cuMemHostRegister) on a same-host session, moved into the heap
// shared with the server (protocol/transport/shared_heap.h), so that the device reaches it as
// mapped memory (cudaHostRegisterMapped: cuMemHostGetDevicePointer answers) and copies of it are
// the server driver's own, with no byte on the connection — as for cuMemHostAlloc'd memory.
//
// The move keeps the program's addresses: the whole pages around the range are copied into a
// fresh heap range, whose mapping then replaces them in place (mremap, one step: the addresses
// are never unmapped). Only private anonymous read-write memory moves (malloc'd, mmap'd
// anonymous; not the stack, not files, which would lose their own semantics); anything else is
// registered as before (copied through the connection, not mapped). Unregistering moves the
// bytes back into private memory after the device's work on them is done, then frees the range.
//
// A forked child would share the moved pages with its parent (they are a shared mapping): a
// fork handler copies them into private memory in the child before fork() returns there, so the
// child sees them as they were, as with private memory. Limits: a thread of the program writing
// the pages while they move may lose that write; memory freed while still registered keeps its
// heap range until the session ends.
#pragma once

#include <cstdint>
#include <optional>

#include "interposer/runtime.h"

namespace fastgpu::interposer {

// Moves the pages holding [pointer, pointer + bytes) into the shared heap. Nullopt when there is
// no heap, the memory may not move, or the server gives no range (nothing changed then).
std::optional<MovedPages> movePagesIntoHeap(Runtime& rt, Client& client, void* pointer, std::uint64_t bytes);

// Moves them back into private memory, once the device's work is done, and frees the heap range.
CUresult movePagesBack(Runtime& rt, Client& client, const MovedPages& moved);

}  // namespace fastgpu::interposer
