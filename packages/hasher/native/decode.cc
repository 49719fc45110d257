// N-API glue of the optional native decode of plain JPEG, PNG and WebP images, loaded by
// src/native-decode.ts when it was built.
//
//   decode(bytes: Uint8Array, out: Uint8Array, width, height, 'jpeg' | 'png' | 'webp') -> Promise<0 | 1>
//
// libvips decodes `bytes` (fail on errors, as the sharp pipeline in decode-image.ts asks) into
// `out`, on libuv's pool, in the calling thread: the same libvips (the one sharp loaded), the same
// codecs, the same pixels as sharp's raw output. What it leaves out (all hashes of a 1024x768 JPEG
// took 9.3-11.8 ms of CPU through sharp on this project's VM, 6.3-7.1 with this path): sharp's set-up,
// libvips' worker hand-offs (about 90 context switches per image), a fresh output buffer per image
// (`out` comes from a pool, so no page faults), and the sequential loader's line cache, which
// allocated and zeroed strips three times over (7 MB per such image): with random access the
// loader decodes once into one buffer that the allocator reuses, and `out` gets one copy of it.
//
// Resolves 0 when `out` holds the pixels, 1 when the image is not the plain case this path takes
// (not 3-band 8-bit sRGB, an EXIF orientation other than 1, another size than the frame
// header's): the caller then uses sharp. Rejects with libvips' message when the data does not
// decode; the caller then asks sharp, so a bad input gets the error it always got.
#define NAPI_VERSION 8
#include <node_api.h>
#include <vips/vips.h>

#include <cstdint>
#include <string>

namespace {

struct Job {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref bytesRef = nullptr;
  napi_ref outRef = nullptr;
  const uint8_t* bytes = nullptr;
  size_t length = 0;
  uint8_t* out = nullptr;
  size_t outLength = 0;
  int width = 0;
  int height = 0;
  const char* loader = nullptr;  // loaderFor's answer
  int status = -1;  // 0 decoded, 1 not the plain case, -1 failed (error holds why)
  std::string error;
};

// Builds the loader outside libvips' operation cache, which would keep the image, and with it a
// pointer into `bytes`, after JavaScript has let them go.
VipsImage* load(Job* job) {
  VipsOperation* op = vips_operation_new(job->loader);
  if (op == nullptr) return nullptr;
  VipsBlob* blob = vips_blob_new(nullptr, job->bytes, job->length);
  g_object_set(op, "buffer", blob, "access", VIPS_ACCESS_RANDOM, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  vips_area_unref(VIPS_AREA(blob));
  VipsImage* image = nullptr;
  if (vips_object_build(VIPS_OBJECT(op)) == 0) g_object_get(op, "out", &image, nullptr);
  vips_object_unref_outputs(VIPS_OBJECT(op));
  g_object_unref(op);
  return image;
}

void execute(napi_env, void* data) {
  Job* job = static_cast<Job*>(data);
  VipsImage* image = load(job);
  if (image == nullptr) {
    // libvips' error text is one buffer for the whole process; sharp reads and clears it the same
    // way from its own threads. The text only tells the caller to let sharp decode (and report).
    job->error = vips_error_buffer();
    vips_error_clear();
    return;
  }
  if (image->Bands != 3 || image->BandFmt != VIPS_FORMAT_UCHAR || image->Type != VIPS_INTERPRETATION_sRGB ||
      vips_image_get_orientation(image) != 1 || image->Xsize != job->width || image->Ysize != job->height ||
      job->outLength < static_cast<size_t>(job->width) * job->height * 3) {
    job->status = 1;
    g_object_unref(image);
    return;
  }
  VipsImage* target = vips_image_new_from_memory(job->out, static_cast<size_t>(job->width) * job->height * 3,
                                                 job->width, job->height, 3, VIPS_FORMAT_UCHAR);
  VipsRegion* source = vips_region_new(image);
  VipsRegion* dest = target != nullptr ? vips_region_new(target) : nullptr;
  VipsRect all = {0, 0, job->width, job->height};
  if (source != nullptr && dest != nullptr && vips_region_image(dest, &all) == 0 &&
      vips_region_prepare_to(source, dest, &all, 0, 0) == 0) {
    job->status = 0;
  } else {
    job->error = vips_error_buffer();
    vips_error_clear();
  }
  if (dest != nullptr) g_object_unref(dest);
  if (source != nullptr) g_object_unref(source);
  if (target != nullptr) g_object_unref(target);
  g_object_unref(image);
}

void complete(napi_env env, napi_status, void* data) {
  Job* job = static_cast<Job*>(data);
  if (job->status >= 0) {
    napi_value result;
    napi_create_int32(env, job->status, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value message, error;
    const std::string text = job->error.empty() ? "decode failed" : job->error;
    napi_create_string_utf8(env, text.c_str(), text.size(), &message);
    napi_create_error(env, nullptr, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_reference(env, job->bytesRef);
  napi_delete_reference(env, job->outRef);
  napi_delete_async_work(env, job->work);
  delete job;
}

// The loaders this path may run, by the format names sharp reports.
const char* loaderFor(const std::string& format) {
  if (format == "jpeg") return "jpegload_buffer";
  if (format == "png") return "pngload_buffer";
  if (format == "webp") return "webpload_buffer";
  return nullptr;
}

bool bytesOf(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  bool is = false;
  napi_is_typedarray(env, value, &is);
  if (!is) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<uint8_t*>(raw);
  return true;
}

napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Job* job = new Job();
  uint8_t* bytes = nullptr;
  int32_t width = 0, height = 0;
  char format[16] = {0};
  size_t formatLength = 0;
  if (argc < 5 || !bytesOf(env, argv[0], &bytes, &job->length) || !bytesOf(env, argv[1], &job->out, &job->outLength) ||
      napi_get_value_int32(env, argv[2], &width) != napi_ok || napi_get_value_int32(env, argv[3], &height) != napi_ok ||
      width <= 0 || height <= 0 ||
      napi_get_value_string_utf8(env, argv[4], format, sizeof(format), &formatLength) != napi_ok ||
      (job->loader = loaderFor(format)) == nullptr) {
    delete job;
    napi_throw_type_error(env, nullptr, "decode(bytes: Uint8Array, out: Uint8Array, width: number, height: number, format: 'jpeg' | 'png' | 'webp')");
    return nullptr;
  }
  job->bytes = bytes;
  job->width = width;
  job->height = height;
  // Both arrays stay referenced until the work completes, so their memory outlives the decode.
  napi_create_reference(env, argv[0], 1, &job->bytesRef);
  napi_create_reference(env, argv[1], 1, &job->outRef);
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "arachnid.decode", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

napi_value vipsVersion(napi_env env, napi_callback_info) {
  napi_value result;
  const char* version = vips_version_string();
  napi_create_string_utf8(env, version, NAPI_AUTO_LENGTH, &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  // sharp has initialised libvips already (it is imported first); this is a no-op then.
  if (VIPS_INIT("arachnid")) return nullptr;
  napi_property_descriptor properties[] = {
      {"decode", nullptr, decode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"vipsVersion", nullptr, vipsVersion, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}
