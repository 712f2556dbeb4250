# Debian's cpp-httplib: a compiled library (built with OpenSSL) without a CMake package. Every
# user must see the header as the library was built, with CPPHTTPLIB_OPENSSL_SUPPORT, or the
# classes' layouts differ; the target fastgpu_httplib carries that.
find_package(OpenSSL REQUIRED)
find_library(FASTGPU_HTTPLIB_LIBRARY cpp-httplib REQUIRED)
add_library(fastgpu_httplib INTERFACE)
target_compile_definitions(fastgpu_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
target_link_libraries(fastgpu_httplib INTERFACE ${FASTGPU_HTTPLIB_LIBRARY} OpenSSL::SSL OpenSSL::Crypto)
