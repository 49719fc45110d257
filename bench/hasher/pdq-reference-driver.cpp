// Feeds raw RGB pixels to the C++ PDQ reference's own hashing functions (facebook/ThreatExchange
// pdq/cpp, not copied here: built against a checkout of it, see bench/hasher/README.md).
// Reads records [u32 width][u32 height][width*height*3 RGB bytes] (little-endian) from stdin and
// prints "hash quality" then the 7 other dihedral hashes, one line per record.
//   argv[1] == "resize512": first shrink as pdq-photo-hasher does (CImg resize to 512x512, nearest
//                            neighbour, when a side exceeds 512); needs -DWITH_CIMG.
//   argv[1] == "dump":      print the 64x64 buffer and the 16x16 DCT instead, for debugging.
#include <pdq/cpp/downscaling/downscaling.h>
#include <pdq/cpp/hashing/pdqhashing.h>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>
#ifdef WITH_CIMG
#define cimg_display 0
#include "CImg.h"
#endif
using namespace facebook::pdq;
int main(int argc, char** argv) {
  bool resize = argc > 1 && strcmp(argv[1], "resize512") == 0;
  bool dump = argc > 1 && strcmp(argv[1], "dump") == 0;
  uint32_t hdr[2];
  while (fread(hdr, 4, 2, stdin) == 2) {
    int w = hdr[0], h = hdr[1];
    std::vector<uint8_t> px((size_t)w * h * 3);
    if (fread(px.data(), 1, px.size(), stdin) != px.size()) return 2;
#ifdef WITH_CIMG
    if (resize && (w > 512 || h > 512)) {
      cimg_library::CImg<uint8_t> img(w, h, 1, 3);
      for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) img(x, y, 0, c) = px[((size_t)y * w + x) * 3 + c];
      img.resize(512, 512);
      w = img.width(); h = img.height();
      px.assign((size_t)w * h * 3, 0);
      for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) px[((size_t)y * w + x) * 3 + c] = img(x, y, 0, c);
    }
#else
    (void)resize;
#endif
    std::vector<float> b1((size_t)w * h), b2((size_t)w * h);
    downscaling::fillFloatLumaFromRGB(&px[0], &px[1], &px[2], h, w, w * 3, 3, b1.data());
    static float b64[64][64], b16x64[16][64], b16[16][16], aux[16][16];
    hashing::Hash256 hh[8];
    int quality = 0;
    if (dump) {
      // 64x64 buffer and 16x16 DCT, for debugging: same path as pdqHash256FromFloatLuma
      hashing::pdqFloat256FromFloatLuma(b1.data(), b2.data(), h, w, b64, b16x64, b16, quality);
      for (int i = 0; i < 64; i++) for (int j = 0; j < 64; j++) printf("%.9g%c", b64[i][j], j == 63 ? '\n' : ' ');
      for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) printf("%.9g%c", b16[i][j], j == 15 ? '\n' : ' ');
      continue;
    }
    std::vector<float> c1 = b1, c2 = b2;
    hashing::pdqHash256FromFloatLuma(b1.data(), b2.data(), h, w, b64, b16x64, b16, hh[0], quality);
    int q2 = 0;
    hashing::Hash256 d[8];
    hashing::pdqDihedralHash256esFromFloatLuma(c1.data(), c2.data(), h, w, b64, b16x64, b16, aux, &d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6], &d[7], q2);
    printf("%s %d", hh[0].format().c_str(), quality);
    for (int k = 1; k < 8; k++) printf(" %s", d[k].format().c_str());
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
