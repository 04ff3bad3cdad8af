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
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <thread>
#include <unordered_map>

#include "layout.h"
#include "queue-read.h"
#include "uv-poll.h"

namespace {

using tessera::Descriptor;
using tessera::QueueHeader;

struct Mapping {
  void* address;
  size_t length;
};

// Mappings still alive in this environment, so unmap() can find a buffer's length after
// detaching it and the GC finalizer knows not to unmap twice.
struct State {
  std::unordered_map<void*, Mapping*> mappings;
};

std::string ErrnoText(const std::string& what, const std::string& name) {
  return what + " '" + name + "': " + std::strerror(errno);
}

void FinalizeMapping(Napi::Env env, void* /*data*/, Mapping* mapping) {
  State* state = env.GetInstanceData<State>();
  if (mapping->address != nullptr) {
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

// ---- client shared memory (system shared-memory extension) ----
// Dumb on purpose: open a client's segment, report its size, map it. Which windows are valid
// and who may use them is decided in TypeScript (src/shm/); these calls bounds-check nothing
// beyond what the kernel does, and never keep a descriptor they were not asked to keep.

// openRegion(nameOrPath, viaShm, writable): an fd of the client's segment, from shm_open (a key)
// or open (main's /proc/<pid>/fd/<n>, so a stub maps the very object main registered). O_CLOEXEC.
Napi::Value OpenRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  bool viaShm = info[1].As<Napi::Boolean>();
  int flags = (info[2].As<Napi::Boolean>() ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  int fd = viaShm ? shm_open(name.c_str(), flags, 0) : open(name.c_str(), flags);
  if (fd < 0) throw Napi::Error::New(env, ErrnoText(viaShm ? "shm_open" : "open", name));
  return Napi::Number::New(env, fd);
}

// fdStat(fd): [size, inode] of the object now (fstat); [-1, 0] if fstat fails. The inode lets a
// stub check that the descriptor it opened is still the object main registered.
Napi::Value FdStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct stat st;
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Array out = Napi::Array::New(env, 2);
  bool ok = fstat(fd, &st) == 0 && st.st_size >= 0;
  out.Set(0u, Napi::Number::New(env, ok ? static_cast<double>(st.st_size) : -1));
  out.Set(1u, Napi::Number::New(env, ok ? static_cast<double>(st.st_ino) : 0));
  return out;
}

// mapFd(fd, length, shared): maps `length` bytes from offset 0. shared: MAP_SHARED read-write (the
// fd must be O_RDWR); otherwise MAP_PRIVATE copy-on-write, so a write lands in a private page and
// never in the client's memory (an O_RDONLY fd suffices). The fd stays open.
Napi::Value MapRegionFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t length = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  bool shared = info[2].As<Napi::Boolean>();
  void* address = mmap(nullptr, length, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) throw Napi::Error::New(env, ErrnoText("mmap", "fd " + std::to_string(fd)));
  return Wrap(env, address, length);
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

// publish(buffer, queueOffset, newTail, doorbellFd): makes slots up to newTail visible to the
// consumer and, if it sleeps, rings its doorbell (an eventfd its event loop polls) or, with
// doorbellFd < 0, wakes a futex waiter. Returns true if a wake-up was sent.
Napi::Value Publish(const Napi::CallbackInfo& info) {
  auto* queue = reinterpret_cast<QueueHeader*>(Word(info[0], info[1]));
  uint32_t tail = info[2].As<Napi::Number>().Uint32Value();
  int fd = info[3].As<Napi::Number>().Int32Value();
  __atomic_store_n(&queue->tail, tail, __ATOMIC_SEQ_CST);
  bool wake = __atomic_load_n(&queue->sleeping, __ATOMIC_SEQ_CST) != 0;
  if (wake) {
    if (fd >= 0) {
      uint64_t one = 1;
      ssize_t ignored = write(fd, &one, sizeof one);  // EAGAIN: the counter is already non-zero
      (void)ignored;
    } else {
      WakeAll(&queue->tail);
    }
  }
  return Napi::Boolean::New(info.Env(), wake);
}

// createEventFd(): a non-blocking eventfd, the doorbell of one queue. The stub inherits it.
Napi::Value CreateEventFd(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(info.Env(), std::string("eventfd: ") + std::strerror(errno));
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// A Doorbell is the consumer side of one queue on this thread's libuv loop. `callback` (the
// endpoint's reader) runs whenever the queue holds unread descriptors:
//  - check hook (right after the loop wakes): `sleeping` = 0, so a peer publishing while this
//    process runs JS need not ring (a busy consumer is never rung);
//  - prepare hook (right before the loop would block): unread descriptors are delivered; after
//    traffic, the queue is watched for up to `spinNs` (yielding the CPU each turn) because the
//    peer's answer usually comes within a wake-up's cost; the watch ends early as soon as the
//    loop has other I/O or a timer due. Then `sleeping` = 1 and the queue is re-checked (seq_cst
//    on both sides, so a concurrent publish either sees `sleeping` or is seen here);
//  - the eventfd poll: the peer rang because we were (about to be) blocked.
// The spin length is policy and comes from TypeScript; this class only waits and wakes.
class Doorbell : public Napi::ObjectWrap<Doorbell> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Doorbell", {InstanceMethod("close", &Doorbell::Close), InstanceMethod("arm", &Doorbell::Arm)});
  }

  // new Doorbell(fd, buffer, queueOffset, spinUs, callback)
  explicit Doorbell(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Doorbell>(info), context_(info.Env(), "tessera-doorbell") {
    Napi::Env env = info.Env();
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::ArrayBuffer segment = info[1].As<Napi::ArrayBuffer>();
    segment_ = Napi::Persistent(segment);  // keeps the mapping alive
    base_ = static_cast<const uint8_t*>(segment.Data());
    size_ = segment.ByteLength();
    // The peer wrote this header too: check it, and that the queue is one of its two.
    tessera::ReadStatus layout = tessera::ReadLayout(base_, size_, &layout_);
    if (layout != tessera::ReadStatus::kOk) throw Napi::Error::New(env, std::string("doorbell: ") + tessera::StatusText(layout));
    uint32_t queueOffset = info[2].As<Napi::Number>().Uint32Value();
    if (queueOffset == layout_.queue[0]) q_ = 0;
    else if (queueOffset == layout_.queue[1]) q_ = 1;
    else throw Napi::Error::New(env, "doorbell: the offset is not one of the segment's queues");
    queue_ = reinterpret_cast<QueueHeader*>(Word(info[1], info[2]));
    spinNs_ = static_cast<int64_t>(info[3].As<Napi::Number>().Uint32Value()) * 1000;
    callback_ = Napi::Persistent(info[4].As<Napi::Function>());
    napi_get_uv_event_loop(env, &loop_);
    poll_ = static_cast<uv_poll_t*>(operator new(uv_handle_size(tessera::kUvPoll)));
    if (uv_poll_init(loop_, poll_, fd_) != 0) {
      operator delete(poll_);
      poll_ = nullptr;
      throw Napi::Error::New(env, "uv_poll_init failed on the doorbell fd");
    }
    prepare_ = static_cast<uv_prepare_t*>(operator new(uv_handle_size(tessera::kUvPrepare)));
    check_ = static_cast<uv_check_t*>(operator new(uv_handle_size(tessera::kUvCheck)));
    uv_prepare_init(loop_, prepare_);
    uv_check_init(loop_, check_);
    for (void* h : {static_cast<void*>(poll_), static_cast<void*>(prepare_), static_cast<void*>(check_)}) {
      tessera::HandleData(h) = this;
      uv_unref(static_cast<uv_handle_t*>(h));  // a doorbell alone never keeps a process alive
    }
    uv_poll_start(poll_, tessera::kUvReadable, OnReadable);
    uv_prepare_start(prepare_, OnPrepare);
    uv_check_start(check_, OnCheck);
  }

  ~Doorbell() override { Stop(); }

 private:
  static void OnReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
    auto* self = static_cast<Doorbell*>(tessera::HandleData(handle));
    if (self == nullptr) return;
    uint64_t count;
    ssize_t ignored = read(self->fd_, &count, sizeof count);  // reset the counter
    (void)ignored;
    self->Deliver();
  }

  static void OnCheck(uv_check_t* handle) {
    auto* self = static_cast<Doorbell*>(tessera::HandleData(handle));
    if (self != nullptr) __atomic_store_n(&self->queue_->sleeping, 0, __ATOMIC_SEQ_CST);
  }

  static void OnPrepare(uv_prepare_t* handle) {
    auto* self = static_cast<Doorbell*>(tessera::HandleData(handle));
    if (self != nullptr) self->BeforeBlocking();
  }

  // Indices the peer could have corrupted read as "unread": the reader (TypeScript) then finds
  // them corrupt and breaks the channel, which closes this doorbell.
  bool Unread() const {
    tessera::QueueState st;
    tessera::ReadStatus r = tessera::ReadIndices(base_, size_, layout_, q_, &st);
    return r != tessera::ReadStatus::kOk || st.unread > 0;
  }

  // Runs the reader; false if it consumed nothing (closed, or it could not), so callers never loop.
  bool Deliver() {
    if (poll_ == nullptr) return false;
    uint32_t before = __atomic_load_n(&queue_->head, __ATOMIC_SEQ_CST);
    active_ = true;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      // MakeCallback: promise continuations queued by the callback run before we return.
      callback_.MakeCallback(env.Global(), {}, context_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
    return poll_ != nullptr && __atomic_load_n(&queue_->head, __ATOMIC_SEQ_CST) != before;
  }

  void BeforeBlocking() {
    // A few rounds at most: the loop's other handles get their turn in between.
    for (int round = 0; round < 16 && poll_ != nullptr; round++) {
      if (Unread()) {
        if (!Deliver()) break;
        continue;
      }
      if (!active_ || spinNs_ == 0) break;
      active_ = false;
      if (skip_ > 0) {  // recent watches came to nothing: don't burn the CPU on this one
        skip_--;
        break;
      }
      SpinResult r = Spin();
      if (r == SpinResult::kArrived) misses_ = 0;
      if (r == SpinResult::kTimedOut) {
        // The peer answers slower than the watch lasts (a slow handler, a client far away):
        // skip the next 1, 3, 7 ... 63 watches, and try again after that.
        misses_ = misses_ < 6 ? misses_ + 1 : 6;
        skip_ = (1u << misses_) - 1;
      }
      if (r != SpinResult::kArrived) break;
    }
    if (poll_ == nullptr) return;
    __atomic_store_n(&queue_->sleeping, 1, __ATOMIC_SEQ_CST);
    if (Unread()) {
      // Something arrived after the last look: ring ourselves so the loop does not block.
      __atomic_store_n(&queue_->sleeping, 0, __ATOMIC_SEQ_CST);
      uint64_t one = 1;
      ssize_t ignored = write(fd_, &one, sizeof one);
      (void)ignored;
    }
  }

  enum class SpinResult { kArrived, kInterrupted, kTimedOut };

  // Watches the queue for up to spinNs_.
  SpinResult Spin() {
    if (uv_backend_timeout(loop_) == 0) return SpinResult::kInterrupted;  // other work is due now
    struct pollfd loopFd = {uv_backend_fd(loop_), POLLIN, 0};
    int64_t deadline = NowNs() + spinNs_;
    for (;;) {
      if (Unread()) return SpinResult::kArrived;
      if (poll(&loopFd, 1, 0) > 0) return SpinResult::kInterrupted;  // the loop has I/O to serve: never starve it
      if (NowNs() >= deadline) return SpinResult::kTimedOut;
      sched_yield();  // spinning without yielding starves a peer on the same CPU
    }
  }

  static int64_t NowNs() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
  }

  // arm(): an answer is expected soon (this side just sent a request): watch for it before sleeping.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    active_ = true;
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_prepare_stop(prepare_);
    uv_check_stop(check_);
    for (void* h : {static_cast<void*>(poll_), static_cast<void*>(prepare_), static_cast<void*>(check_)}) {
      tessera::HandleData(h) = nullptr;
      uv_close(static_cast<uv_handle_t*>(h), [](uv_handle_t* closed) { operator delete(closed); });
    }
    poll_ = nullptr;
    prepare_ = nullptr;
    check_ = nullptr;
    segment_.Reset();
  }

  int fd_ = -1;
  QueueHeader* queue_ = nullptr;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  tessera::Layout layout_{};
  int q_ = 0;
  int64_t spinNs_ = 0;
  bool active_ = false;  // descriptors were delivered, or an answer is expected, since the last spin
  uint32_t misses_ = 0;  // consecutive watches that timed out (capped)
  uint32_t skip_ = 0;    // watches still to skip after them
  uv_loop_t* loop_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;
  uv_check_t* check_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> segment_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

// Blocks until the queue's tail differs from `seen` or the deadline passes (benchmark floor only).
// Returns true when there is something to read. Sets `sleeping` first and re-checks, so a
// publish is never missed.
bool WaitForTail(QueueHeader* queue, uint32_t seen, int64_t timeoutMs) {
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

// waitBlocking(buffer, queueOffset, seenTail, timeoutMs): the same wait on the calling thread.
// Only for the benchmark's raw ping-pong floor; the server never blocks its event loop.
Napi::Value WaitBlocking(const Napi::CallbackInfo& info) {
  auto* queue = reinterpret_cast<QueueHeader*>(Word(info[0], info[1]));
  uint32_t seen = info[2].As<Napi::Number>().Uint32Value();
  int64_t timeoutMs = info[3].As<Napi::Number>().Int64Value();
  return Napi::Boolean::New(info.Env(), WaitForTail(queue, seen, timeoutMs));
}

// setParentDeathSignal(signal): the kernel sends `signal` to this process when its parent dies.
// Returns false if the parent is already gone (re-parented to init) so the caller can exit.
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  pid_t parent = static_cast<pid_t>(info[1].As<Napi::Number>().Int32Value());
  prctl(PR_SET_PDEATHSIG, info[0].As<Napi::Number>().Int32Value());
  return Napi::Boolean::New(info.Env(), getppid() == parent);
}

// watchParent(parentPid, pollMs, graceMs): a detached native thread that SIGKILLs this process
// graceMs after its parent is gone. It is the stub's last resort when its JS thread is stuck in a
// handler and cannot run its own exit path (Triton's stub has the same parent monitor).
Napi::Value WatchParent(const Napi::CallbackInfo& info) {
  pid_t parent = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
  useconds_t pollUs = info[1].As<Napi::Number>().Uint32Value() * 1000;
  useconds_t graceUs = info[2].As<Napi::Number>().Uint32Value() * 1000;
  std::thread([parent, pollUs, graceUs] {
    while (getppid() == parent) usleep(pollUs);
    usleep(graceUs);
    kill(getpid(), SIGKILL);
  }).detach();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new State());
  exports.Set("create", Napi::Function::New(env, Create));
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("unlink", Napi::Function::New(env, Unlink));
  exports.Set("unmap", Napi::Function::New(env, Unmap));
  exports.Set("publish", Napi::Function::New(env, Publish));
  exports.Set("Doorbell", Doorbell::Define(env));
  exports.Set("createEventFd", Napi::Function::New(env, CreateEventFd));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("waitBlocking", Napi::Function::New(env, WaitBlocking));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal));
  exports.Set("watchParent", Napi::Function::New(env, WatchParent));
  exports.Set("openRegion", Napi::Function::New(env, OpenRegion));
  exports.Set("fdStat", Napi::Function::New(env, FdStat));
  exports.Set("mapFd", Napi::Function::New(env, MapRegionFd));
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
