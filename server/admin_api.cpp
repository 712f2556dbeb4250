#include "server/admin_api.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "protocol/transport/tls_context.h"
#include "server/logging.h"
#include "server/metrics.h"

namespace fastgpu::server {
namespace {

const char* priorityName(scheduler::Priority priority) {
  switch (priority) {
    case scheduler::Priority::kHigh: return "high";
    case scheduler::Priority::kNormal: return "normal";
    case scheduler::Priority::kLow: return "low";
  }
  return "normal";
}

void json(httplib::Response& response, const nlohmann::json& body, int status = 200) {
  response.status = status;
  // Client-sent text (a session's host) may be invalid UTF-8: replaced, not thrown over.
  response.set_content(body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

nlohmann::json vgpuJson(scheduler::VgpuRegistry& registry, scheduler::Vgpu& vgpu) {
  scheduler::VgpuSpec spec = vgpu.spec();
  return {{"name", spec.name},
          {"gpu", registry.gpus()[static_cast<std::size_t>(vgpu.physicalGpu())].ordinal},
          {"memory_limit_bytes", vgpu.quota().limit()},
          {"memory_used_bytes", vgpu.quota().used()},
          {"compute_share", spec.computeShare},
          {"compute_cap", spec.computeCapPercent ? nlohmann::json(*spec.computeCapPercent) : nullptr},
          {"max_kernel_ms", spec.maxKernelMs > 0 ? nlohmann::json(spec.maxKernelMs) : nullptr},
          {"priority", priorityName(spec.priority)},
          {"max_sessions", spec.maxSessions},
          {"sessions", vgpu.sessions().load()},
          {"gpu_seconds", vgpu.gpuSeconds()},
          {"launches", vgpu.usage().launches.load()},
          {"bytes_to_device", vgpu.usage().bytesToDevice.load()},
          {"bytes_from_device", vgpu.usage().bytesFromDevice.load()}};
}

void error(httplib::Response& response, const Status& status, int code = 400) {
  json(response, {{"error", status.message()}}, code);
}

// A session id from a URL: decimal digits that fit in 64 bits.
std::optional<std::uint64_t> parseId(const std::string& text) {
  std::uint64_t id = 0;
  auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (failure != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return id;
}

// Listeners take SO_REUSEADDR only: with httplib's default SO_REUSEPORT a second server could
// bind the same admin port and take half of its requests.
void exclusiveSocketOptions(socket_t socket) {
  int yes = 1;
  setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// An HTTPS server with our TLS settings and errors, or plain HTTP without them.
std::unique_ptr<httplib::Server> makeHttpServer(const std::optional<protocol::TlsServerSettings>& tls, Status& setup) {
  if (!tls) return std::make_unique<httplib::Server>();
  return std::make_unique<httplib::SSLServer>([&](SSL_CTX& context) {
    setup = protocol::configureServerContext(&context, *tls);
    return setup.isOk();
  });
}

}  // namespace

AdminApi::AdminApi(Server& server, scheduler::TokenHash token, const StateStore* state,
                   std::optional<protocol::TlsServerSettings> tls)
    : server_(server), token_(token), state_(state), http_(makeHttpServer(tls, tlsSetup_)), https_(tls.has_value()) {
  routes();
}

AdminApi::~AdminApi() { stop(); }

void AdminApi::routes() {
  http_->set_socket_options(exclusiveSocketOptions);
  // An exception in a handler is our bug: log it, answer with a JSON 500 and nothing of its text.
  http_->set_exception_handler([](const httplib::Request& request, httplib::Response& response, std::exception_ptr thrown) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    serverLogger()->error("admin request {} failed: {}", escapeForLog(request.method + " " + request.path), escapeForLog(what));
    json(response, {{"error", "internal error (see the server's log)"}}, 500);
  });
  // The token check runs before every route.
  http_->set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    std::string header = request.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    bool ok = header.starts_with(kBearer) &&
              scheduler::sameHash(scheduler::hashToken(std::string_view(header).substr(kBearer.size())), token_);
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    serverLogger()->warn("admin request {} {} from {} refused: missing or wrong admin token", escapeForLog(request.method, 16),
                         escapeForLog(request.path), request.remote_addr);
    json(response, {{"error", "missing or wrong admin token (send Authorization: Bearer TOKEN)"}}, 401);
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(renderMetrics(server_), "text/plain; version=0.0.4");
  });
  http_->Get("/v1/vgpus", [this](const httplib::Request&, httplib::Response& response) {
    scheduler::VgpuRegistry& registry = server_.registry();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& vgpu : registry.vgpus()) list.push_back(vgpuJson(registry, *vgpu));
    json(response, list);
  });
  http_->Post("/v1/vgpus", [this](const httplib::Request& request, httplib::Response& response) {
    scheduler::VgpuRegistry& registry = server_.registry();
    auto spec = scheduler::parseVgpuSpec(request.body, "request");
    if (!spec) return error(response, spec.status());
    auto added = registry.add(std::move(*spec));
    if (!added) return error(response, added.status(), 409);
    serverLogger()->info("vgpu={} created by the administrator", (*added)->name());
    if (Status saved = persist(); !saved) return error(response, saved, 500);
    json(response, vgpuJson(registry, **added), 201);
  });
  http_->Patch(R"(/v1/vgpus/([^/]+))", [this](const httplib::Request& request, httplib::Response& response) {
    scheduler::VgpuRegistry& registry = server_.registry();
    auto vgpu = registry.find(request.matches[1].str());
    if (!vgpu) return error(response, Status(CUDA_ERROR_INVALID_VALUE, "no such vGPU"), 404);
    auto patched = scheduler::patchVgpuSpec(vgpu->spec(), request.body, "request");
    if (!patched) return error(response, patched.status());
    if (Status updated = registry.update(*patched); !updated) return error(response, updated);
    serverLogger()->info("vgpu={} updated by the administrator", vgpu->name());
    if (Status saved = persist(); !saved) return error(response, saved, 500);
    json(response, vgpuJson(registry, *vgpu));
  });
  http_->Delete(R"(/v1/vgpus/([^/]+))", [this](const httplib::Request& request, httplib::Response& response) {
    std::string name = request.matches[1].str();
    if (Status removed = server_.registry().remove(name); !removed) return error(response, removed, 404);
    for (const auto& session : server_.sessions()) {
      if (session.admitted && session.vgpu == name) server_.evict(session.id);
    }
    server_.dropModuleCache(name);
    serverLogger()->info("vgpu={} deleted by the administrator; its sessions end", name);
    if (Status saved = persist(); !saved) return error(response, saved, 500);
    json(response, {{"deleted", name}});
  });
  http_->Get("/v1/sessions", [this](const httplib::Request&, httplib::Response& response) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& session : server_.sessions()) {
      list.push_back({{"id", session.id},
                      {"vgpu", session.vgpu},
                      {"peer", session.peer},
                      {"host", session.host},
                      {"pid", session.pid},
                      {"started", session.startedUnix},
                      {"admitted", session.admitted}});
    }
    json(response, list);
  });
  http_->Get("/v1/usage", [this](const httplib::Request& request, httplib::Response& response) {
    scheduler::UsageLedger* ledger = server_.ledger();
    if (ledger == nullptr) {
      return error(response, Status(CUDA_ERROR_NOT_SUPPORTED, "no usage ledger: set state_dir in the configuration"), 404);
    }
    double since = request.has_param("since") ? std::atof(request.get_param_value("since").c_str()) : 0;
    std::optional<std::string> vgpu;
    if (request.has_param("vgpu")) vgpu = request.get_param_value("vgpu");
    auto sessions = ledger->sessions(since, vgpu);
    if (!sessions) return error(response, sessions.status(), 500);
    std::map<std::string, nlohmann::json> totals;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : *sessions) {
      nlohmann::json& total = totals[s.vgpu];
      if (total.is_null()) {
        total = {{"vgpu", s.vgpu}, {"sessions", 0}, {"gpu_seconds", 0.0}, {"memory_gib_seconds", 0.0},
                 {"bytes_to_device", 0}, {"bytes_from_device", 0}, {"launches", 0}};
      }
      total["sessions"] = total["sessions"].get<std::uint64_t>() + 1;
      total["gpu_seconds"] = total["gpu_seconds"].get<double>() + s.gpuSeconds;
      total["memory_gib_seconds"] = total["memory_gib_seconds"].get<double>() + s.memoryGibSeconds;
      total["bytes_to_device"] = total["bytes_to_device"].get<std::uint64_t>() + s.bytesToDevice;
      total["bytes_from_device"] = total["bytes_from_device"].get<std::uint64_t>() + s.bytesFromDevice;
      total["launches"] = total["launches"].get<std::uint64_t>() + s.launches;
      list.push_back({{"session", s.session}, {"vgpu", s.vgpu}, {"host", s.host}, {"pid", s.pid},
                      {"started", s.started}, {"ended", s.ended}, {"gpu_seconds", s.gpuSeconds},
                      {"memory_gib_seconds", s.memoryGibSeconds}, {"bytes_to_device", s.bytesToDevice},
                      {"bytes_from_device", s.bytesFromDevice}, {"launches", s.launches}});
    }
    nlohmann::json byVgpu = nlohmann::json::array();
    for (auto& [name, total] : totals) byVgpu.push_back(total);
    json(response, {{"vgpus", byVgpu}, {"sessions", list}});
  });
  http_->Delete(R"(/v1/sessions/([^/]+))", [this](const httplib::Request& request, httplib::Response& response) {
    auto parsed = parseId(request.matches[1].str());
    if (!parsed) {
      json(response, {{"error", "a session id is a decimal number below 2^64"}}, 400);
      return;
    }
    std::uint64_t id = *parsed;
    if (!server_.evict(id)) {
      json(response, {{"error", fmt::format("no session {}", id)}}, 404);
      return;
    }
    json(response, {{"evicted", id}});
  });
}

Status AdminApi::persist() {
  return state_ != nullptr ? state_->save(server_.registry().specs()) : Status::ok();
}

Status AdminApi::start(const std::string& url) {
  std::string_view rest(url);
  std::string_view scheme = rest.substr(0, rest.find("://") == std::string_view::npos ? 0 : rest.find("://") + 3);
  bool plain = scheme == "tcp://" || scheme == "http://";
  if ((!plain && scheme != "https://") || rest.rfind(':') < scheme.size() || rest.rfind(':') == std::string_view::npos) {
    return Status(CUDA_ERROR_INVALID_VALUE,
                  fmt::format("admin_listen '{}' is not http://HOST:PORT, https://HOST:PORT or tcp://HOST:PORT", url));
  }
  if (plain == https_) {
    return Status(CUDA_ERROR_INVALID_VALUE, https_ ? fmt::format("admin_listen '{}': the admin API was set up for HTTPS", url)
                                                   : fmt::format("admin_listen '{}' needs tls_cert and tls_key", url));
  }
  if (!tlsSetup_) return Status(CUDA_ERROR_INVALID_VALUE, "the admin API's HTTPS: " + tlsSetup_.message());
  rest.remove_prefix(scheme.size());
  std::string host(rest.substr(0, rest.rfind(':')));
  int port = std::atoi(std::string(rest.substr(rest.rfind(':') + 1)).c_str());
  if (port == 0) {
    port = http_->bind_to_any_port(host);
  } else if (!http_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("cannot listen on {} for the admin API", url));
  url_ = fmt::format("{}://{}:{}", https_ ? "https" : "http", host, port);
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  // httplib's stop() does nothing until its loop runs: a stop() right after start() would leave
  // the loop running and the join hanging. Return once it runs.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!http_->is_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  if (!http_->is_running()) return Status(CUDA_ERROR_UNKNOWN, fmt::format("the admin API on {} did not start", url_));
  return Status::ok();
}

void AdminApi::stop() {
  if (thread_.joinable()) {
    http_->stop();
    thread_.join();
  }
}

}  // namespace fastgpu::server
