#include "server/metrics.h"

#include <fmt/format.h>

#include <map>

namespace fastgpu::server {
namespace {

// Label values are quoted with \\, \" and \n escaped, as the format requires.
std::string label(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string renderMetrics(Server& server) {
  scheduler::VgpuRegistry& registry = server.registry();
  auto vgpus = registry.vgpus();
  std::map<std::string, int> sessionsByVgpu;
  for (const auto& session : server.sessions()) {
    if (session.admitted) ++sessionsByVgpu[session.vgpu];
  }
  std::string out;
  auto perVgpu = [&](const char* name, const char* type, const char* help, auto value) {
    family(out, name, type, help);
    for (const auto& vgpu : vgpus) {
      out += fmt::format("{}{{vgpu=\"{}\",gpu=\"{}\"}} {}\n", name, label(vgpu->spec().name),
                         registry.gpus()[static_cast<std::size_t>(vgpu->physicalGpu())].ordinal, value(*vgpu));
    }
  };
  perVgpu("fastgpu_vgpu_memory_used_bytes", "gauge", "Device memory the vGPU's sessions hold.",
          [](scheduler::Vgpu& v) { return v.quota().used(); });
  perVgpu("fastgpu_vgpu_memory_limit_bytes", "gauge", "The vGPU's memory quota.",
          [](scheduler::Vgpu& v) { return v.quota().limit(); });
  perVgpu("fastgpu_vgpu_gpu_seconds_total", "counter", "GPU time charged to the vGPU.",
          [](scheduler::Vgpu& v) { return fmt::format("{:.6f}", v.gpuSeconds()); });
  perVgpu("fastgpu_vgpu_launches_total", "counter", "Kernel launches run.",
          [](scheduler::Vgpu& v) { return v.usage().launches.load(); });
  perVgpu("fastgpu_vgpu_bytes_to_device_total", "counter", "Bytes copied from clients to the device.",
          [](scheduler::Vgpu& v) { return v.usage().bytesToDevice.load(); });
  perVgpu("fastgpu_vgpu_bytes_from_device_total", "counter", "Bytes copied from the device to clients.",
          [](scheduler::Vgpu& v) { return v.usage().bytesFromDevice.load(); });
  perVgpu("fastgpu_vgpu_sessions", "gauge", "Sessions being served.",
          [&](scheduler::Vgpu& v) { return sessionsByVgpu[v.spec().name]; });
  perVgpu("fastgpu_vgpu_allocations_refused_total", "counter", "Allocations refused for being over quota.",
          [](scheduler::Vgpu& v) { return v.quota().refusals(); });

  family(out, "fastgpu_call_latency_seconds", "histogram", "Server time of answered calls.");
  for (const auto& vgpu : vgpus) {
    const auto& usage = vgpu->usage();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= std::size(scheduler::VgpuUsage::kLatencyBoundsSeconds); ++i) {
      cumulative += usage.latencyBuckets[i].load();
      std::string bound = i < std::size(scheduler::VgpuUsage::kLatencyBoundsSeconds)
                              ? fmt::format("{}", scheduler::VgpuUsage::kLatencyBoundsSeconds[i])
                              : "+Inf";
      out += fmt::format("fastgpu_call_latency_seconds_bucket{{vgpu=\"{}\",le=\"{}\"}} {}\n", label(vgpu->spec().name),
                         bound, cumulative);
    }
    out += fmt::format("fastgpu_call_latency_seconds_sum{{vgpu=\"{}\"}} {:.9f}\n", label(vgpu->spec().name),
                       static_cast<double>(usage.latencyNanos.load()) * 1e-9);
    out += fmt::format("fastgpu_call_latency_seconds_count{{vgpu=\"{}\"}} {}\n", label(vgpu->spec().name),
                       usage.latencyCount.load());
  }

  family(out, "fastgpu_sessions_refused_total", "counter", "Sessions refused, by reason.");
  for (const auto& [reason, count] : registry.refusals()) {
    out += fmt::format("fastgpu_sessions_refused_total{{reason=\"{}\"}} {}\n", reason, count);
  }

  auto perGpu = [&](const char* name, const char* help, auto value) {
    family(out, name, "gauge", help);
    for (std::size_t i = 0; i < registry.gpus().size(); ++i) {
      const auto& gpu = registry.gpus()[i];
      out += fmt::format("{}{{gpu=\"{}\",uuid=\"{}\"}} {}\n", name, gpu.ordinal, label(gpu.uuid), value(i));
    }
  };
  perGpu("fastgpu_gpu_memory_bytes", "Memory of each physical GPU.",
         [&](std::size_t i) { return registry.gpus()[i].memoryBytes; });
  perGpu("fastgpu_gpu_vgpus", "vGPUs placed on each physical GPU.", [&](std::size_t i) {
    int placed = 0;
    for (const auto& vgpu : vgpus) placed += vgpu->physicalGpu() == static_cast<int>(i) ? 1 : 0;
    return placed;
  });
  perGpu("fastgpu_gpu_seconds_total", "GPU time charged to the vGPUs of each physical GPU.", [&](std::size_t i) {
    double total = 0;
    for (const auto& vgpu : vgpus) total += vgpu->physicalGpu() == static_cast<int>(i) ? vgpu->gpuSeconds() : 0;
    return fmt::format("{:.6f}", total);
  });
  return out;
}

}  // namespace fastgpu::server
