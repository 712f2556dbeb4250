// What this process's memory map (/proc/self/maps) says about a range of addresses.
#pragma once

#include <cstdint>

namespace fastgpu::interposer {

// Whether every page of [base, base + bytes) belongs to a private, anonymous mapping that is
// read-write and not executable (malloc'd or mmap'd anonymous memory; not the stack, a file or
// shared memory): memory whose pages may be replaced by others holding the same bytes without the
// program noticing.
bool privateAnonymousPages(std::uint64_t base, std::uint64_t bytes);

}  // namespace fastgpu::interposer
