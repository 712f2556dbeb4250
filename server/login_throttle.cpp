#include "server/login_throttle.h"

#include <algorithm>

namespace fastgpu::server {

LoginThrottle::Bucket& LoginThrottle::bucket(const std::string& address, Clock::time_point now) {
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= maxAddresses_) {
      auto quietest = std::min_element(buckets_.begin(), buckets_.end(),
                                       [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
      buckets_.erase(quietest);
    }
    it = buckets_.emplace(address, Bucket{perMinute_, now}).first;
  }
  Bucket& found = it->second;
  double minutes = std::chrono::duration<double>(now - found.updated).count() / 60;
  found.tokens = std::min(perMinute_, found.tokens + std::max(0.0, minutes) * perMinute_);
  found.updated = now;
  return found;
}

bool LoginThrottle::allows(const std::string& address, Clock::time_point now) {
  if (perMinute_ <= 0) return true;
  std::lock_guard lock(mutex_);
  return bucket(address, now).tokens >= 1;
}

void LoginThrottle::failed(const std::string& address, Clock::time_point now) {
  if (perMinute_ <= 0) return;
  std::lock_guard lock(mutex_);
  Bucket& found = bucket(address, now);
  found.tokens = std::max(0.0, found.tokens - 1);
}

std::string LoginThrottle::addressOf(const std::string& peer) {
  // A Unix socket's peers are told apart by user: each of a user's processes has its own pid.
  if (peer.starts_with("unix://")) {
    auto uid = peer.rfind(" uid=");
    if (uid == std::string::npos) return "unix";
    return "unix" + peer.substr(uid, peer.find(' ', uid + 1) - uid);
  }
  auto scheme = peer.find("://");
  std::string rest = scheme == std::string::npos ? peer : peer.substr(scheme + 3);
  auto colon = rest.rfind(':');
  auto bracket = rest.find(']');  // an IPv6 address: "[::1]:7600"
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) return rest;
  return rest.substr(0, colon);
}

}  // namespace fastgpu::server
