// Failed logins, rate-limited per peer address (DESIGN.md, decision 14): a peer may fail to log
// in (an unknown vGPU or a wrong token) a few times in a burst, then only at a slow rate; beyond
// that its logins are refused without looking at the token, so guessing tokens is slow (before:
// 824 guesses a second). A token bucket per address, in a bounded table: when the table is full
// the address that was quietest longest is forgotten, so a peer with many addresses costs
// bounded memory (and gains at most fresh buckets).
//
// Threading: every method from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace fastgpu::server {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // `perMinute` failures a minute, in bursts of as many; 0 turns the throttle off.
  explicit LoginThrottle(double perMinute, std::size_t maxAddresses = 65536)
      : perMinute_(perMinute), maxAddresses_(maxAddresses) {}

  // Whether a login from `address` may be checked now.
  bool allows(const std::string& address, Clock::time_point now = Clock::now());
  // A login from `address` failed.
  void failed(const std::string& address, Clock::time_point now = Clock::now());

  // The address part of a peer URL ("tcp://10.0.0.2:51234" -> "10.0.0.2"); a Unix socket's
  // peer is its user ("unix:///run/f.sock uid=1000 pid=42" -> "unix uid=1000").
  static std::string addressOf(const std::string& peer);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  Bucket& bucket(const std::string& address, Clock::time_point now);

  const double perMinute_;
  const std::size_t maxAddresses_;
  std::mutex mutex_;  // guards buckets_
  std::map<std::string, Bucket> buckets_;
};

}  // namespace fastgpu::server
