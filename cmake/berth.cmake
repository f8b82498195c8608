# Shared build helpers: warning flags for our own targets, one library per folder, one test
# binary per folder.
add_library(berth_warnings INTERFACE)
target_compile_options(berth_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor $<$<BOOL:${BERTH_WERROR}>:-Werror>)

# berth_library(berth_metadata SRCS a.cc b.cc DEPS berth_base SQLite::SQLite3)
function(berth_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE berth_warnings)
endfunction()

# berth_binary(berthd SRCS main.cc DEPS berth_daemon)
function(berth_binary name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} berth_warnings)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# berth_test(metadata_test LABEL unit SRCS a_test.cc DEPS berth_metadata)
# Labels: unit (no root, seconds), root (kernel edges), integration (whole daemons).
function(berth_test name)
  cmake_parse_arguments(A "" "LABEL" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} berth_testing GTest::gmock_main berth_warnings)
  gtest_discover_tests(${name} PROPERTIES LABELS ${A_LABEL} DISCOVERY_TIMEOUT 60)
endfunction()
