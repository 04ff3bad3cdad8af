// libFuzzer target for native/queue-read.h: the bytes of a control segment as a corrupt or hostile
// peer could leave them. Built and run by `npm run fuzz` (native/fuzz/run.sh) with
// -fsanitize=fuzzer,address,undefined.
//
// Input: byte 0 picks the mode.
//   even: the rest is the segment itself, byte for byte (seeds: segments written by layout.ts).
//   odd:  a well-formed segment (capacity 2^(b1 % 9), arena size (b2 % 3) pages) is built, then the
//         rest is applied as peer writes: 5-byte records (word selector, u32 little-endian value)
//         over the header, both queue headers and the rings — where a peer's corruption lands.
//         Selector < 128 picks one of kHot's words (0: capacity, 1: arena size, 2/3: arena
//         offsets, 4/5: queue 0 head/tail, 8/9: queue 1 head/tail, 7/11: the queues' capacities);
//         selector >= 128 is ring word selector - 128 (4 words a descriptor, ring 0 first).
// For every segment the reader accepts, both queues are drained (up to 64 descriptors each) and
// every body it accepts is touched at its first and last byte, so ASan sees any range that is
// not inside the segment; each side's private index is checked against the peer's. Broken
// invariants trap.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <new>

#include "../queue-read.h"

namespace {

using tessera::Descriptor;
using tessera::Layout;
using tessera::QueueHeader;
using tessera::QueueState;
using tessera::ReadStatus;

#define INVARIANT(cond) \
  do {                  \
    if (!(cond)) __builtin_trap(); \
  } while (0)

volatile uint8_t sink;

// A segment of exactly `size` bytes, 64-byte aligned like an mmap'd one (ASan then flags any read
// even one byte past the end).
struct Segment {
  explicit Segment(size_t n) : size(n), bytes(static_cast<uint8_t*>(::operator new(n == 0 ? 1 : n, std::align_val_t(64)))) {
    std::memset(bytes, 0, n);
  }
  ~Segment() { ::operator delete(bytes, std::align_val_t(64)); }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  size_t size;
  uint8_t* bytes;
};

void Put(uint8_t* at, uint32_t v) { std::memcpy(at, &v, sizeof v); }

// Extra arenas the reader "knows": id 1 is a page, id 2 is empty, id 3 is larger than any u32
// offset can reach; every other id is unknown.
int64_t ExtraArenaSize(uint32_t id) {
  switch (id) {
    case 1: return tessera::kPage;
    case 2: return 0;
    case 3: return int64_t{1} << 33;
    default: return -1;
  }
}

void Drain(const Segment& seg, const Layout& l, int q) {
  QueueState state;
  ReadStatus s = tessera::ReadIndices(seg.bytes, seg.size, l, q, &state);
  if (s != ReadStatus::kOk) {
    INVARIANT(s == ReadStatus::kIndicesCorrupt);
    return;
  }
  INVARIANT(state.unread <= l.capacity);
  INVARIANT(static_cast<uint32_t>(state.tail - state.head) == state.unread);
  const uint32_t n = state.unread < 64 ? state.unread : 64;
  for (uint32_t i = 0; i < n; i++) {
    Descriptor d;
    s = tessera::ReadDescriptor(seg.bytes, seg.size, l, q, state.head + i, &d);
    INVARIANT(s == ReadStatus::kOk);
    // A message's body is in its sender's (side q) arenas; a RELEASE names one of ours (1 - q).
    for (int side : {q, 1 - q}) {
      auto arenaSize = [&](uint32_t id) -> int64_t {
        return id == 0 ? static_cast<int64_t>(l.arenaSize) : ExtraArenaSize(id);
      };
      s = tessera::CheckBody(d, arenaSize);
      if (s != ReadStatus::kOk) {
        INVARIANT(s == ReadStatus::kBadArena || s == ReadStatus::kOutOfBounds);
        continue;
      }
      INVARIANT(uint64_t{d.offset} + d.length <= static_cast<uint64_t>(arenaSize(d.arena)));
      if (d.arena != 0 || d.length == 0) continue;
      const uint8_t* body = tessera::PrimaryBody(seg.bytes, l, side, d);
      INVARIANT(body >= seg.bytes + l.arena[side] && body + d.length <= seg.bytes + seg.size);
      sink = body[0];
      sink = body[d.length - 1];
    }
  }
  // ReadNext agrees with the pieces it is made of.
  Descriptor first;
  QueueState again;
  s = tessera::ReadNext(seg.bytes, seg.size, l, q, state.head, &again, &first);
  INVARIANT(s == (state.unread == 0 ? ReadStatus::kEmpty : ReadStatus::kOk));
}

// Each side's private index against the peer's shared one: whatever the peer wrote, a state that
// is accepted never claims more unread slots than the ring has.
void Views(const Segment& seg, const Layout& l, int q, uint32_t own) {
  QueueState state;
  for (bool consumer : {true, false}) {
    ReadStatus s = consumer ? tessera::ConsumerState(seg.bytes, seg.size, l, q, own, &state)
                            : tessera::ProducerState(seg.bytes, seg.size, l, q, own, &state);
    if (s != ReadStatus::kOk) {
      INVARIANT(s == ReadStatus::kIndicesCorrupt);
      continue;
    }
    INVARIANT(state.unread <= l.capacity && (consumer ? state.head : state.tail) == own);
    Descriptor d;
    if (consumer) {
      s = tessera::ReadNext(seg.bytes, seg.size, l, q, own, &state, &d);
      INVARIANT(s == (state.unread == 0 ? ReadStatus::kEmpty : ReadStatus::kOk));
    }
  }
}

void Check(const Segment& seg, uint32_t own) {
  Layout l;
  ReadStatus s = tessera::ReadLayout(seg.bytes, seg.size, &l);
  if (s != ReadStatus::kOk) return;
  INVARIANT(tessera::detail::PowerOfTwo(l.capacity));
  INVARIANT(l.totalSize <= seg.size);
  INVARIANT(l.ring[1] + uint64_t{l.capacity} * sizeof(Descriptor) <= l.arena[0]);
  INVARIANT(l.arena[0] % tessera::kPage == 0 && l.arenaSize % tessera::kPage == 0);
  for (int q = 0; q < 2; q++) {
    Drain(seg, l, q);
    Views(seg, l, q, own);
  }
  // Queue numbers the reader must refuse, whatever the segment.
  QueueState state;
  INVARIANT(tessera::ReadIndices(seg.bytes, seg.size, l, 2, &state) == ReadStatus::kBadQueue);
  INVARIANT(tessera::ReadIndices(seg.bytes, seg.size, l, -1, &state) == ReadStatus::kBadQueue);
}

// A segment as src/ipc/layout.ts writeHeader leaves it.
void WriteWellFormed(Segment& seg, const Layout& l) {
  Put(seg.bytes + offsetof(tessera::SegmentHeader, magic), tessera::kSegmentMagic);
  Put(seg.bytes + offsetof(tessera::SegmentHeader, version), 3);
  Put(seg.bytes + offsetof(tessera::SegmentHeader, queueCapacity), l.capacity);
  Put(seg.bytes + offsetof(tessera::SegmentHeader, arenaSize), static_cast<uint32_t>(l.arenaSize));
  Put(seg.bytes + offsetof(tessera::SegmentHeader, arena0), static_cast<uint32_t>(l.arena[0]));
  Put(seg.bytes + offsetof(tessera::SegmentHeader, arena1), static_cast<uint32_t>(l.arena[1]));
  for (int q = 0; q < 2; q++) Put(seg.bytes + l.queue[q] + offsetof(QueueHeader, capacity), l.capacity);
}

Layout Expected(uint32_t capacity, uint32_t arenaSize) {
  Layout l;
  l.capacity = capacity;
  l.arenaSize = arenaSize;
  l.queue[0] = sizeof(tessera::SegmentHeader);
  l.queue[1] = l.queue[0] + sizeof(QueueHeader);
  l.ring[0] = l.queue[1] + sizeof(QueueHeader);
  l.ring[1] = l.ring[0] + uint64_t{capacity} * sizeof(Descriptor);
  l.arena[0] = (l.ring[1] + uint64_t{capacity} * sizeof(Descriptor) + tessera::kPage - 1) / tessera::kPage * tessera::kPage;
  l.arena[1] = l.arena[0] + arenaSize;
  l.totalSize = l.arena[1] + arenaSize;
  return l;
}

void Structured(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const uint32_t capacity = 1u << (data[0] % 9);
  const uint32_t arenaSize = (data[1] % 3) * tessera::kPage;
  const Layout l = Expected(capacity, arenaSize);
  Segment seg(l.totalSize);
  WriteWellFormed(seg, l);
  // The untouched segment must be accepted, with the layout TypeScript computes.
  Layout got;
  INVARIANT(tessera::ReadLayout(seg.bytes, seg.size, &got) == ReadStatus::kOk);
  INVARIANT(got.arena[0] == l.arena[0] && got.arena[1] == l.arena[1] && got.totalSize == l.totalSize);
  // Peer writes land in the words before the first arena: header, queue headers, rings.
  const uint64_t words = l.arena[0] / 4;
  for (size_t at = 2; at + 5 <= size; at += 5) {
    uint32_t selector, value;
    selector = data[at];
    std::memcpy(&value, data + at + 1, sizeof value);
    // Below 128: the header and queue words a peer could corrupt (kHot). From 128: the first 128
    // ring words, i.e. ring 0 and, for capacities up to 16, ring 1 too.
    static const uint32_t kHot[] = {2, 3, 4, 5, 16, 32, 48, 49, 64, 80, 96, 97};
    const uint64_t word = selector < 128 ? kHot[selector % (sizeof kHot / sizeof kHot[0])]
                                         : 112 + (selector - 128) % (words - 112);
    Put(seg.bytes + word * 4, value);
  }
  // The private index of Views: the last record's value, or 0.
  uint32_t own = 0;
  if (size >= 7) std::memcpy(&own, data + size - 4, sizeof own);
  Check(seg, own);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1) {
    Structured(data + 1, size - 1);
  } else {
    Segment seg(size - 1);
    if (size > 1) std::memcpy(seg.bytes, data + 1, size - 1);
    Check(seg, 0);
  }
  return 0;
}
