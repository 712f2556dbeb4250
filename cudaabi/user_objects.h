// CUDA user objects (cuUserObjectCreate and friends), for both driver libraries: a destructor
// callback with a reference count whose references the program owns, and graphs and executable
// graphs own ("owners", named by the library's own ids for them). The library tells this table
// what happens to its owners: a clone or an instantiation copies the source's references, an
// executable's update replaces its references by the new graph's, destroying one releases its
// references (an executable's once its launches are done: dropOwnerAfter). When an object's last
// reference goes, its destructor runs on a thread of its own, never in the releasing call: the
// driver documents destructors as run by an internal thread, which may take locks the releasing
// thread holds.
//
// Handles are checked: a handle this table did not give out, or whose object is gone, is
// CUDA_ERROR_INVALID_VALUE (the driver leaves that undefined). Thread-safe.
#pragma once

#include "cudaabi/cuda_api.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace fastgpu::cudaabi {

class UserObjects {
 public:
  UserObjects();

  CUresult create(CUuserObject* out, void* pointer, CUhostFn destroy, unsigned initialCount, unsigned flags);
  CUresult retain(CUuserObject object, unsigned count);
  CUresult release(CUuserObject object, unsigned count);

  // cuGraphRetainUserObject / cuGraphReleaseUserObject on owner `owner` (the caller checked that
  // it is a graph). `flags`: 0, or CU_GRAPH_USER_OBJECT_MOVE (the caller's references move).
  CUresult ownerRetain(std::uint64_t owner, CUuserObject object, unsigned count, unsigned flags);
  CUresult ownerRelease(std::uint64_t owner, CUuserObject object, unsigned count);

  // `to` holds copies of `from`'s references instead of its own (clone, instantiate, update).
  void copyOwner(std::uint64_t from, std::uint64_t to);
  // `owner`'s references are released now, or once `wait` has returned (on a thread of its own).
  void dropOwner(std::uint64_t owner);
  void dropOwnerAfter(std::uint64_t owner, std::function<void()> wait);
  bool holdsReferences(std::uint64_t owner) const;

 private:
  struct Object {
    void* pointer;
    CUhostFn destroy;
    std::uint64_t count;
  };
  struct State {
    mutable std::mutex mutex;
    std::uint64_t next = 1;
    std::map<std::uint64_t, Object> objects;
    std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> owners;  // owner -> object -> count
  };
  // Takes `count` references off `object` (held under the lock); runs its destructor at zero.
  static void releaseLocked(State& state, std::uint64_t object, std::uint64_t count);
  static void dropLocked(State& state, std::uint64_t owner);
  // The references of `object` that no owner holds: the program's.
  static std::uint64_t callerCountLocked(const State& state, std::uint64_t object);

  std::shared_ptr<State> state_;  // shared with dropOwnerAfter's threads
};

}  // namespace fastgpu::cudaabi
