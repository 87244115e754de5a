# Shared by tests/CMakeLists.txt and tests/engine_only/CMakeLists.txt: the test data folder, the
# fixture preparation step and the function that defines a test suite.
set(PARAPET_TESTS_DIR "${PROJECT_SOURCE_DIR}/tests")

# Where test fixtures are decompressed/copied (../shared is read-only).
set(PARAPET_TEST_DATA_DIR "${CMAKE_BINARY_DIR}/testdata")
file(MAKE_DIRECTORY ${PARAPET_TEST_DATA_DIR})

# parapet_test_suite(name dir [LABEL label] libs...): one GoogleTest binary from
# tests/<dir>/*_test.cc and *_util.cc.
function(parapet_test_suite name dir)
  cmake_parse_arguments(ARG "" "LABEL" "" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PARAPET_TESTS_DIR}/${dir}/*_test.cc
       ${PARAPET_TESTS_DIR}/${dir}/*_util.cc)
  add_executable(${name} ${srcs})
  target_link_libraries(${name} PRIVATE ${ARG_UNPARSED_ARGUMENTS} GTest::gtest GTest::gtest_main
                                        GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${name} PRIVATE
    PARAPET_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PARAPET_SHARED_DIR="${PARAPET_SHARED_DIR}"
    PARAPET_TEST_DATA_DIR="${PARAPET_TEST_DATA_DIR}"
    PARAPET_BINARY_DIR="${CMAKE_BINARY_DIR}")
  parapet_warnings(${name})
  set(props FIXTURES_REQUIRED engine_fixtures TIMEOUT 600)
  if(ARG_LABEL)
    list(APPEND props LABELS ${ARG_LABEL})
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES ${props})
endfunction()

# Decompresses the engine fixtures from ../shared into the build tree once (skips, with a
# message, when ../shared is absent; the tests that need them then skip too).
add_test(NAME prepare_engine_fixtures
         COMMAND ${PARAPET_TESTS_DIR}/prepare_fixtures.sh ${PARAPET_SHARED_DIR}
                 ${PARAPET_TEST_DATA_DIR})
set_tests_properties(prepare_engine_fixtures PROPERTIES FIXTURES_SETUP engine_fixtures)

# The CUDA backend's suites: host-side logic (no device needed) and, when the backend is built,
# the GPU parity tests (CTest label `gpu`; GTEST_SKIP without a usable device).
function(parapet_cuda_test_suites)
  parapet_test_suite(parapet_cuda_host_tests engine/cuda parapet_engine)
  if(PARAPET_HAVE_CUDA)
    parapet_test_suite(parapet_gpu_tests engine/cuda/gpu LABEL gpu parapet_engine)
    target_sources(parapet_gpu_tests PRIVATE ${PARAPET_TESTS_DIR}/engine/test_data_util.cc)
  endif()
endfunction()
