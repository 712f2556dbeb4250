// The unix transport's control path: unix:///ABSOLUTE/PATH, a Unix stream socket in the file
// system, for clients on the server's own host. Filesystem permissions are the first gate: the
// socket is made with mode 0660 (the server's user and group may connect; chmod or chgrp it, or
// its directory, to admit others), and each accepted connection names its peer's uid and pid
// (SO_PEERCRED) in peer(), so the session's log lines say who connected. The data path is
// StreamConnection's, as tcp's. Internal to protocol/transport.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

inline constexpr std::string_view kUnixScheme = "unix://";

// The path of unix:///PATH; errors name `url` (a relative or over-long path, a NUL in it).
Result<std::string> parseUnixUrl(std::string_view url);

Result<std::unique_ptr<Connection>> connectUnix(std::string_view url, std::optional<std::chrono::milliseconds> timeout);
// Listens at the URL's path. A socket file left there by a server that is gone is replaced; one
// a live server listens on, or any other file, is an error. The file is removed when the
// listener goes.
Result<std::unique_ptr<Listener>> listenUnix(std::string_view url);

}  // namespace fastgpu::protocol
