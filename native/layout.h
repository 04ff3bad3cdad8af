// Shared-memory layouts the addon touches, defined once and mirrored by src/ipc/layout.ts.
// The static_asserts pin every offset; a unit test compares them with the TypeScript side
// through the `layout` object the addon exports.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tessera {

constexpr uint32_t kSegmentMagic = 0x54535241;  // "TSRA"
constexpr uint32_t kPage = 4096;

// The first 64 bytes of a control segment (src/ipc/layout.ts HEADER). Main writes it once before
// the stub maps the segment; from then on the stub could overwrite it, so readers validate it
// (queue-read.h) rather than trust it.
struct SegmentHeader {
  uint32_t magic;          // kSegmentMagic
  uint32_t version;        // PROTOCOL_VERSION of layout.ts; compared in the handshake (TypeScript)
  uint32_t queueCapacity;  // slots per queue, a power of two; equals each queue's `capacity`
  uint32_t arenaSize;      // bytes of each side's arena, a multiple of kPage
  uint32_t arena0;         // byte offset of main's arena: the first page after both rings
  uint32_t arena1;         // byte offset of the stub's arena: arena0 + arenaSize
  uint32_t reserved[10];
};

// One direction of a message queue: a ring of fixed-size descriptors that lives right after
// this header. Indices grow without bound (wrapping at 2^32) and are reduced modulo capacity.
// head/tail/sleeping sit on their own cache lines so producer and consumer never false-share.
struct QueueHeader {
  alignas(64) uint32_t head;      // next slot the consumer reads; written by the consumer only
  alignas(64) uint32_t tail;      // next slot the producer writes; the futex word consumers wait on
  alignas(64) uint32_t sleeping;  // 1 while the consumer is (about to be) blocked in futex wait
  uint32_t capacity;              // slots in the ring, a power of two; set once at creation
};

// A descriptor: queues carry offsets, never payloads.
struct Descriptor {
  uint32_t kind;    // message kind (src/ipc/protocol.ts)
  uint32_t arena;   // which of the sender's arenas holds the body (0 = the primary arena)
  uint32_t offset;  // body offset inside that arena
  uint32_t length;  // body length in bytes
};

static_assert(offsetof(SegmentHeader, magic) == 0, "magic");
static_assert(offsetof(SegmentHeader, version) == 4, "version");
static_assert(offsetof(SegmentHeader, queueCapacity) == 8, "queueCapacity");
static_assert(offsetof(SegmentHeader, arenaSize) == 12, "arenaSize");
static_assert(offsetof(SegmentHeader, arena0) == 16, "arena0");
static_assert(offsetof(SegmentHeader, arena1) == 20, "arena1");
static_assert(sizeof(SegmentHeader) == 64, "segment header size");
static_assert(offsetof(QueueHeader, head) == 0, "head");
static_assert(offsetof(QueueHeader, tail) == 64, "tail");
static_assert(offsetof(QueueHeader, sleeping) == 128, "sleeping");
static_assert(offsetof(QueueHeader, capacity) == 132, "capacity");
static_assert(sizeof(QueueHeader) == 192, "queue header size");
static_assert(sizeof(Descriptor) == 16, "descriptor size");

}  // namespace tessera
