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
