// The native Hamming kernel (packages/matcher/native/hamming-kernel.h) alone, without Node.js: the
// A/B driver behind bench/matcher/README.md's "Native kernel" figures. Same data as index-only.ts
// (xorshift words, 1% of the probes 3 bits from an entry, threshold 31), tables in mmap'd memory.
//
//   g++ -O2 -march=x86-64-v2 -std=c++17 -pthread -o /tmp/native-driver bench/matcher/native-driver.cc
//   /tmp/native-driver N PROBES VARIANTS HUGE PASS PREFETCH ROUNDS AHEAD MISALIGN
//   e.g. /tmp/native-driver 10000000 32768 b2:32:32:4096:8,b2:32:32:8192:8,b1:32:32:16384 1 4096 32 3 32 1
//
// VARIANTS, comma-separated, timed in alternation over ROUNDS: NAME[:prefetch:sweepAhead:pass:keyBinShift]
// with NAME b2 (the kernel), b1 (candidates bucket-sorted by position then verified: the TypeScript's
// way), t2 (the kernel on two threads, half the probes each), fw (the kernel through a flatten +
// target("popcnt") wrapper, as the addon calls it), p1 / p2 (key generation only / and the sweep without its prefetch,
// no verification). HUGE 1: madvise(MADV_HUGEPAGE) on the tables; MISALIGN 1: the hashes 16 bytes
// into a page, as V8 places large buffers.
#include "../../packages/matcher/native/hamming-kernel.h"
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
using namespace arachnid;

static uint32_t seed = 12345;
static uint32_t rnd() { seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; return seed; }

template <class T> T* alloc(size_t n, bool huge) {
  size_t bytes = n * sizeof(T);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);
  return (T*)p;
}

// B1: candidates collected, bucket-sorted by position (bins of 64), verified in order (the JS way).
static void searchB1(const Tables& t, const uint32_t* probes, uint32_t count, int threshold, const SearchOptions& o, Scratch& s, std::vector<Hit>& out,
                     std::vector<uint64_t>& cand, std::vector<uint64_t>& sorted, std::vector<uint32_t>& pfill) {
  out.clear();
  for (uint32_t from = 0; from < count; from += o.passProbes) {
    uint32_t to = std::min(count, from + o.passProbes), n = to - from;
    size_t nc = 0;
    s.probeKeys.resize(n);
    for (uint32_t c = 0; c < t.chunkCount; c++) {
      int radius = chunkRadius(t.chunkCount, threshold, c);
      if (radius < 0) continue;
      Chunk chunk = t.chunks[c];
      uint32_t shift = std::min(chunk.bits, o.keyBinShift), bins = 1u << (chunk.bits - shift);
      const Ball& ball = s.ball(chunk.bits, radius, shift);
      for (uint32_t i = 0; i < n; i++) s.probeKeys[i] = chunkValue(probes + (size_t)(from + i) * 8, chunk);
      s.fill.assign(bins + 1, 0);
      for (uint32_t i = 0; i < n; i++) { uint32_t top = s.probeKeys[i] >> shift; for (size_t u = 0; u < ball.topValues.size(); u++) s.fill[(top ^ ball.topValues[u]) + 1] += ball.topCounts[u]; }
      for (uint32_t b = 0; b < bins; b++) s.fill[b + 1] += s.fill[b];
      size_t total = s.fill[bins];
      if (s.keys.size() < total) s.keys.resize(total);
      for (uint32_t i = 0; i < n; i++) for (uint32_t m : ball.masks) { uint32_t k = s.probeKeys[i] ^ m; s.keys[s.fill[k >> shift]++] = ((uint64_t)k << 32) | i; }
      const uint32_t* off = t.offsets[c]; const uint32_t* pos = t.positions[c];
      for (size_t x = 0; x < total; x++) {
        uint32_t k = s.keys[x] >> 32, i = (uint32_t)s.keys[x];
        for (uint32_t p = off[k], e = off[k + 1]; p < e; p++) { if (nc == cand.size()) cand.resize(cand.size() * 2 + 1024); cand[nc++] = ((uint64_t)pos[p] << 32) | i; }
      }
    }
    uint32_t pb = (t.size >> 6) + 1;
    pfill.assign(pb + 1, 0);
    for (size_t x = 0; x < nc; x++) pfill[(cand[x] >> 38) + 1]++;
    for (uint32_t b = 0; b < pb; b++) pfill[b + 1] += pfill[b];
    if (sorted.size() < nc) sorted.resize(nc);
    for (size_t x = 0; x < nc; x++) sorted[pfill[cand[x] >> 38]++] = cand[x];
    for (size_t x = 0; x < nc; x++) {
      uint32_t j = sorted[x] >> 32, i = (uint32_t)sorted[x];
      uint32_t d = distance256(probes + (size_t)(from + i) * 8, t.words + (size_t)j * 8);
      if (d <= (uint32_t)threshold) out.push_back(Hit{from + i, j, d});
    }
  }
  std::sort(out.begin(), out.end(), hitBefore);
  out.erase(std::unique(out.begin(), out.end(), [](const Hit& a, const Hit& b) { return a.probe == b.probe && a.position == b.position; }), out.end());
}


static int gStop = 3; // 1: keys only, 2: keys+sweep (no verify), 3: all
static uint64_t gSink = 0;
static void searchPhase(const Tables& t, const uint32_t* probes, uint32_t count, int threshold, const SearchOptions& o, Scratch& s, std::vector<Hit>& out) {
  out.clear();
  for (uint32_t from = 0; from < count; from += o.passProbes) {
    uint32_t to = std::min(count, from + o.passProbes), n = to - from;
    s.probeKeys.resize(n);
    for (uint32_t c = 0; c < t.chunkCount; c++) {
      int radius = chunkRadius(t.chunkCount, threshold, c);
      if (radius < 0) continue;
      Chunk chunk = t.chunks[c];
      uint32_t shift = std::min(chunk.bits, o.keyBinShift), bins = 1u << (chunk.bits - shift);
      const Ball& ball = s.ball(chunk.bits, radius, shift);
      for (uint32_t i = 0; i < n; i++) s.probeKeys[i] = chunkValue(probes + (size_t)(from + i) * 8, chunk);
      s.fill.assign(bins + 1, 0);
      for (uint32_t i = 0; i < n; i++) { uint32_t top = s.probeKeys[i] >> shift; for (size_t u = 0; u < ball.topValues.size(); u++) s.fill[(top ^ ball.topValues[u]) + 1] += ball.topCounts[u]; }
      for (uint32_t b = 0; b < bins; b++) s.fill[b + 1] += s.fill[b];
      size_t total = s.fill[bins];
      if (s.keys.size() < total) s.keys.resize(total);
      uint64_t* keys = s.keys.data(); const uint32_t* masks = ball.masks.data(); uint32_t mc = ball.masks.size(); uint32_t* fill = s.fill.data();
      for (uint32_t i = 0; i < n; i++) { uint32_t key = s.probeKeys[i]; for (uint32_t u = 0; u < mc; u++) { uint32_t k = key ^ masks[u]; keys[fill[k >> shift]++] = ((uint64_t)k << 32) | i; } }
      if (gStop == 1) { gSink += keys[total/2]; continue; }
      const uint32_t* off = t.offsets[c]; const uint32_t* pos = t.positions[c];
      for (size_t x = 0; x < total; x++) {
        uint32_t k = keys[x] >> 32, i = (uint32_t)keys[x];
        for (uint32_t p = off[k], e = off[k + 1]; p < e; p++) {
          uint32_t j = pos[p];
          if (gStop == 2) { gSink += j ^ i; continue; }
        }
      }
    }
  }
}

#if defined(__x86_64__)
__attribute__((flatten, target("popcnt"), noinline)) void searchPopcntWrapped(const Tables& t, const uint32_t* probes, uint32_t count, int threshold, const SearchOptions& o, Scratch& s, std::vector<Hit>& out) { searchIndexed(t, probes, count, threshold, o, s, out); }
#endif

int main(int argc, char** argv) {
  uint32_t N = argc > 1 ? atoi(argv[1]) : 1000000, P = argc > 2 ? atoi(argv[2]) : 16384;
  std::string variants = argc > 3 ? argv[3] : "b2";
  bool huge = argc > 4 && atoi(argv[4]);
  uint32_t pass = argc > 5 ? atoi(argv[5]) : 4096, pf = argc > 6 ? atoi(argv[6]) : 16;
  int rounds = argc > 7 ? atoi(argv[7]) : 3; uint32_t ahead = argc > 8 ? atoi(argv[8]) : 16;
  bool mis = argc > 9 && atoi(argv[9]); uint32_t* words = alloc<uint32_t>((size_t)N * 8 + 16, huge) + (mis ? 4 : 0);
  for (size_t i = 0; i < (size_t)N * 8; i++) words[i] = rnd();
  uint32_t bits = std::min(24, std::max(12, (int)std::lround(std::log2((double)N)) + 2));
  uint32_t m = (uint32_t)std::lround(256.0 / bits), base = 256 / m, longer = 256 - base * m;
  Tables t; t.words = words; t.size = N; t.chunkCount = m;
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t c = 0, start = 0; c < m; c++) {
    uint32_t len = base + (c < longer ? 1 : 0); t.chunks[c] = {start, len}; start += len;
    uint32_t buckets = 1u << len;
    uint32_t* off = alloc<uint32_t>(buckets + 1, huge);
    for (uint32_t j = 0; j < N; j++) off[chunkValue(words + (size_t)j * 8, t.chunks[c]) + 1]++;
    for (uint32_t b = 0; b < buckets; b++) off[b + 1] += off[b];
    std::vector<uint32_t> fill(off, off + buckets);
    uint32_t* pos = alloc<uint32_t>(N, huge);
    for (uint32_t j = 0; j < N; j++) pos[fill[chunkValue(words + (size_t)j * 8, t.chunks[c])]++] = j;
    t.offsets[c] = off; t.positions[c] = pos;
  }
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<uint32_t> probes((size_t)P * 8);
  for (auto& w : probes) w = rnd();
  for (uint32_t i = 0; i < (P + 99) / 100; i++) { uint32_t j = rnd() % N; for (int w = 0; w < 8; w++) probes[i * 8 + w] = words[(size_t)j * 8 + w] ^ (w == 0 ? 7 : 0); }
  printf("N %u chunks %u x %u bits, build %.1f s, huge %d pass %u prefetch %u\n", N, m, bits, build, huge, pass, pf);
  Scratch s; std::vector<Hit> out; std::vector<uint64_t> cand, sorted; std::vector<uint32_t> pfill;
  SearchOptions o; o.passProbes = pass; o.prefetch = pf; o.sweepAhead = ahead;
  std::vector<std::string> vs; { size_t a = 0; while (a < variants.size()) { size_t b = variants.find(',', a); if (b == std::string::npos) b = variants.size(); vs.push_back(variants.substr(a, b - a)); a = b + 1; } }
  std::vector<double> sum(vs.size(), 0);
  for (int r = 0; r < rounds; r++) {
    for (size_t v = 0; v < vs.size(); v++) {
      std::string spec = vs[v]; std::string name = spec.substr(0, 2);
      SearchOptions o2 = o; unsigned a1 = 0, a2 = 0, a3 = 0, a4 = 0;
      if (sscanf(spec.c_str() + 2, ":%u:%u:%u:%u", &a1, &a2, &a3, &a4) >= 1) { o2.prefetch = a1; o2.sweepAhead = a2; if (a3) o2.passProbes = a3; if (a4) o2.keyBinShift = a4; }
      auto a = std::chrono::steady_clock::now();
      if (name[0] == 'p') { gStop = name[1] - '0'; searchPhase(t, probes.data(), P, 31, o2, s, out); }
      else if (name == "b1") searchB1(t, probes.data(), P, 31, o2, s, out, cand, sorted, pfill);
      else if (name == "t2") {
        static Scratch s2; static std::vector<Hit> out2;
        std::thread th([&] { searchIndexed(t, probes.data() + (size_t)(P / 2) * 8, P - P / 2, 31, o2, s2, out2); });
        searchIndexed(t, probes.data(), P / 2, 31, o2, s, out);
        th.join();
        for (auto h : out2) { h.probe += P / 2; out.push_back(h); }
      }
#if defined(__x86_64__)
      else if (name == "fw") searchPopcntWrapped(t, probes.data(), P, 31, o2, s, out);
#endif
      else searchIndexed(t, probes.data(), P, 31, o2, s, out);
      double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
      uint64_t cs = 0; for (auto& h : out) cs = cs * 31 + h.probe * 7 + h.position + h.distance;
      sum[v] += P / sec;
      printf("  %-16s %8.0f probes/s  hits %zu  checksum %llx\n", spec.c_str(), P / sec, out.size(), (unsigned long long)cs);
    }
  }
  for (size_t v = 0; v < vs.size(); v++) printf("mean %-16s %8.0f  ratio to first %.2f\n", vs[v].c_str(), sum[v] / rounds, sum[v] / sum[0]);
}
