# tierwise_proto_library(<name> ROOT <dir> PROTOS <file>... [GRPC] [DEPS <target>...])
#
# Compiles .proto files (paths relative to ROOT) into a static library <name>. With GRPC, the
# gRPC C++ stubs are generated too. Generated headers land under ${TIERWISE_GEN_DIR} and are
# included by their proto path, e.g. "tierwise/profile/v1/profile.grpc.pb.h".
set(TIERWISE_GEN_DIR "${CMAKE_BINARY_DIR}/gen")
file(MAKE_DIRECTORY "${TIERWISE_GEN_DIR}")

find_program(TIERWISE_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(tierwise_proto_library name)
  cmake_parse_arguments(ARG "GRPC" "ROOT" "PROTOS;DEPS;IMPORT_DIRS" ${ARGN})
  set(srcs)
  set(hdrs)
  set(import_flags "-I${ARG_ROOT}")
  foreach(dir ${ARG_IMPORT_DIRS})
    list(APPEND import_flags "-I${dir}")
  endforeach()
  foreach(proto ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" base "${proto}")
    set(out_srcs "${TIERWISE_GEN_DIR}/${base}.pb.cc")
    set(out_hdrs "${TIERWISE_GEN_DIR}/${base}.pb.h")
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND out_srcs "${TIERWISE_GEN_DIR}/${base}.grpc.pb.cc")
      list(APPEND out_hdrs "${TIERWISE_GEN_DIR}/${base}.grpc.pb.h")
      set(plugin_args "--grpc_out=${TIERWISE_GEN_DIR}"
                      "--plugin=protoc-gen-grpc=${TIERWISE_GRPC_CPP_PLUGIN}")
    endif()
    add_custom_command(
      OUTPUT ${out_srcs} ${out_hdrs}
      COMMAND protobuf::protoc ${import_flags} "--cpp_out=${TIERWISE_GEN_DIR}" ${plugin_args}
              "${ARG_ROOT}/${proto}"
      DEPENDS "${ARG_ROOT}/${proto}" protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${out_srcs})
    list(APPEND hdrs ${out_hdrs})
  endforeach()
  add_library(${name} STATIC ${srcs} ${hdrs})
  target_include_directories(${name} SYSTEM PUBLIC "${TIERWISE_GEN_DIR}")
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
  endif()
  # Generated code is not ours to warn about.
  target_compile_options(${name} PRIVATE -w)
endfunction()
