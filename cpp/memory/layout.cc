#include "layout.hpp"

#include <cstring>

#include "buddy.hpp"
#include "ring.hpp"
#include "slab.hpp"
#include "stack.hpp"

namespace up::memory {

void write_header(std::byte* base, Kind kind, const Geometry& g, bool shared) noexcept {
  Header h{};
  h.magic = kMagic;
  h.version = kVersion;
  h.kind = static_cast<uint32_t>(kind);
  h.flags = shared ? kFlagShared : 0;
  h.total_bytes = g.total_bytes;
  h.data_offset = g.data_offset;
  h.data_bytes = g.data_bytes;
  h.g0 = g.g0;
  h.g1 = g.g1;
  h.g2 = g.g2;
  h.g3 = g.g3;
  std::memcpy(base, &h, sizeof h);
}

Header read_header(const std::byte* base) noexcept {
  // Word by word through relaxed atomics: another thread may be writing the header.
  uint32_t words[kHeaderBytes / 4];
  const auto* src = reinterpret_cast<const uint32_t*>(base);
  for (uint32_t i = 0; i < kHeaderBytes / 4; ++i) words[i] = load_word(src + i);
  Header h;
  std::memcpy(&h, words, sizeof h);
  return h;
}

Status format(std::byte* base, std::size_t len, Kind kind, uint32_t a, uint32_t b, bool shared) noexcept {
  switch (kind) {
    case Kind::slab: return Slab::format(base, len, a, b, shared) ? Status::ok : Status::bad_argument;
    case Kind::buddy: return Buddy::format(base, len, a, b, shared) ? Status::ok : Status::bad_argument;
    case Kind::ring: return Ring::format(base, len, a, shared) ? Status::ok : Status::bad_argument;
    case Kind::stack: return Stack::format(base, len, a, shared) ? Status::ok : Status::bad_argument;
  }
  return Status::bad_argument;
}

Status validate(const std::byte* base, std::size_t len, Kind kind, Header* out) noexcept {
  if (base == nullptr || len < kHeaderBytes || reinterpret_cast<uintptr_t>(base) % 8 != 0) return Status::bad_header;
  const Header h = read_header(base);
  if (h.magic != kMagic || h.version != kVersion || h.kind != static_cast<uint32_t>(kind)) return Status::bad_header;
  // Recompute the geometry from the parameters so no stored offset is trusted alone.
  Geometry g;
  switch (kind) {
    case Kind::slab: g = slab_geometry(h.g0, h.g2); break;
    case Kind::buddy: g = buddy_geometry(h.data_bytes, h.g0); break;
    case Kind::ring: g = ring_geometry(h.g0); break;
    case Kind::stack: g = stack_geometry(h.g0); break;
  }
  if (g.status != Status::ok || g.total_bytes != h.total_bytes || g.data_offset != h.data_offset ||
      g.data_bytes != h.data_bytes || g.g0 != h.g0 || g.g1 != h.g1 || g.g2 != h.g2 || g.g3 != h.g3 ||
      h.total_bytes > len) {
    return Status::bad_header;
  }
  if (out != nullptr) *out = h;
  return Status::ok;
}

}  // namespace up::memory
