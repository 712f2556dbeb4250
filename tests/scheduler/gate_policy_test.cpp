// The compute gate's policy on fake time: shares, caps, priorities, idle credit and the queue
// bound, each measured as the clients would measure it (completed pieces × their length).
#include "scheduler/gate_policy.h"

#include <gtest/gtest.h>

#include "gate_simulation.h"

namespace fastgpu::scheduler {
namespace {

using testing::GateSimulation;
using testing::SimulatedClient;
using Config = GatePolicy::TenantConfig;
using namespace std::chrono_literals;

// One piece of `tenant` that goes at once at `at` and takes `length` on the GPU.
void runPiece(GatePolicy& policy, GatePolicy::TenantId tenant, GatePolicy::TimePoint at,
              GatePolicy::Clock::duration length) {
  policy.arrive(tenant, at);
  EXPECT_TRUE(policy.mayAdmit(tenant, at));
  auto ticket = policy.admit(tenant, at);
  policy.finish(ticket, GatePolicy::Completion{at + length, std::chrono::duration<double>(length).count()}, at + length);
}

// A policy with two tenants of equal weight, a and b, at fake time `now`.
class TwoEqualTenants : public ::testing::Test {
 protected:
  GatePolicy policy;
  GatePolicy::TimePoint now = GatePolicy::TimePoint{} + 1h;
  GatePolicy::TenantId a = *policy.addTenant(Config{1, {}, Priority::kNormal}, now);
  GatePolicy::TenantId b = *policy.addTenant(Config{1, {}, Priority::kNormal}, now);
};

SimulatedClient client([[maybe_unused]] const char* name, double weight, double pieceMicros, int batch) {
  SimulatedClient result;
  result.config = Config{weight, std::nullopt, Priority::kNormal};
  result.pieceMicros = pieceMicros;
  result.batch = batch;
  return result;
}

// Runs `simulation` until `from`, then to `to`; returns each of the first two clients' piece
// time completed in between.
std::pair<double, double> completedBetween(GateSimulation& simulation, double from, double to) {
  simulation.runUntil(from);
  double a0 = simulation.completedSeconds(0), b0 = simulation.completedSeconds(1);
  simulation.runUntil(to);
  return {simulation.completedSeconds(0) - a0, simulation.completedSeconds(1) - b0};
}

double firstsShare(std::pair<double, double> completed) { return completed.first / (completed.first + completed.second); }

// Runs two saturating clients for a warm-up second and a measured four; returns the first
// one's share of the piece time completed in the measured window. The GPU must be busy at
// least `busy` of the time.
double shareOfFirst(SimulatedClient first, SimulatedClient second, double busy = 0.9) {
  GateSimulation simulation({first, second});
  auto completed = completedBetween(simulation, 1, 5);
  EXPECT_GT(completed.first + completed.second, busy * 4) << "the GPU was not kept busy (work-conserving)";
  return firstsShare(completed);
}

TEST(GatePolicy, ThreeToOneWeightsHoldWithEqualPieces) {
  double share = shareOfFirst(client("heavy", 3, 1000, 10), client("light", 1, 1000, 10));
  EXPECT_NEAR(share, 0.75, 0.02);
}

TEST(GatePolicy, ThreeToOneWeightsHoldWhenTheHeavyTenantsPiecesAreShort) {
  // 200 us against 10 ms: before anticipation, the light tenant took the GPU in every round trip
  // of the heavy one (the heavy got 50% instead of 75%).
  double share = shareOfFirst(client("heavy", 3, 200, 10), client("light", 1, 10000, 1));
  EXPECT_NEAR(share, 0.75, 0.02);
}

TEST(GatePolicy, ThreeToOneWeightsHoldWhenTheHeavyTenantsPiecesAreLong) {
  double share = shareOfFirst(client("heavy", 3, 10000, 1), client("light", 1, 200, 10));
  EXPECT_NEAR(share, 0.75, 0.02);
}

TEST(GatePolicy, HostDelaysBeforeTheGpuAreNotCharged) {
  // Each piece spends 150 us on the host between admission and the GPU; charging that would
  // favour the tenant with long pieces.
  SimulatedClient heavy = client("heavy", 3, 200, 10), light = client("light", 1, 10000, 1);
  heavy.submitMicros = light.submitMicros = 150;
  // (The heavy client's host delays leave the GPU idle at times: 150 us per 200 us piece.)
  EXPECT_NEAR(shareOfFirst(heavy, light, 0.8), 0.75, 0.02);
}

TEST(GatePolicy, EqualWeightsShareEvenlyAcrossPieceLengths) {
  EXPECT_NEAR(shareOfFirst(client("a", 1, 100, 20), client("b", 1, 10000, 1)), 0.5, 0.02);
}

TEST(GatePolicy, ATenantThatComesBackSlowlyIsNotWaitedFor) {
  // The light tenant thinks for 20 ms between rounds: holding the GPU for it would waste it.
  SimulatedClient heavy = client("heavy", 1, 1000, 10), light = client("light", 3, 1000, 2);
  light.roundTripMicros = 20000;
  GateSimulation simulation({heavy, light});
  simulation.runUntil(3);
  double total = simulation.completedSeconds(0) + simulation.completedSeconds(1);
  EXPECT_GT(total, 0.97 * 3) << "the GPU idled for a tenant that was not coming back soon";
}

TEST(GatePolicy, ATenantThatMostlyThinksDoesNotHoldABusyOneToItsPace) {
  // a runs 100 us pieces and thinks 1 ms in between: always behind, always back soon. Waiting
  // for it would leave the GPU idle nine tenths of the time and give b no more than a uses.
  SimulatedClient thinker = client("thinker", 1, 100, 1), busy = client("busy", 1, 1000, 10);
  thinker.roundTripMicros = 1000;
  GateSimulation simulation({thinker, busy});
  auto completed = completedBetween(simulation, 1, 3);
  EXPECT_GT(completed.first + completed.second, 0.9 * 2) << "the GPU idled for a tenant that mostly thinks";
  // Each of its pieces waits at most for the queue (2 ms): 100 us in every 3.1 ms at least.
  EXPECT_GT(completed.first, 2 * 0.1 / 3.1) << "the thinker did not get what it asked for";
}

double capShare(double pieceMicros, int batch) {
  SimulatedClient capped = client("capped", 1, pieceMicros, batch);
  capped.config.capFraction = 0.25;
  GateSimulation simulation({capped});
  simulation.runUntil(1);
  double before = simulation.completedSeconds(0);
  simulation.runUntil(5);
  return (simulation.completedSeconds(0) - before) / 4;
}

TEST(GatePolicy, ACapHoldsForShortPieces) { EXPECT_NEAR(capShare(200, 10), 0.25, 0.01); }

TEST(GatePolicy, ACapHoldsForLongPieces) { EXPECT_NEAR(capShare(10000, 1), 0.25, 0.01); }

TEST(GatePolicy, ACappedTenantLeavesTheRestToOthers) {
  SimulatedClient capped = client("capped", 10, 200, 10), other = client("other", 1, 10000, 1);
  capped.config.capFraction = 0.25;
  double share = shareOfFirst(capped, other);
  EXPECT_NEAR(share, 0.25, 0.02);
}

TEST(GatePolicy, HighPriorityWaitsAtMostForThePieceOnTheGpu) {
  SimulatedClient low = client("batch", 1, 100000, 4), high = client("interactive", 1, 1000, 1);
  low.config.priority = Priority::kLow;
  high.config.priority = Priority::kHigh;
  high.startAtSeconds = 0.25;
  high.roundTripMicros = 30000;
  GateSimulation simulation({low, high});
  simulation.runUntil(3);
  // Rounds of 1 ms, at most 100 ms of waiting and 30 ms of thinking: at least 20 in 2.75 s.
  EXPECT_GE(simulation.completedSeconds(1), 0.020) << "the high-priority client made too little progress";
  // One low-priority piece (100 ms) may be on the GPU when a high-priority piece arrives.
  EXPECT_LE(simulation.longestWaitSeconds(1), 0.1 + 1e-3);
}

TEST(GatePolicy, ALowerClassGetsOnlyWhatAHigherClassLeaves) {
  SimulatedClient low = client("low", 100, 1000, 10), normal = client("normal", 1, 1000, 10);
  low.config.priority = Priority::kLow;
  EXPECT_LT(shareOfFirst(low, normal), 0.05);
}

// Two equal tenants where b is away for a while: b's share of [from, to) once it is back.
double sharesAfterAbsence(SimulatedClient b, double from, double to) {
  GateSimulation simulation({client("a", 1, 1000, 10), b});
  return 1 - firstsShare(completedBetween(simulation, from, to));
}

TEST(GatePolicy, IdleTimeEarnsNoCredit) {
  // b runs, pauses for a second while a runs alone, and comes back: from then on they share
  // evenly, instead of b taking the GPU until it has caught up.
  SimulatedClient b = client("b", 1, 1000, 10);
  b.pauseFromSeconds = 1;
  b.pauseToSeconds = 2;
  EXPECT_NEAR(sharesAfterAbsence(b, 2.1, 2.6), 0.5, 0.05);
}

TEST_F(TwoEqualTenants, ATenantBackFromAShortPauseKeepsItsCredit) {
  auto t0 = now;
  // Both active; a uses 10 ms, b 1 ms: b is owed 9 ms.
  runPiece(policy, a, t0, 10ms);
  runPiece(policy, b, t0 + 10ms, 1ms);
  // b pauses for 20 ms (less than kIdleForgetSeconds) while a waits with a piece.
  auto later = t0 + 31ms;
  policy.arrive(a, later);
  policy.arrive(b, later);
  EXPECT_TRUE(policy.mayAdmit(b, later)) << "b lost the credit of a short pause";
  EXPECT_FALSE(policy.mayAdmit(a, later));
}

TEST(GatePolicy, ANewTenantStartsLevelWithTheOthers) {
  // a has run alone for a long time; a vGPU created now must not get all of that as credit.
  SimulatedClient b = client("b", 1, 1000, 10);
  b.startAtSeconds = 30;
  EXPECT_NEAR(sharesAfterAbsence(b, 30.05, 30.55), 0.5, 0.05);
}

TEST_F(TwoEqualTenants, WorkCountsAsOnTheGpuFromItsAdmission) {
  // The race fixed in 89f74ef: a piece admitted but not yet submitted must still fill the queue.
  policy.arrive(a, now);
  ASSERT_TRUE(policy.mayAdmit(a, now));
  auto ticket = policy.admit(a, now);
  // b's first piece is of unknown length: it waits until a's piece is done.
  policy.arrive(b, now);
  EXPECT_FALSE(policy.mayAdmit(b, now));
  policy.finish(ticket, std::nullopt, now);  // cancelled: it never reached the GPU
  // b goes once a's short anticipation window has passed.
  EXPECT_TRUE(policy.mayAdmit(b, now + 10ms));
}

// A replay held at a host point waits for its client, not the GPU: while a's session holds one,
// a's piece on the GPU keeps b neither out of the queue nor behind a's turn, however long the
// client takes; once it goes on, a's piece counts again.
TEST_F(TwoEqualTenants, APieceHeldAtTheHostKeepsNoOtherTenantOffTheGpu) {
  policy.arrive(a, now);
  ASSERT_TRUE(policy.mayAdmit(a, now));
  auto ticket = policy.admit(a, now);
  policy.arrive(b, now);
  EXPECT_FALSE(policy.mayAdmit(b, now + 1s)) << "a's unknown piece fills the queue";
  policy.holdAtHost(a, true);
  EXPECT_TRUE(policy.mayAdmit(b, now + 1s)) << "a's piece is held at the host";
  policy.holdAtHost(a, false);
  EXPECT_FALSE(policy.mayAdmit(b, now + 1s)) << "a's piece runs again";
  policy.holdAtHost(a, true);
  policy.holdAtHost(a, true);  // two sessions of a hold
  policy.holdAtHost(a, false);
  EXPECT_TRUE(policy.mayAdmit(b, now + 1s)) << "one of a's sessions still holds";
  policy.holdAtHost(a, false);
  policy.holdAtHost(a, false);  // one release too many is harmless
  EXPECT_FALSE(policy.mayAdmit(b, now + 1s));
  policy.finish(ticket, std::nullopt, now + 1s);
}

TEST(GatePolicy, TheQueueHoldsAboutTheBudgetOfKnownWork) {
  GatePolicy policy;
  auto now = GatePolicy::TimePoint{} + 1h;
  auto a = *policy.addTenant(Config{1, {}, Priority::kNormal}, now);
  runPiece(policy, a, now, 500us);  // teaches the policy that a's pieces take 500 us
  now += 1ms;
  int admitted = 0;
  for (; admitted < 10; ++admitted) {
    policy.arrive(a, now);
    if (!policy.mayAdmit(a, now)) break;
    (void)policy.admit(a, now);
  }
  EXPECT_EQ(admitted, 4) << "2 ms of queue budget holds four 500 us pieces";
}

TEST(GatePolicy, AChargeIsTheGpuSpanNotTheHostDelayBeforeIt) {
  GatePolicy policy;
  auto now = GatePolicy::TimePoint{} + 1h;
  auto a = *policy.addTenant(Config{1, {}, Priority::kNormal}, now);
  policy.arrive(a, now);
  auto ticket = policy.admit(a, now);
  // Admitted at 0, on the GPU for 200 us, seen complete at 1 ms.
  EXPECT_DOUBLE_EQ(policy.finish(ticket, GatePolicy::Completion{now + 1ms, 0.0002}, now + 1ms), 0.0002);
  // Without GPU timing, the host's view from admission is all there is.
  policy.arrive(a, now + 2ms);
  ticket = policy.admit(a, now + 2ms);
  EXPECT_NEAR(policy.finish(ticket, GatePolicy::Completion{now + 3ms, std::nullopt}, now + 3ms), 0.001, 1e-9);
}

TEST_F(TwoEqualTenants, AChargeLeavesOutTimeBehindAnotherTenantsPiece) {
  // Teach both that their pieces are short, so both fit in the queue at once.
  for (auto tenant : {a, b}) runPiece(policy, tenant, now, 100us);
  now += 1ms;
  policy.arrive(a, now);
  auto ta = policy.admit(a, now);
  policy.arrive(b, now);
  ASSERT_TRUE(policy.mayAdmit(b, now));
  auto tb = policy.admit(b, now);
  // a runs 0-300 us; b's start event fires at once but it runs 300-400 us.
  policy.finish(ta, GatePolicy::Completion{now + 300us, 0.0003}, now + 300us);
  EXPECT_NEAR(policy.finish(tb, GatePolicy::Completion{now + 400us, 0.0004}, now + 400us), 0.0001, 1e-9);
}

TEST(GatePolicy, ALiveWeightChangeTakesEffect) {
  SimulatedClient a = client("a", 1, 1000, 10), b = client("b", 1, 1000, 10);
  GateSimulation simulation({a, b});
  simulation.runUntil(1);
  simulation.policy().updateTenant(0, Config{4, {}, Priority::kNormal}, GatePolicy::TimePoint{} + 1h + 1s);
  EXPECT_NEAR(firstsShare(completedBetween(simulation, 1.5, 3.5)), 0.8, 0.02);
}

TEST(GatePolicy, ALiveCapTakesEffect) {
  GatePolicy policy;
  auto now = GatePolicy::TimePoint{} + 1h;
  auto a = *policy.addTenant(Config{1, {}, Priority::kNormal}, now);
  policy.updateTenant(a, Config{1, 0.1, Priority::kNormal}, now);
  policy.arrive(a, now);
  // The new cap starts with an empty bucket: the tenant waits for it to fill.
  EXPECT_FALSE(policy.mayAdmit(a, now));
  auto recheck = policy.recheckAt(a, now);
  ASSERT_TRUE(recheck.has_value());
  EXPECT_TRUE(policy.mayAdmit(a, *recheck));
}

}  // namespace
}  // namespace fastgpu::scheduler
