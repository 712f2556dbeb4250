# Our own code builds with warnings as errors. Generated and third-party code is included as
# SYSTEM so that its warnings do not fail the build.
add_library(fastgpu_warnings INTERFACE)
if(FASTGPU_FUZZ)
  # The fuzz build (clang) reports warnings without failing: the GCC build is the gate.
  target_compile_options(fastgpu_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wno-missing-field-initializers>)
else()
  target_compile_options(fastgpu_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-missing-field-initializers>)
endif()

# Driver libraries (libcuda.so.1) live inside someone else's process: they hide every symbol but
# the driver API (a version script) and bind their own symbols locally (-Bsymbolic), so that the
# addresses cuGetProcAddress hands out are always our own functions.
function(fastgpu_driver_library target)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME cuda
    SOVERSION 1
    VERSION 1
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE
    -Wl,-Bsymbolic -Wl,--no-undefined
    -Wl,--version-script=${PROJECT_SOURCE_DIR}/cudaabi/driver_exports.map)
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS
    ${PROJECT_SOURCE_DIR}/cudaabi/driver_exports.map)
endfunction()
