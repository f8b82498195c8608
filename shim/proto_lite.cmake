# berth-shim's own generation of the protos it uses, with optimize_for = LITE_RUNTIME: the
# same messages and wire as proto/ (berthd keeps the full runtime), but the shim links only
# libprotobuf-lite. The copies live in the build tree; the well-known types come from
# protobuf's include dir, generated lite too, since libprotobuf-lite carries none of them.
set(SHIM_LITE_SRC ${CMAKE_CURRENT_BINARY_DIR}/lite_proto)
set(SHIM_LITE_OUT ${CMAKE_CURRENT_BINARY_DIR}/lite_gen)
set(SHIM_LITE_PROTOS
  berth/shim/v1/shim.proto
  containerd/types/mount.proto
  containerd/types/task/task.proto
  containerd/events/task.proto
  containerd/cgroups/v1/metrics.proto
  containerd/cgroups/v2/metrics.proto
  containerd/runc/options/oci.proto
  google/protobuf/any.proto
  google/protobuf/empty.proto
  google/protobuf/timestamp.proto)
set(SHIM_LITE_FILES)
foreach(p ${SHIM_LITE_PROTOS})
  if(p MATCHES "^google/")
    set(src ${Protobuf_INCLUDE_DIRS}/${p})
  else()
    set(src ${PROJECT_SOURCE_DIR}/proto/${p})
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
  file(READ ${src} text)
  string(APPEND text "\noption optimize_for = LITE_RUNTIME;\n")
  file(WRITE ${SHIM_LITE_SRC}/${p}.tmp "${text}")
  configure_file(${SHIM_LITE_SRC}/${p}.tmp ${SHIM_LITE_SRC}/${p} COPYONLY)  # only if changed
  list(APPEND SHIM_LITE_FILES ${SHIM_LITE_SRC}/${p})
  string(REGEX REPLACE "\\.proto$" "" stem ${p})
  list(APPEND SHIM_LITE_OUTPUTS ${SHIM_LITE_OUT}/${stem}.pb.cc ${SHIM_LITE_OUT}/${stem}.pb.h)
endforeach()
file(MAKE_DIRECTORY ${SHIM_LITE_OUT})
# protoc directly: CMake 3.25's protobuf_generate wants the .proto files in the source tree.
add_custom_command(OUTPUT ${SHIM_LITE_OUTPUTS}
  COMMAND protobuf::protoc --cpp_out=${SHIM_LITE_OUT} -I${SHIM_LITE_SRC} ${SHIM_LITE_FILES}
  DEPENDS ${SHIM_LITE_FILES} protobuf::protoc
  COMMENT "protoc (lite) for berth-shim" VERBATIM)

add_library(berth_shim_proto STATIC ${SHIM_LITE_OUTPUTS})
target_include_directories(berth_shim_proto SYSTEM BEFORE PUBLIC ${SHIM_LITE_OUT})
target_link_libraries(berth_shim_proto PUBLIC protobuf::libprotobuf-lite)
