# Driver libraries (libcuda.so.1) live inside someone else's process: they export the driver
# functions they implement and nothing else (a version script written from their own objects just
# before the link, tools/codegen/gen_export_map.py; DESIGN.md decision 15), and bind their own
# symbols locally (-Bsymbolic), so that the addresses cuGetProcAddress hands out are always our
# own functions.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
# Libraries a program may load in another version of its own are linked into the driver libraries
# from their static archives (Debian's are position-independent), hidden by the version script:
# OpenSSL, zstd, lz4. --as-needed then drops the shared copies the static libraries they are
# linked with ask for. capnp/kj, fmt and spdlog stay shared: Debian ships no usable archive.
foreach(_archive ssl crypto zstd lz4)
  find_library(FASTGPU_${_archive}_ARCHIVE NAMES lib${_archive}.a REQUIRED)
endforeach()
function(fastgpu_driver_library target)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME cuda
    SOVERSION 1
    VERSION 1
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  set(_map ${CMAKE_CURRENT_BINARY_DIR}/${target}_exports.map)
  add_custom_command(TARGET ${target} PRE_LINK
    COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tools/codegen/gen_export_map.py
            --driver-api ${FASTGPU_GENERATED_DIR}/cudaabi/driver_api.inc --nm ${CMAKE_NM} --out ${_map}
            "$<TARGET_OBJECTS:${target}>"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  target_link_options(${target} PRIVATE -Wl,-Bsymbolic -Wl,--no-undefined -Wl,--as-needed -Wl,--version-script=${_map})
  target_link_libraries(${target} PRIVATE ${FASTGPU_ssl_ARCHIVE} ${FASTGPU_crypto_ARCHIVE} ${FASTGPU_zstd_ARCHIVE}
                                          ${FASTGPU_lz4_ARCHIVE})
endfunction()
