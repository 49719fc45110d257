// The batched multi-index Hamming search of batched-search.ts, in C++ (no Node.js in this file, so a
// standalone bench can drive it too). Same tables, chunks and radii as the TypeScript, so the same
// candidates and the same hits: every (probe, entry) pair within the threshold, each once, sorted by
// probe then entry position, with its exact distance.
//
// Per pass of probes and per chunk table, the ball keys of all the probes are bucket-sorted by key
// (bins of 256 buckets), the table is swept in key order, and each candidate entry is verified at
// once by a popcount, its hash having been prefetched a few candidates earlier (no candidate array
// and no sort by position: the prefetch hides the random read, see bench/matcher/README.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

namespace arachnid {

struct Chunk {
  uint32_t start;  // first bit (bit 0: most significant bit of word 0)
  uint32_t bits;   // at most 24
};

constexpr uint32_t kMaxChunks = 64;

struct Tables {
  const uint32_t* words = nullptr;  // 8 big-endian 32-bit words per entry
  uint32_t size = 0;
  uint32_t chunkCount = 0;
  Chunk chunks[kMaxChunks];
  const uint32_t* offsets[kMaxChunks];    // per chunk: 2^bits + 1 bucket starts
  const uint32_t* positions[kMaxChunks];  // per chunk: size entry positions, by bucket
};

struct Hit {
  uint32_t probe;
  uint32_t position;
  uint32_t distance;
};

struct SearchOptions {
  uint32_t passProbes = 4096;  // probes per pass (keys of one chunk table: 4096 x 301 x 8 bytes = 10 MiB)
  uint32_t keyBinShift = 8;    // buckets per key bin: 2^8
  uint32_t prefetch = 32;      // candidates in flight between prefetch and verification (8, 16, 32 or 64)
  uint32_t sweepAhead = 32;    // keys between prefetching a bucket's positions and reading them (0: none)
};

inline uint32_t chunkValue(const uint32_t* w, const Chunk& c) {
  const uint32_t wi = c.start >> 5;
  const uint32_t off = c.start & 31;
  const uint32_t hi = w[wi];
  if (off + c.bits <= 32) return (hi >> (32 - off - c.bits)) & ((1u << c.bits) - 1);
  const uint32_t lo = w[wi + 1];
  const uint32_t fromHi = 32 - off;
  const uint32_t fromLo = c.bits - fromHi;
  return ((hi & ((1u << fromHi) - 1)) << fromLo) | (lo >> (32 - fromLo));
}

// Radius per chunk so that sum(r_i + 1) = threshold + 1 (-1: the chunk need not be searched), as
// chunkRadii in hamming-index.ts.
inline int chunkRadius(uint32_t m, int threshold, uint32_t c) {
  const int q = (threshold + 1) / static_cast<int>(m);
  const int rem = (threshold + 1) - q * static_cast<int>(m);
  return static_cast<int>(c) >= static_cast<int>(m) - rem ? q : q - 1;
}

// Hamming distance of two 256-bit hashes (the word order does not matter to a popcount).
inline uint32_t distance256(const uint32_t* a, const uint32_t* b) {
  uint64_t x[4], y[4];
  std::memcpy(x, a, 32);
  std::memcpy(y, b, 32);
  return static_cast<uint32_t>(__builtin_popcountll(x[0] ^ y[0]) + __builtin_popcountll(x[1] ^ y[1]) +
                               __builtin_popcountll(x[2] ^ y[2]) + __builtin_popcountll(x[3] ^ y[3]));
}

// The xor masks of every value within `radius` bits of a `bits`-bit key, and per key bin the
// distinct top parts (mask >> shift) with how many masks share each.
struct Ball {
  std::vector<uint32_t> masks;
  std::vector<uint32_t> topValues;
  std::vector<uint32_t> topCounts;
};

inline void enumerateMasks(uint32_t mask, uint32_t from, uint32_t bits, int left, std::vector<uint32_t>& out) {
  for (uint32_t b = from; b < bits; b++) {
    const uint32_t next = mask | (1u << b);
    out.push_back(next);
    if (left > 1) enumerateMasks(next, b + 1, bits, left - 1, out);
  }
}

inline Ball makeBall(uint32_t bits, int radius, uint32_t shift) {
  Ball ball;
  ball.masks.push_back(0);
  if (radius > 0) enumerateMasks(0, 0, bits, std::min<int>(radius, static_cast<int>(bits)), ball.masks);
  std::sort(ball.masks.begin(), ball.masks.end());
  std::map<uint32_t, uint32_t> tops;
  for (uint32_t m : ball.masks) tops[m >> shift]++;
  for (auto& [v, n] : tops) {
    ball.topValues.push_back(v);
    ball.topCounts.push_back(n);
  }
  return ball;
}

// Scratch kept by the caller between calls (one search at a time per instance); it only grows.
struct Scratch {
  std::vector<uint64_t> keys;  // (key << 32) | probe, bucket-sorted by key bin
  std::vector<uint32_t> probeKeys;
  std::vector<uint32_t> fill;
  std::map<uint64_t, Ball> balls;

  const Ball& ball(uint32_t bits, int radius, uint32_t shift) {
    const uint64_t id = (static_cast<uint64_t>(bits) << 40) | (static_cast<uint64_t>(radius) << 20) | shift;
    auto it = balls.find(id);
    if (it == balls.end()) it = balls.emplace(id, makeBall(bits, radius, shift)).first;
    return it->second;
  }
};

// One pass: probes [from, to) against the chunk tables; hits appended to `out` (unsorted, with
// duplicates when an entry is found through several chunks).
template <uint32_t Prefetch>
void searchPass(const Tables& t, const uint32_t* probes, uint32_t from, uint32_t to, int threshold,
                const SearchOptions& o, Scratch& s, std::vector<Hit>& out) {
  const uint32_t n = to - from;
  const uint32_t* const words = t.words;
  s.probeKeys.resize(n);
  for (uint32_t c = 0; c < t.chunkCount; c++) {
    const int radius = chunkRadius(t.chunkCount, threshold, c);
    if (radius < 0) continue;
    const Chunk chunk = t.chunks[c];
    const uint32_t shift = std::min(chunk.bits, o.keyBinShift);
    const uint32_t bins = 1u << (chunk.bits - shift);
    const Ball& ball = s.ball(chunk.bits, radius, shift);
    const uint32_t* masks = ball.masks.data();
    const uint32_t maskCount = static_cast<uint32_t>(ball.masks.size());
    for (uint32_t i = 0; i < n; i++) s.probeKeys[i] = chunkValue(probes + static_cast<size_t>(from + i) * 8, chunk);

    // Bin counts without computing every key: a key's bin is the probe's top bits xor the mask's.
    s.fill.assign(bins + 1, 0);
    uint32_t* fill = s.fill.data();
    const size_t tops = ball.topValues.size();
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t top = s.probeKeys[i] >> shift;
      for (size_t u = 0; u < tops; u++) fill[(top ^ ball.topValues[u]) + 1] += ball.topCounts[u];
    }
    for (uint32_t b = 0; b < bins; b++) fill[b + 1] += fill[b];
    const size_t total = fill[bins];
    if (s.keys.size() < total) s.keys.resize(total + total / 4);
    uint64_t* keys = s.keys.data();
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t key = s.probeKeys[i];
      for (uint32_t u = 0; u < maskCount; u++) {
        const uint32_t k = key ^ masks[u];
        keys[fill[k >> shift]++] = (static_cast<uint64_t>(k) << 32) | i;
      }
    }

    // Sweep the table in key order; each candidate's hash is prefetched, then verified `Prefetch`
    // candidates later.
    const uint32_t* offsets = t.offsets[c];
    const uint32_t* positions = t.positions[c];
    uint32_t ringProbe[Prefetch];
    uint32_t ringEntry[Prefetch];
    uint32_t head = 0;
    uint32_t inFlight = 0;
    auto verify = [&](uint32_t i, uint32_t j) {
      const uint32_t d = distance256(probes + static_cast<size_t>(from + i) * 8, words + static_cast<size_t>(j) * 8);
      if (d <= static_cast<uint32_t>(threshold)) out.push_back(Hit{from + i, j, d});
    };
    const size_t ahead = o.sweepAhead;
    for (size_t x = 0; x < total; x++) {
      if (ahead != 0) {
        // The key table is read nearly in order but sparsely: fetch a key's bucket bounds, and
        // then its positions, some keys before they are read.
        if (x + 2 * ahead < total) __builtin_prefetch(offsets + static_cast<uint32_t>(keys[x + 2 * ahead] >> 32));
        if (x + ahead < total) __builtin_prefetch(positions + offsets[static_cast<uint32_t>(keys[x + ahead] >> 32)]);
      }
      const uint64_t e = keys[x];
      const uint32_t k = static_cast<uint32_t>(e >> 32);
      const uint32_t i = static_cast<uint32_t>(e);
      for (uint32_t p = offsets[k], end = offsets[k + 1]; p < end; p++) {
        const uint32_t j = positions[p];
        // Both ends: a hash straddles two cache lines when the array is not 32-byte aligned
        // (V8's large array buffers start 16 bytes into a page).
        __builtin_prefetch(words + static_cast<size_t>(j) * 8);
        __builtin_prefetch(words + static_cast<size_t>(j) * 8 + 7);
        if (inFlight == Prefetch) verify(ringProbe[head], ringEntry[head]);
        else inFlight++;
        ringProbe[head] = i;
        ringEntry[head] = j;
        head = (head + 1) & (Prefetch - 1);
      }
    }
    for (uint32_t r = 0; r < inFlight; r++) {
      const uint32_t slot = (head + Prefetch - inFlight + r) & (Prefetch - 1);
      verify(ringProbe[slot], ringEntry[slot]);
    }
  }
}

inline bool hitBefore(const Hit& a, const Hit& b) {
  return a.probe != b.probe ? a.probe < b.probe : a.position < b.position;
}

// Every entry of `t` (chunkCount > 0) within `threshold` of each of `count` probes (8 words each):
// sorted by probe then position, each pair once.
inline void searchIndexed(const Tables& t, const uint32_t* probes, uint32_t count, int threshold,
                          const SearchOptions& o, Scratch& s, std::vector<Hit>& out) {
  out.clear();
  if (threshold < 0 || t.size == 0 || t.chunkCount == 0) return;
  for (uint32_t from = 0; from < count; from += o.passProbes) {
    const uint32_t to = std::min(count, from + o.passProbes);
    switch (o.prefetch) {
      case 1: searchPass<1>(t, probes, from, to, threshold, o, s, out); break;
      case 8: searchPass<8>(t, probes, from, to, threshold, o, s, out); break;
      case 16: searchPass<16>(t, probes, from, to, threshold, o, s, out); break;
      case 64: searchPass<64>(t, probes, from, to, threshold, o, s, out); break;
      default: searchPass<32>(t, probes, from, to, threshold, o, s, out); break;
    }
  }
  std::sort(out.begin(), out.end(), hitBefore);
  out.erase(std::unique(out.begin(), out.end(), [](const Hit& a, const Hit& b) {
              return a.probe == b.probe && a.position == b.position;
            }),
            out.end());
}

}  // namespace arachnid
