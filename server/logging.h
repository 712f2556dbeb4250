// The server's logger: spdlog, key=value context in messages ("session=17 peer=...").
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace fastgpu::server {

// Created on first use, writing to stderr; thread-safe.
std::shared_ptr<spdlog::logger> serverLogger();

}  // namespace fastgpu::server
