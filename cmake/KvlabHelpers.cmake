include(GoogleTest)

# Compile options shared by every kvlab target.
function(kvlab_target_options target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${KVLAB_WERROR}>>:-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${KVLAB_NATIVE}>>:-march=native>)
  if(KVLAB_CUDA)
    target_compile_definitions(${target} PUBLIC KVLAB_HAVE_CUDA=1)
  endif()
endfunction()

# kvlab_add_library(name SOURCES ... [DEPS ...] [PUBLIC_DEPS ...])
# A static library rooted at the repository (includes are "engine/...").
function(kvlab_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  kvlab_target_options(${name})
endfunction()

# kvlab_add_binary(name SOURCES ... [DEPS ...]): an executable (tool or server).
function(kvlab_add_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  kvlab_target_options(${name})
endfunction()

# kvlab_add_test(name LABEL unit|integration|e2e|gpu SOURCES ... [DEPS ...]
#                [TIMEOUT seconds] [ENVIRONMENT VAR=value ...] [FIXTURES name ...])
# Builds a GoogleTest executable and registers each of its test cases with
# ctest under the given label. Tests see KVLAB_SOURCE_DIR (the repository) and
# KVLAB_TEST_CACHE (a cache directory for downloaded reference data) in their
# environment. A GTEST_SKIP() is reported by ctest as skipped, not passed.
# FIXTURES names ctest fixtures (FIXTURES_SETUP of another test, e.g. a
# reference-data fetch) that every test case requires.
function(kvlab_add_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS;ENVIRONMENT;FIXTURES" ${ARGN})
  if(NOT ARG_LABEL MATCHES "^(unit|integration|e2e|gpu)$")
    message(FATAL_ERROR "kvlab_add_test(${name}): LABEL must be unit, integration, e2e or gpu")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE KVLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  kvlab_target_options(${name})
  if(DEFINED ENV{KVLAB_TEST_CACHE})
    set(cache_dir $ENV{KVLAB_TEST_CACHE})
  else()
    set(cache_dir ${PROJECT_BINARY_DIR}/test-cache)
  endif()
  # gtest_discover_tests forwards PROPERTIES as one flat list, so a
  # ;-separated ENVIRONMENT value would keep only its first entry: give each
  # variable its own single-valued property.
  set(env_props ENVIRONMENT "KVLAB_TEST_CACHE=${cache_dir}"
                ENVIRONMENT_MODIFICATION "KVLAB_SOURCE_DIR=set:${PROJECT_SOURCE_DIR}")
  if(ARG_ENVIRONMENT)
    message(FATAL_ERROR "kvlab_add_test(${name}): extra ENVIRONMENT entries would be lost by "
                        "gtest_discover_tests; use a ctest fixture or read a file instead")
  endif()
  set(fixture_props "")
  if(ARG_FIXTURES)
    set(fixture_props FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES
      ${fixture_props}
      LABELS ${ARG_LABEL}
      TIMEOUT ${ARG_TIMEOUT}
      SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
      ${env_props})
endfunction()
