# Finds every third-party dependency once and exposes it as an imported target.
# All of them come from Debian packages installed by tools/setup.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)

pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)

# OpenBLAS provides the CPU backend's GEMMs (cblas interface).
find_path(KVLAB_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas openblas-pthread
          PATHS /usr/include/x86_64-linux-gnu /usr/include)
find_library(KVLAB_OPENBLAS_LIB NAMES openblas REQUIRED)
add_library(kvlab_blas INTERFACE)
target_include_directories(kvlab_blas INTERFACE ${KVLAB_CBLAS_INCLUDE})
target_link_libraries(kvlab_blas INTERFACE ${KVLAB_OPENBLAS_LIB})

# Protocol Buffers and gRPC (the services' API).
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

# hiredis: the kvstore's Redis tier (Debian libhiredis-dev).
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
