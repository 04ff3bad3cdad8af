// shared-memory-ipc: POSIX shared-memory segments mapped as external ArrayBuffers, the atomic
// publish/wait of the message queues, and futex wake-ups on a worker thread so no JS event loop
// blocks. It only moves bytes and wakes processes: arguments are validated in TypeScript
// (src/ipc/addon.ts) and trusted here.
#include <napi.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "layout.h"

namespace {

using tessera::Descriptor;
using tessera::QueueHeader;

struct Mapping {
  void* address;
  size_t length;
};

// Mappings still alive in this environment, so unmap() can find a buffer's length after
// detaching it and the GC finalizer knows not to unmap twice.
class Waiter;
struct State {
  std::unordered_map<void*, Mapping*> mappings;
  std::unordered_set<Waiter*> waiters;  // stopped at env teardown, before any mapping goes away
};

std::string ErrnoText(const std::string& what, const std::string& name) {
  return what + " '" + name + "': " + std::strerror(errno);
}

void StopWaitersIn(State* state, const Mapping* mapping);

void FinalizeMapping(Napi::Env env, void* /*data*/, Mapping* mapping) {
  State* state = env.GetInstanceData<State>();
  if (mapping->address != nullptr) {
    // At environment teardown finalizers may run while a waiter thread still reads the queue.
    if (state != nullptr) StopWaitersIn(state, mapping);
    if (state != nullptr) state->mappings.erase(mapping->address);
    munmap(mapping->address, mapping->length);
  }
  delete mapping;
}

Napi::Value Wrap(Napi::Env env, void* address, size_t length) {
  auto* mapping = new Mapping{address, length};
  env.GetInstanceData<State>()->mappings[address] = mapping;
  return Napi::ArrayBuffer::New(env, address, length, FinalizeMapping, mapping);
}

Napi::Value MapFd(Napi::Env env, int fd, size_t length, const std::string& name) {
  void* address = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int saved = errno;
  close(fd);
  if (address == MAP_FAILED) {
    errno = saved;
    throw Napi::Error::New(env, ErrnoText("mmap", name));
  }
  return Wrap(env, address, length);
}

// create(name, size): a new segment (fails if the name exists), zero-filled, mapped.
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  size_t size = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) throw Napi::Error::New(env, ErrnoText("shm_open", name));
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int saved = errno;
    close(fd);
    shm_unlink(name.c_str());
    errno = saved;
    throw Napi::Error::New(env, ErrnoText("ftruncate", name));
  }
  try {
    return MapFd(env, fd, size, name);
  } catch (...) {
    shm_unlink(name.c_str());
    throw;
  }
}

// open(name): maps an existing segment at its full size.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  int fd = shm_open(name.c_str(), O_RDWR, 0600);
  if (fd < 0) throw Napi::Error::New(env, ErrnoText("shm_open", name));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    throw Napi::Error::New(env, ErrnoText("fstat", name));
  }
  return MapFd(env, fd, static_cast<size_t>(st.st_size), name);
}

// unlink(name): true if removed, false if it was already gone.
Napi::Value Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  if (shm_unlink(name.c_str()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  throw Napi::Error::New(env, ErrnoText("shm_unlink", name));
}

// unmap(buffer): detaches the ArrayBuffer (every view over it becomes empty, so no JS can touch
// freed memory) and unmaps it now rather than at some later GC.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  void* address = buffer.Data();
  State* state = env.GetInstanceData<State>();
  auto it = state->mappings.find(address);
  if (address == nullptr || it == state->mappings.end()) return Napi::Boolean::New(env, false);
  Mapping* mapping = it->second;
  state->mappings.erase(it);
  buffer.Detach();
  munmap(mapping->address, mapping->length);
  mapping->address = nullptr;  // the finalizer still runs later and must not unmap again
  return Napi::Boolean::New(env, true);
}

uint32_t* Word(const Napi::Value& buffer, const Napi::Value& offset) {
  auto* base = static_cast<uint8_t*>(buffer.As<Napi::ArrayBuffer>().Data());
  return reinterpret_cast<uint32_t*>(base + offset.As<Napi::Number>().Uint32Value());
}

long Futex(uint32_t* word, int op, uint32_t value, const struct timespec* timeout) {
  // Not FUTEX_PRIVATE: the word is shared between processes that map it at different addresses.
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

int WakeAll(uint32_t* word) { return static_cast<int>(Futex(word, FUTEX_WAKE, INT_MAX, nullptr)); }

// publish(buffer, queueOffset, newTail): makes slots up to newTail visible to the consumer and
// wakes it if it sleeps. Returns true if a wake-up was sent.
Napi::Value Publish(const Napi::CallbackInfo& info) {
  auto* queue = reinterpret_cast<QueueHeader*>(Word(info[0], info[1]));
  uint32_t tail = info[2].As<Napi::Number>().Uint32Value();
  __atomic_store_n(&queue->tail, tail, __ATOMIC_SEQ_CST);
  bool wake = __atomic_load_n(&queue->sleeping, __ATOMIC_SEQ_CST) != 0;
  if (wake) WakeAll(&queue->tail);
  return Napi::Boolean::New(info.Env(), wake);
}

// Blocks until the queue's tail differs from `seen`, the deadline passes or `stop` is set.
// Returns true when there is something to read. Sets `sleeping` first and re-checks, so a
// publish is never missed.
bool WaitForTail(QueueHeader* queue, uint32_t seen, int64_t timeoutMs, const std::atomic<bool>* stop) {
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeoutMs / 1000;
  deadline.tv_nsec += (timeoutMs % 1000) * 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000;
  }
  __atomic_store_n(&queue->sleeping, 1, __ATOMIC_SEQ_CST);
  bool ready = false;
  for (;;) {
    if (__atomic_load_n(&queue->tail, __ATOMIC_SEQ_CST) != seen) {
      ready = true;
      break;
    }
    if (stop != nullptr && stop->load()) break;
    struct timespec now, left;
    clock_gettime(CLOCK_MONOTONIC, &now);
    left.tv_sec = deadline.tv_sec - now.tv_sec;
    left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
    if (left.tv_nsec < 0) {
      left.tv_sec -= 1;
      left.tv_nsec += 1000000000;
    }
    if (left.tv_sec < 0) break;
    Futex(&queue->tail, FUTEX_WAIT, seen, &left);
  }
  __atomic_store_n(&queue->sleeping, 0, __ATOMIC_SEQ_CST);
  return ready;
}

// A Waiter owns one native thread that waits on one queue, so a process serving many stubs
// never ties up libuv's small thread pool. JS arms it with the tail it has seen; the thread
// waits (futex, with a deadline) and reports through a thread-safe function: callback(ready).
class Waiter : public Napi::ObjectWrap<Waiter> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Waiter",
                       {InstanceMethod("arm", &Waiter::Arm), InstanceMethod("close", &Waiter::Close)});
  }

  explicit Waiter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Waiter>(info) {
    Napi::Env env = info.Env();
    buffer_ = Napi::Persistent(info[0].As<Napi::ArrayBuffer>());
    queue_ = reinterpret_cast<QueueHeader*>(Word(info[0], info[1]));
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "tessera-waiter", 0, 1);
    tsfn_.Unref(env);  // a waiter alone never keeps a process alive
    thread_ = std::thread([this] { Run(); });
    env.GetInstanceData<State>()->waiters.insert(this);
  }

  ~Waiter() override {
    Stop();
    State* state = Env().GetInstanceData<State>();
    if (state != nullptr) state->waiters.erase(this);
  }

  // Ends the thread without touching JS: safe from an env cleanup hook.
  void StopThread() {
    stop_.store(true);
    armed_.store(1);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&armed_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    WakeAll(&queue_->tail);
    if (thread_.joinable()) thread_.join();
  }

 private:
  // arm(seenTail, timeoutMs): start one wait. One wait at a time; the callback ends it.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    seen_ = info[0].As<Napi::Number>().Uint32Value();
    timeoutMs_ = info[1].As<Napi::Number>().Int64Value();
    armed_.store(1);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&armed_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    StopThread();
    tsfn_.Release();
    buffer_.Reset();
  }

  void Run() {
    while (!stop_.load()) {
      while (armed_.load() == 0 && !stop_.load()) {
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(&armed_), FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
      }
      if (stop_.load()) break;
      bool ready = WaitForTail(queue_, seen_, timeoutMs_, &stop_);
      armed_.store(0);
      if (stop_.load()) break;
      tsfn_.NonBlockingCall([ready](Napi::Env env, Napi::Function callback) {
        callback.Call({Napi::Boolean::New(env, ready)});
      });
    }
  }

  Napi::Reference<Napi::ArrayBuffer> buffer_;  // keeps the mapping alive while the thread uses it

 public:
  QueueHeader* queue_ = nullptr;

 private:
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::atomic<uint32_t> armed_{0};  // private futex word: 1 while JS wants a wait
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  uint32_t seen_ = 0;
  int64_t timeoutMs_ = 0;
};

void StopWaitersIn(State* state, const Mapping* mapping) {
  auto* begin = static_cast<uint8_t*>(mapping->address);
  for (Waiter* waiter : state->waiters) {
    auto* at = reinterpret_cast<uint8_t*>(waiter->queue_);
    if (at >= begin && at < begin + mapping->length) waiter->StopThread();
  }
}

// waitBlocking(buffer, queueOffset, seenTail, timeoutMs): the same wait on the calling thread.
// Only for the benchmark's raw ping-pong floor; the server never blocks its event loop.
Napi::Value WaitBlocking(const Napi::CallbackInfo& info) {
  auto* queue = reinterpret_cast<QueueHeader*>(Word(info[0], info[1]));
  uint32_t seen = info[2].As<Napi::Number>().Uint32Value();
  int64_t timeoutMs = info[3].As<Napi::Number>().Int64Value();
  return Napi::Boolean::New(info.Env(), WaitForTail(queue, seen, timeoutMs, nullptr));
}

// setParentDeathSignal(signal): the kernel sends `signal` to this process when its parent dies.
// Returns false if the parent is already gone (re-parented to init) so the caller can exit.
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  pid_t parent = static_cast<pid_t>(info[1].As<Napi::Number>().Int32Value());
  prctl(PR_SET_PDEATHSIG, info[0].As<Napi::Number>().Int32Value());
  return Napi::Boolean::New(info.Env(), getppid() == parent);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  State* state = new State();
  env.SetInstanceData(state);
  // Cleanup hooks run before the environment's finalizers, so no waiter thread outlives a mapping.
  env.AddCleanupHook([state] {
    for (Waiter* waiter : state->waiters) waiter->StopThread();
  });
  exports.Set("create", Napi::Function::New(env, Create));
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("unlink", Napi::Function::New(env, Unlink));
  exports.Set("unmap", Napi::Function::New(env, Unmap));
  exports.Set("publish", Napi::Function::New(env, Publish));
  exports.Set("Waiter", Waiter::Define(env));
  exports.Set("waitBlocking", Napi::Function::New(env, WaitBlocking));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("queueHead", offsetof(QueueHeader, head));
  layout.Set("queueTail", offsetof(QueueHeader, tail));
  layout.Set("queueSleeping", offsetof(QueueHeader, sleeping));
  layout.Set("queueCapacity", offsetof(QueueHeader, capacity));
  layout.Set("queueHeaderSize", sizeof(QueueHeader));
  layout.Set("descriptorSize", sizeof(Descriptor));
  exports.Set("layout", layout);
  return exports;
}

}  // namespace

NODE_API_MODULE(shared_memory_ipc, Init)
