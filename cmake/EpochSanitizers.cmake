# EPOCH_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer on everything
# built here. EPOCH_TSAN: ThreadSanitizer on everything built here (not with
# EPOCH_SANITIZE). EPOCH_FUZZ: libFuzzer (clang) instrumentation for fuzz
# targets, with ASan + UBSan.
if(EPOCH_TSAN)
  if(EPOCH_SANITIZE OR EPOCH_FUZZ)
    message(FATAL_ERROR "EPOCH_TSAN cannot be combined with EPOCH_SANITIZE or EPOCH_FUZZ")
  endif()
  add_compile_options(-fsanitize=thread)
  # Asio's fences are fine; TSan only cannot see them (gcc warns at each).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
  add_link_options(-fsanitize=thread)
endif()
if(EPOCH_SANITIZE OR EPOCH_FUZZ)
  set(_epoch_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_compile_options(${_epoch_san})
  add_link_options(${_epoch_san})
endif()
if(EPOCH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "EPOCH_FUZZ needs clang: configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage instrumentation for the library; the fuzz executables add the
  # libFuzzer main with -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
