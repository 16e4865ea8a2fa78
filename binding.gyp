{
  "targets": [
    {
      "target_name": "ultra_performance",
      "sources": [
        "cpp/napi/addon.cc",
        "cpp/napi/system.cc",
        "cpp/napi/queue.cc",
        "cpp/napi/memory.cc",
        "cpp/napi/orderbook.cc",
        "cpp/napi/risk.cc",
        "cpp/napi/itch.cc",
        "cpp/napi/udp_receiver.cc",
        "cpp/net/udp_receiver.cc",
        "cpp/napi/net_struct.cc",
        "cpp/napi/monitor.cc",
        "cpp/napi/cache.cc",
        "cpp/memory/buddy.cc", "cpp/memory/layout.cc", "cpp/memory/ring.cc", "cpp/memory/slab.cc", "cpp/memory/stack.cc",
        "cpp/risk/cholesky.cc", "cpp/risk/gram.cc", "cpp/risk/matrix.cc", "cpp/risk/montecarlo.cc", "cpp/risk/parallel.cc", "cpp/risk/philox.cc", "cpp/risk/simd.cc", "cpp/risk/var.cc",
        "cpp/queue/replay.cc",
        "cpp/orderbook/l2_book.cc", "cpp/orderbook/matching_engine.cc", "cpp/orderbook/mbo_book.cc",
        "cpp/system/affinity.cc",
        "cpp/system/cpu_info.cc",
        "cpp/net/itch_batch.cc",
        "cpp/net/struct_codec.cc",
        "cpp/system/nvml.cc"
      ],
      "conditions": [["OS=='linux'", { "libraries": ["-ldl"] }]],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "cflags_cc": ["-std=c++20", "-O3", "-ffp-contract=off", "-fexceptions", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++20"] }
      }
    }
  ]
}
