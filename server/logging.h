// The server's logger: spdlog, key=value context in messages ("session=17 peer=...").
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace fastgpu::server {

// Created on first use, writing to stderr; thread-safe.
std::shared_ptr<spdlog::logger> serverLogger();
// From now on the server's logger writes to descriptor `fd` (a session worker's original stderr,
// once its stderr is relayed to the client: device_output_relay.h). Call before other threads log.
void logToDescriptor(int fd);

// Text from a client or a network peer, made safe for one log line: bytes outside printable
// ASCII (control characters, ANSI escapes, newlines that would forge a line, invalid UTF-8) and
// backslashes become \xNN / \\, and anything past `maxBytes` of input is cut off with a note of
// how much was left out. Every client-supplied string goes through it before it is logged.
std::string escapeForLog(std::string_view text, std::size_t maxBytes = 256);

}  // namespace fastgpu::server
