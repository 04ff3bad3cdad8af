// queue-read.h: reading a control segment whose bytes the peer process can write, bounds-checked.
//
// Everything in shared memory is input from the other process: the segment header, both queues'
// indices and capacities, every descriptor in the rings. A bug or a compromised stub can store any
// bytes there at any moment (an offset read from shared memory and used unchecked was the second
// link of Triton's 2025 CVE chain). So each function here reads what it needs exactly once, into
// locals, validates the copy, and returns only values that are inside the segment or inside an
// arena whose size the caller vouches for. A later write by the peer cannot change what was
// checked; it can only make the next read fail.
//
// Header-only and free of Node-API so the libFuzzer target (native/fuzz/queue_fuzz.cc) builds it
// alone. Nothing here allocates, throws or blocks. Every size is computed in 64 bits: no field
// (u32) or sum of fields can wrap.
#pragma once
#include <cstddef>
#include <cstdint>

#include "layout.h"

namespace tessera {

enum class ReadStatus : uint8_t {
  kOk = 0,
  kEmpty,           // the queue holds no unread descriptor (head == tail)
  kTooSmall,        // the segment is smaller than its header, or than the layout the header implies
  kMisaligned,      // the segment's base is not 4-byte aligned (atomic loads need it)
  kBadMagic,        // not a tessera control segment
  kBadCapacity,     // zero, not a power of two, or a queue header disagrees with the segment header
  kBadLayout,       // arena offsets disagree with the layout computed from capacity and arena size
  kBadQueue,        // a queue number other than 0 or 1
  kIndicesCorrupt,  // tail - head (mod 2^32) exceeds the capacity: no producer writes that
  kBadArena,        // the descriptor names an arena the caller does not know
  kOutOfBounds,     // offset + length lies past the end of the arena
};

inline const char* StatusText(ReadStatus s) {
  switch (s) {
    case ReadStatus::kOk: return "ok";
    case ReadStatus::kEmpty: return "queue empty";
    case ReadStatus::kTooSmall: return "segment smaller than its layout";
    case ReadStatus::kMisaligned: return "segment not 4-byte aligned";
    case ReadStatus::kBadMagic: return "not a tessera control segment";
    case ReadStatus::kBadCapacity: return "bad queue capacity";
    case ReadStatus::kBadLayout: return "arena offsets disagree with the layout";
    case ReadStatus::kBadQueue: return "no such queue";
    case ReadStatus::kIndicesCorrupt: return "queue indices corrupt";
    case ReadStatus::kBadArena: return "unknown arena";
    case ReadStatus::kOutOfBounds: return "body outside its arena";
  }
  return "unknown status";
}

// Where everything lies, as src/ipc/layout.ts controlLayout computes it. Queue q (0 = main → stub,
// 1 = stub → main) is written by side q, whose primary arena is arena[q].
struct Layout {
  uint32_t capacity;
  uint64_t arenaSize;  // page-aligned
  uint64_t queue[2];
  uint64_t ring[2];
  uint64_t arena[2];
  uint64_t totalSize;
};

// The queue's indices as read once: unread = tail - head (mod 2^32), never above capacity.
struct QueueState {
  uint32_t head;
  uint32_t tail;
  uint32_t unread;
};

namespace detail {

// Fields set once (the header, the capacities): plain loads through memcpy, so a misaligned or
// type-punned read is never undefined behaviour.
inline uint32_t LoadOnce(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// Indices and descriptors the peer writes while we read: atomic loads of aligned words.
inline uint32_t LoadShared(const uint8_t* p, int order) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), order);
}

inline uint64_t AlignUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

inline bool PowerOfTwo(uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace detail

// Computes the layout the header describes and checks it against the segment: magic, capacity
// (a power of two, repeated in both queue headers), arena offsets, and a total that fits `size`.
// The protocol version is the handshake's business (TypeScript), not this reader's.
inline ReadStatus ReadLayout(const uint8_t* seg, size_t size, Layout* out) {
  if (seg == nullptr || size < sizeof(SegmentHeader)) return ReadStatus::kTooSmall;
  if (reinterpret_cast<uintptr_t>(seg) % alignof(uint32_t) != 0) return ReadStatus::kMisaligned;
  using detail::LoadOnce;
  if (LoadOnce(seg + offsetof(SegmentHeader, magic)) != kSegmentMagic) return ReadStatus::kBadMagic;
  const uint32_t capacity = LoadOnce(seg + offsetof(SegmentHeader, queueCapacity));
  if (!detail::PowerOfTwo(capacity)) return ReadStatus::kBadCapacity;

  Layout l;
  l.capacity = capacity;
  l.arenaSize = detail::AlignUp(LoadOnce(seg + offsetof(SegmentHeader, arenaSize)), kPage);
  l.queue[0] = sizeof(SegmentHeader);
  l.queue[1] = l.queue[0] + sizeof(QueueHeader);
  l.ring[0] = l.queue[1] + sizeof(QueueHeader);
  l.ring[1] = l.ring[0] + uint64_t{capacity} * sizeof(Descriptor);
  l.arena[0] = detail::AlignUp(l.ring[1] + uint64_t{capacity} * sizeof(Descriptor), kPage);
  l.arena[1] = l.arena[0] + l.arenaSize;
  l.totalSize = l.arena[1] + l.arenaSize;
  if (l.totalSize > size) return ReadStatus::kTooSmall;
  if (LoadOnce(seg + offsetof(SegmentHeader, arena0)) != l.arena[0] ||
      LoadOnce(seg + offsetof(SegmentHeader, arena1)) != l.arena[1]) {
    return ReadStatus::kBadLayout;
  }
  for (int q = 0; q < 2; q++) {
    if (LoadOnce(seg + l.queue[q] + offsetof(QueueHeader, capacity)) != capacity) return ReadStatus::kBadCapacity;
  }
  *out = l;
  return ReadStatus::kOk;
}

namespace detail {

inline ReadStatus Indices(const uint8_t* seg, size_t size, const Layout& l, int q, QueueState* out,
                          const uint32_t* ownHead, const uint32_t* ownTail) {
  if (q != 0 && q != 1) return ReadStatus::kBadQueue;
  if (l.queue[q] + sizeof(QueueHeader) > size) return ReadStatus::kTooSmall;
  const uint8_t* queue = seg + l.queue[q];
  QueueState s;
  s.tail = ownTail ? *ownTail : LoadShared(queue + offsetof(QueueHeader, tail), __ATOMIC_ACQUIRE);
  s.head = ownHead ? *ownHead : LoadShared(queue + offsetof(QueueHeader, head), __ATOMIC_ACQUIRE);
  s.unread = s.tail - s.head;  // u32: indices wrap at 2^32 by design
  if (s.unread > l.capacity) return ReadStatus::kIndicesCorrupt;
  *out = s;
  return ReadStatus::kOk;
}

}  // namespace detail

// The consumer's view of queue q: its own head, which it keeps privately (shared memory holds only
// a copy for the producer: a peer could rewrite that one), and the producer's tail, read with
// acquire so the descriptors before it are visible. Corrupt when tail - head > capacity.
inline ReadStatus ConsumerState(const uint8_t* seg, size_t size, const Layout& l, int q, uint32_t ownHead,
                                QueueState* out) {
  return detail::Indices(seg, size, l, q, out, &ownHead, nullptr);
}

// The producer's view of queue q: its own tail and the consumer's head; the room left is
// capacity - unread. Corrupt when the head claims more was read than was ever written.
inline ReadStatus ProducerState(const uint8_t* seg, size_t size, const Layout& l, int q, uint32_t ownTail,
                                QueueState* out) {
  return detail::Indices(seg, size, l, q, out, nullptr, &ownTail);
}

// Both indices as shared memory holds them (for diagnostics, and for a side that keeps no copy).
inline ReadStatus ReadIndices(const uint8_t* seg, size_t size, const Layout& l, int q, QueueState* out) {
  return detail::Indices(seg, size, l, q, out, nullptr, nullptr);
}

// Copies the descriptor in slot `index` of queue q's ring (any index: it is reduced modulo the
// capacity, so the slot is always inside the ring). The copy is what the caller validates and
// uses; the slot itself may change the moment after.
inline ReadStatus ReadDescriptor(const uint8_t* seg, size_t size, const Layout& l, int q, uint32_t index,
                                 Descriptor* out) {
  if (q != 0 && q != 1) return ReadStatus::kBadQueue;
  const uint64_t at = l.ring[q] + uint64_t{index & (l.capacity - 1)} * sizeof(Descriptor);
  if (at + sizeof(Descriptor) > size) return ReadStatus::kTooSmall;
  const uint8_t* slot = seg + at;
  Descriptor d;
  d.kind = detail::LoadShared(slot + offsetof(Descriptor, kind), __ATOMIC_RELAXED);
  d.arena = detail::LoadShared(slot + offsetof(Descriptor, arena), __ATOMIC_RELAXED);
  d.offset = detail::LoadShared(slot + offsetof(Descriptor, offset), __ATOMIC_RELAXED);
  d.length = detail::LoadShared(slot + offsetof(Descriptor, length), __ATOMIC_RELAXED);
  *out = d;
  return ReadStatus::kOk;
}

// The consumer's next descriptor: indices validated (ConsumerState), then the slot at its head
// copied out. kEmpty when there is nothing to read.
inline ReadStatus ReadNext(const uint8_t* seg, size_t size, const Layout& l, int q, uint32_t ownHead,
                           QueueState* state, Descriptor* out) {
  ReadStatus s = ConsumerState(seg, size, l, q, ownHead, state);
  if (s != ReadStatus::kOk) return s;
  if (state->unread == 0) return ReadStatus::kEmpty;
  return ReadDescriptor(seg, size, l, q, state->head, out);
}

// Checks that a descriptor's body lies inside its arena. `arenaSize(id)` gives the size in bytes
// of arena `id` of the side the descriptor points into, or a negative number when that arena is
// unknown (never mapped, already dropped). For a message that is the sender's side; for a
// RELEASE it is the receiver's own. Arena 0 is the primary arena in the control segment
// (Layout::arena[side], Layout::arenaSize); the others are extra segments.
template <typename ArenaSize>
inline ReadStatus CheckBody(const Descriptor& d, ArenaSize arenaSize) {
  const int64_t bytes = arenaSize(d.arena);
  if (bytes < 0) return ReadStatus::kBadArena;
  if (uint64_t{d.offset} + uint64_t{d.length} > static_cast<uint64_t>(bytes)) return ReadStatus::kOutOfBounds;
  return ReadStatus::kOk;
}

// The common case: a body in the primary arena of `side`, as a byte range of the control segment.
// Only for a descriptor that passed CheckBody against that arena.
inline const uint8_t* PrimaryBody(const uint8_t* seg, const Layout& l, int side, const Descriptor& d) {
  return seg + l.arena[side] + d.offset;
}

}  // namespace tessera
