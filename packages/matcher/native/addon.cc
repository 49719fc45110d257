// N-API glue of the native Hamming search kernel (hamming-kernel.h), loaded by
// src/native/index.ts when it was built (optional: the TypeScript search gives the same results).
//
//   search(words, offsets[], positions[], chunks, probes, count, threshold)
//     -> [probes: Uint32Array, positions: Uint32Array, distances: Uint16Array]
//   adviseHugePages(typedArray) -> boolean
//   popcount() -> 'popcnt' | 'portable'
#define NAPI_VERSION 8
#include <node_api.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "hamming-kernel.h"

namespace {

// One search at a time per thread (the main thread and each worker thread have their own).
thread_local arachnid::Scratch scratch;
thread_local std::vector<arachnid::Hit> hits;

using SearchFn = void (*)(const arachnid::Tables&, const uint32_t*, uint32_t, int, const arachnid::SearchOptions&,
                          arachnid::Scratch&, std::vector<arachnid::Hit>&);

__attribute__((flatten)) void searchPortable(const arachnid::Tables& t, const uint32_t* probes, uint32_t count,
                                             int threshold, const arachnid::SearchOptions& o, arachnid::Scratch& s,
                                             std::vector<arachnid::Hit>& out) {
  arachnid::searchIndexed(t, probes, count, threshold, o, s, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same code with the POPCNT instruction (x86-64-v2, 2008 on), chosen at run time: without it a
// popcount is a dozen instructions and the search measured 1.6x slower.
__attribute__((flatten, target("popcnt"))) void searchPopcnt(const arachnid::Tables& t, const uint32_t* probes,
                                                              uint32_t count, int threshold,
                                                              const arachnid::SearchOptions& o, arachnid::Scratch& s,
                                                              std::vector<arachnid::Hit>& out) {
  arachnid::searchIndexed(t, probes, count, threshold, o, s, out);
}
#endif

SearchFn chooseSearch() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("popcnt")) return searchPopcnt;
#endif
  return searchPortable;
}

const SearchFn kSearch = chooseSearch();

napi_value throwType(napi_env env, const std::string& message) {
  napi_throw_type_error(env, nullptr, message.c_str());
  return nullptr;
}

// A Uint32Array's elements and length, or false.
bool uint32Array(napi_env env, napi_value value, const uint32_t** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint32_array) return false;
  *data = static_cast<const uint32_t*>(raw);
  return true;
}

bool uint32Value(napi_env env, napi_value value, uint32_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_number) return false;
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool arrayElement(napi_env env, napi_value array, uint32_t i, const uint32_t** data, size_t* length) {
  napi_value element;
  if (napi_get_element(env, array, i, &element) != napi_ok) return false;
  return uint32Array(env, element, data, length);
}

napi_value typedArray(napi_env env, napi_typedarray_type type, size_t elementBytes, size_t length, void** data) {
  napi_value buffer, array;
  if (napi_create_arraybuffer(env, length * elementBytes, data, &buffer) != napi_ok) return nullptr;
  if (napi_create_typedarray(env, type, length, buffer, 0, &array) != napi_ok) return nullptr;
  return array;
}

// The shapes of the tables are checked (array types, lengths, chunk bounds, the last bucket end);
// their contents (bucket starts non-decreasing, positions below the entry count) are trusted: they
// come from HammingIndex.build, and checking them would read the whole index on every call.
napi_value Search(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 7)
    return throwType(env, "search(words, offsets, positions, chunks, probes, count, threshold)");
  arachnid::Tables t;
  size_t wordCount = 0;
  if (!uint32Array(env, argv[0], &t.words, &wordCount) || wordCount % 8 != 0 || wordCount / 8 > 0xffffffffu)
    return throwType(env, "words: a Uint32Array of 8 words per entry");
  t.size = static_cast<uint32_t>(wordCount / 8);
  const uint32_t* chunks = nullptr;
  size_t chunkWords = 0;
  if (!uint32Array(env, argv[3], &chunks, &chunkWords) || chunkWords % 2 != 0 || chunkWords / 2 > arachnid::kMaxChunks)
    return throwType(env, "chunks: a Uint32Array of (start, bits) pairs");
  t.chunkCount = static_cast<uint32_t>(chunkWords / 2);
  uint32_t offsetArrays = 0, positionArrays = 0;
  bool isArray = false;
  if (napi_is_array(env, argv[1], &isArray) != napi_ok || !isArray ||
      napi_get_array_length(env, argv[1], &offsetArrays) != napi_ok || offsetArrays != t.chunkCount)
    return throwType(env, "offsets: one Uint32Array per chunk");
  if (napi_is_array(env, argv[2], &isArray) != napi_ok || !isArray ||
      napi_get_array_length(env, argv[2], &positionArrays) != napi_ok || positionArrays != t.chunkCount)
    return throwType(env, "positions: one Uint32Array per chunk");
  for (uint32_t c = 0; c < t.chunkCount; c++) {
    const uint32_t start = chunks[2 * c], bits = chunks[2 * c + 1];
    if (bits == 0 || bits > 24 || start + bits > 256) return throwType(env, "chunks: at most 24 bits each, within 256");
    t.chunks[c] = arachnid::Chunk{start, bits};
    size_t length = 0;
    if (!arrayElement(env, argv[1], c, &t.offsets[c], &length) || length != (size_t{1} << bits) + 1)
      return throwType(env, "offsets: 2^bits + 1 bucket starts per chunk");
    if (t.offsets[c][length - 1] != t.size) return throwType(env, "offsets: the last bucket must end at the entry count");
    if (!arrayElement(env, argv[2], c, &t.positions[c], &length) || length != t.size)
      return throwType(env, "positions: one per entry per chunk");
  }
  const uint32_t* probes = nullptr;
  size_t probeWords = 0;
  uint32_t count = 0, threshold = 0;
  if (!uint32Array(env, argv[4], &probes, &probeWords)) return throwType(env, "probes: a Uint32Array");
  if (!uint32Value(env, argv[5], &count) || static_cast<size_t>(count) * 8 > probeWords)
    return throwType(env, "count: at most probes.length / 8");
  if (!uint32Value(env, argv[6], &threshold) || threshold > 256) return throwType(env, "threshold: an integer 0..256");

  arachnid::SearchOptions options;
  try {
    kSearch(t, probes, count, static_cast<int>(threshold), options, scratch, hits);
  } catch (const std::exception& e) {
    scratch = arachnid::Scratch();
    std::vector<arachnid::Hit>().swap(hits);
    napi_throw_error(env, nullptr, (std::string("native Hamming search failed: ") + e.what()).c_str());
    return nullptr;
  }

  void* probeData = nullptr;
  void* positionData = nullptr;
  void* distanceData = nullptr;
  napi_value outProbes = typedArray(env, napi_uint32_array, 4, hits.size(), &probeData);
  napi_value outPositions = typedArray(env, napi_uint32_array, 4, hits.size(), &positionData);
  napi_value outDistances = typedArray(env, napi_uint16_array, 2, hits.size(), &distanceData);
  if (outProbes == nullptr || outPositions == nullptr || outDistances == nullptr) return nullptr;
  auto* p = static_cast<uint32_t*>(probeData);
  auto* q = static_cast<uint32_t*>(positionData);
  auto* d = static_cast<uint16_t*>(distanceData);
  for (size_t x = 0; x < hits.size(); x++) {
    p[x] = hits[x].probe;
    q[x] = hits[x].position;
    d[x] = static_cast<uint16_t>(hits[x].distance);
  }
  if (hits.capacity() > (size_t{1} << 20)) std::vector<arachnid::Hit>().swap(hits);
  napi_value result;
  if (napi_create_array_with_length(env, 3, &result) != napi_ok) return nullptr;
  napi_set_element(env, result, 0, outProbes);
  napi_set_element(env, result, 1, outPositions);
  napi_set_element(env, result, 2, outDistances);
  return result;
}

// Asks the kernel for transparent huge pages on the typed array's memory (THP "madvise" mode):
// random reads over a 1 GiB index miss the TLB on nearly every access with 4 KiB pages. Best
// called right after allocation, before the pages are touched. Returns whether the kernel agreed.
napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is = false;
  bool ok = false;
  if (argc == 1 && napi_is_typedarray(env, argv[0], &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t byteOffset = 0;
    if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &byteOffset) == napi_ok && data != nullptr) {
      size_t elementBytes = 1;
      switch (type) {
        case napi_int16_array: case napi_uint16_array: elementBytes = 2; break;
        case napi_int32_array: case napi_uint32_array: case napi_float32_array: elementBytes = 4; break;
        case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elementBytes = 8; break;
        default: break;
      }
#ifdef MADV_HUGEPAGE
      const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
      const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
      const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + length * elementBytes) & ~(page - 1);
      if (end > begin) ok = madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0;
#endif
    }
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

napi_value Popcount(napi_env env, napi_callback_info) {
  napi_value result;
  const char* name = kSearch == searchPortable ? "portable" : "popcnt";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"search", nullptr, Search, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"adviseHugePages", nullptr, AdviseHugePages, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"popcount", nullptr, Popcount, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}
