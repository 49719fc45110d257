{
  "targets": [
    {
      "target_name": "arachnid_decode",
      "sources": ["decode.cc"],
      "include_dirs": [
        "<!(node -p \"process.env.ARACHNID_VIPS_INCLUDE\")",
        "<!(node -p \"process.env.ARACHNID_VIPS_INCLUDE\")/glib-2.0",
        "<!(node -p \"process.env.ARACHNID_VIPS_LIB\")/glib-2.0/include"
      ],
      "libraries": ["<!(node -p \"process.env.ARACHNID_VIPS_LIBRARY\")", "-Wl,-rpath,<!(node -p \"process.env.ARACHNID_VIPS_LIB\")"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
