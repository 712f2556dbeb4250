// Prometheus text exposition of the server's state: per vGPU and per GPU.
#pragma once

#include <string>

#include "server/server.h"

namespace fastgpu::server {

// Renders /metrics (text format 0.0.4). Thread-safe.
std::string renderMetrics(Server& server);

}  // namespace fastgpu::server
